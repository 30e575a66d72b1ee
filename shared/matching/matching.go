// Package matching holds the pure rules of e-mail posting: which of a
// message's addresses to look up in the CRM, and, once the CRM has
// answered, where the message goes and with which status label. It reads
// no clock, network or store; the mailbox engine feeds it and acts on what
// it decides.
//
// The rules, from the product description ("Automatic E-mail Posting
// Options" and "E-mail Posting"):
//   - Outgoing mail (sent by the user) compares the chosen headers among
//     From, To, Cc and Bcc; incoming mail the chosen among From, To and Cc.
//     Addresses compare case-insensitively and exactly.
//   - The user's own address never matches as a contact.
//   - "Do not post internal e-mail": incoming mail from the firm's own
//     domains, and outgoing mail whose recipients are all in them, is not
//     posted: Failed, with the reason.
//   - Attachments go with the note unless "Include e-mail attachments" is
//     off; when they are included, one over the firm's size limit fails the
//     message.
//   - No matching contact: posted to the user's own contact record with
//     "Post unmatched e-mails to my contact record", else Unmatched.
//   - A message the user received as Bcc (their address in none of From,
//     To, Cc) goes only to the user's own record, with that option, so the
//     To and Cc recipients never learn of the Bcc; without it, Unmatched.
//   - Office security is the CRM's: lookups run as the user, so only
//     contacts the user may access come back.
package matching

import (
	"fmt"
	"slices"
	"strings"
)

// Header names a message header the user's options can select.
type Header string

// The headers matching can compare.
const (
	From Header = "From"
	To   Header = "To"
	Cc   Header = "Cc"
	Bcc  Header = "Bcc"
)

// Options are a user's e-mail posting options.
type Options struct {
	// Outgoing are the headers compared for mail the user sent (any of
	// From, To, Cc, Bcc); Incoming those for mail the user received (any
	// of From, To, Cc).
	Outgoing []Header
	Incoming []Header
	// SkipInternal is "Do not post internal e-mail".
	SkipInternal bool
	// IncludeAttachments is "Include e-mail attachments".
	IncludeAttachments bool
	// PostUnmatchedToOwnRecord is "Post unmatched e-mails to my contact record".
	PostUnmatchedToOwnRecord bool
	// OfferLinkedRecords is "Prompt to post e-mails to contact's linked
	// records": the posting records which linked records were offered.
	OfferLinkedRecords bool
}

// DefaultOptions are the options of a newly connected user.
func DefaultOptions() Options {
	return Options{Outgoing: []Header{To, Cc, Bcc}, Incoming: []Header{From}, SkipInternal: true, IncludeAttachments: true}
}

// Check reports options that name a header not allowed for the direction.
func (o Options) Check() error {
	for _, h := range o.Outgoing {
		if !slices.Contains([]Header{From, To, Cc, Bcc}, h) {
			return fmt.Errorf("matching: outgoing header %q is not From, To, Cc or Bcc", h)
		}
	}
	for _, h := range o.Incoming {
		if !slices.Contains([]Header{From, To, Cc}, h) {
			return fmt.Errorf("matching: incoming header %q is not From, To or Cc", h)
		}
	}
	return nil
}

// User is the mailbox owner as matching needs them.
type User struct {
	Email string
	// Domains are the firm's e-mail domains (the user's own included).
	Domains []string
	// OwnContactID is the user's own contact record, or "".
	OwnContactID string
	// AttachmentLimit is the firm's largest attachment in bytes; 0 means
	// no limit.
	AttachmentLimit int64
}

// Attachment is what matching needs of an attachment.
type Attachment struct {
	Filename string
	Size     int64
}

// Message is what matching needs of a message: its address headers'
// values as they stand in the message, whether the user sent it, and its
// attachments.
type Message struct {
	From, To, Cc, Bcc string
	// Sent is true for mail the user sent (Gmail's SENT label).
	Sent        bool
	Attachments []Attachment
}

// Status is the outcome a message is labeled with.
type Status string

// Statuses, as the status labels name them (XPosted, XFailed, XUnmatched).
const (
	Posted    Status = "Posted"
	Failed    Status = "Failed"
	Unmatched Status = "Unmatched"
)

// Plan is what to ask the CRM before deciding: the addresses to look up.
// When Done is set, the outcome is already known and nothing is looked up.
type Plan struct {
	Lookup []string
	// Bcc says the user received the message as a Bcc recipient.
	Bcc  bool
	Done *Outcome
}

// Outcome is where a message goes.
type Outcome struct {
	Status Status
	// Contacts are the contact ids to post to (the user's own record for
	// unmatched or Bcc mail).
	Contacts []string
	// OwnRecord says the contacts are the user's own record.
	OwnRecord bool
	// WithAttachments says the note carries the attachments.
	WithAttachments bool
	// OfferLinkedRecords says to record the contacts' linked records.
	OfferLinkedRecords bool
	// Reason explains a Failed or Unmatched outcome for the status page.
	Reason string
}

func (m Message) header(h Header) string {
	switch h {
	case From:
		return m.From
	case To:
		return m.To
	case Cc:
		return m.Cc
	case Bcc:
		return m.Bcc
	}
	return ""
}

func (u User) internal(addr string) bool {
	d := Domain(addr)
	if d == "" {
		return false
	}
	if d == Domain(u.Email) {
		return true
	}
	for _, x := range u.Domains {
		if strings.EqualFold(strings.TrimSpace(x), d) {
			return true
		}
	}
	return false
}

// Prepare decides what a message needs looked up, or its outcome when no
// lookup can change it.
func Prepare(m Message, u User, o Options) Plan {
	me := strings.ToLower(strings.TrimSpace(u.Email))
	from, to, cc := Addresses(m.From), Addresses(m.To), Addresses(m.Cc)
	outgoing := m.Sent || (len(from) > 0 && from[0] == me)
	fail := func(reason string) Plan {
		return Plan{Done: &Outcome{Status: Failed, Reason: reason}}
	}

	if o.SkipInternal {
		if outgoing {
			recipients := slices.Concat(to, cc, Addresses(m.Bcc))
			allInternal := len(recipients) > 0
			for _, r := range recipients {
				allInternal = allInternal && u.internal(r)
			}
			if allInternal {
				return fail("internal e-mail: every recipient is in the firm's domains, and \"Do not post internal e-mail\" is on")
			}
		} else if len(from) > 0 && u.internal(from[0]) {
			return fail(fmt.Sprintf("internal e-mail: the sender %s is in the firm's domains, and \"Do not post internal e-mail\" is on", from[0]))
		}
	}
	if o.IncludeAttachments && u.AttachmentLimit > 0 {
		for _, a := range m.Attachments {
			if a.Size > u.AttachmentLimit {
				return fail(AttachmentOverLimit(a.Filename, a.Size, u.AttachmentLimit))
			}
		}
	}

	if !outgoing && !slices.Contains(slices.Concat(from, to, cc), me) {
		// Received as Bcc: never post to the other recipients' contacts.
		if o.PostUnmatchedToOwnRecord && u.OwnContactID != "" {
			return Plan{Bcc: true, Done: &Outcome{Status: Posted, Contacts: []string{u.OwnContactID}, OwnRecord: true,
				WithAttachments: o.IncludeAttachments}}
		}
		return Plan{Bcc: true, Done: &Outcome{Status: Unmatched,
			Reason: "received as Bcc: not posted to the other recipients' contacts (\"Post unmatched e-mails to my contact record\" is off)"}}
	}

	headers := o.Incoming
	if outgoing {
		headers = o.Outgoing
	}
	var lookup []string
	seen := map[string]bool{me: true}
	for _, h := range headers {
		if !outgoing && h == Bcc {
			continue
		}
		for _, a := range Addresses(m.header(h)) {
			if !seen[a] {
				seen[a] = true
				lookup = append(lookup, a)
			}
		}
	}
	if len(lookup) > MaxLookups {
		return fail(fmt.Sprintf("the message has %d addresses to match, more than the %d looked up for one message (mass mail is not posted)", len(lookup), MaxLookups))
	}
	return Plan{Lookup: lookup}
}

// MaxLookups bounds the addresses looked up in the CRM for one message,
// so a message to thousands of recipients costs a bounded number of CRM
// calls; such a message fails with the reason.
const MaxLookups = 200

// Decide turns the CRM's answers (contact ids per looked-up address, as the
// user may see them) into the outcome.
func Decide(p Plan, found map[string][]string, u User, o Options) Outcome {
	if p.Done != nil {
		return *p.Done
	}
	var contacts []string
	for _, addr := range p.Lookup {
		for _, id := range found[addr] {
			if id != "" && !slices.Contains(contacts, id) {
				contacts = append(contacts, id)
			}
		}
	}
	if len(contacts) > 0 {
		return Outcome{Status: Posted, Contacts: contacts, WithAttachments: o.IncludeAttachments, OfferLinkedRecords: o.OfferLinkedRecords}
	}
	if o.PostUnmatchedToOwnRecord && u.OwnContactID != "" {
		return Outcome{Status: Posted, Contacts: []string{u.OwnContactID}, OwnRecord: true, WithAttachments: o.IncludeAttachments}
	}
	reason := "no CRM contact you may access has any of the compared addresses"
	if len(p.Lookup) == 0 {
		reason = "the compared headers hold no address other than yours"
	}
	return Outcome{Status: Unmatched, Reason: reason}
}

// AttachmentOverLimit is the reason a message fails for an attachment over
// the firm's limit.
func AttachmentOverLimit(filename string, size, limit int64) string {
	return fmt.Sprintf("attachment %q is %d bytes, over the firm's limit of %d", filename, size, limit)
}
