package mailbox

// Automatic mail sync, the second posting mode (the firm's switch
// Tenant.AutoMailSync and the user's MailSetup.AutoSync): new mail is
// filed without any label as an e-mail activity on the client whose
// contacts' addresses it involves. Incoming mail always; outgoing mail
// only when the user's own login address is among its recipients (the
// "cc yourself" rule). Several candidate clients: an educated guess
// (matching.LinkClient) marked for review. No client: nothing is filed,
// and the message is remembered in the ledger, so a contact added later
// never files old mail.
//
// The Gmail watch covers INBOX and SENT, so a message is filed within
// seconds of arriving; the 10-minute sweep reads the history since the
// cursor as a safety net. A message deleted before its pass fetches it is
// not filed; one deleted after is (the CRM keeps its copy).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/api/gmail/v1"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/mailparse"
	"github.com/crmsync/crmsync/shared/matching"
	"github.com/crmsync/crmsync/shared/store"
)

// Outcomes of automatic sync, as the ledger records them.
const (
	AutoSynced   = "synced"
	AutoReview   = "review"
	AutoNoClient = "no-client"
	AutoSkipped  = "skipped"
	AutoGone     = "gone"
)

// auto says whether automatic mail sync runs for the pass's user.
func (p *pass) auto() bool { return p.user.Mail.AutoSync && p.tenant.AutoMailSync }

func (p *pass) autoScope() string { return "auto:" + p.user.ID }

// recentWindow is how far back a pass looks when the history is gone.
const recentWindow = "newer_than:2d"

// processNew files the messages added since the cursor (the recent ones
// when the history is gone) and returns the newest history id.
func (p *pass) processNew(ctx context.Context, cursor string) (string, error) {
	ids, newest, err := p.addedSince(ctx, cursor)
	if failure.Is(err, failure.NotFound) || failure.Is(err, failure.CursorExpired) || (err == nil && cursor == "") {
		p.e.Log.Info("mail: history gone; listing recent mail for automatic sync", "user", p.user.ID, "cursor", cursor)
		ids, newest, err = p.recent(ctx)
	}
	if err != nil {
		return "", err
	}
	for _, id := range ids {
		if err := p.file(ctx, id); err != nil {
			return "", err
		}
	}
	return newest, nil
}

// addedSince lists the messages added to INBOX or SENT after the cursor.
func (p *pass) addedSince(ctx context.Context, cursor string) ([]string, string, error) {
	return p.history(ctx, cursor, func(c *gmail.UsersHistoryListCall) *gmail.UsersHistoryListCall {
		return c.HistoryTypes("messageAdded")
	}, func(h *gmail.History, add func(string)) {
		for _, ma := range h.MessagesAdded {
			if m := ma.Message; m != nil && (slices.Contains(m.LabelIds, "INBOX") || slices.Contains(m.LabelIds, "SENT")) {
				add(m.Id)
			}
		}
	})
}

// recent lists the last two days' mail in INBOX and SENT, and the
// mailbox's history id.
func (p *pass) recent(ctx context.Context) ([]string, string, error) {
	return p.listed(ctx, []string{"INBOX", "SENT"}, recentWindow)
}

// file syncs one message to its client, once. Only errors that stop the
// pass (lost access, the store) are returned; a message that fails
// passingly is left for the next pass.
func (p *pass) file(ctx context.Context, id string) error {
	ledger := p.e.Store.Ledger()
	entry, err := ledger.Claim(ctx, p.autoScope(), id, p.holder, p.e.leaseTTL())
	if failure.Is(err, failure.Conflict) {
		return nil // another worker has it
	}
	if err != nil {
		return err
	}
	if entry.State == store.Done {
		return nil // filed, or remembered as nobody's, before
	}
	outcome, detail, err := p.fileMessage(ctx, id)
	var gone *messageGone
	switch {
	case err == nil:
	case failure.Is(err, failure.AuthRevoked), failure.Is(err, failure.Configuration):
		// Not the message's fault: it waits, unmarked, for access.
		ledger.Abandon(ctx, entry, err.Error())
		return err
	case errors.As(err, &gone):
		outcome = AutoGone
	case failure.KindOf(err).Retryable() && entry.Attempts < p.e.maxAttempts():
		p.count(func(r *Result) { r.Retrying++ })
		p.e.Log.Warn("mail: message left for a later pass", "user", p.user.ID, "messageId", id, "attempt", entry.Attempts, "err", err)
		_, aerr := ledger.Abandon(ctx, entry, err.Error())
		return aerr
	default:
		outcome, detail = "failed", map[string]string{"reason": err.Error()}
		p.count(func(r *Result) { r.Failed++ })
		p.e.Log.Warn("mail: automatic sync gave up on a message", "user", p.user.ID, "messageId", id, "err", err)
	}
	if _, err := ledger.Complete(ctx, entry, outcome, detail); err != nil && !failure.Is(err, failure.Conflict) {
		return err
	}
	switch outcome {
	case AutoSynced:
		p.count(func(r *Result) { r.Synced++ })
	case AutoReview:
		p.count(func(r *Result) { r.Review++ })
	case AutoNoClient:
		p.count(func(r *Result) { r.NoClient++ })
	}
	return nil
}

// fileMessage reads a message, finds its client and files it.
func (p *pass) fileMessage(ctx context.Context, id string) (string, map[string]string, error) {
	msg, raw, release, err := p.fetchRaw(ctx, id, false)
	var big *tooLarge
	switch {
	case errors.As(err, &big):
		return AutoSkipped, map[string]string{"reason": big.Error()}, nil
	case errors.Is(err, errNotBase64):
		return "", nil, failure.E("mailbox: raw message", failure.Permanent, err)
	case err != nil:
		return "", nil, err
	}
	defer release()
	parsed, err := mailparse.Parse(raw)
	if err != nil {
		return "", nil, failure.E("mailbox: parse message", failure.Permanent, err)
	}
	sent := slices.Contains(msg.LabelIds, "SENT")
	if !sent && !slices.Contains(msg.LabelIds, "INBOX") {
		return AutoSkipped, map[string]string{"reason": "neither incoming nor sent"}, nil
	}
	me := strings.ToLower(p.user.Email)
	recipients := slices.Concat(matching.Addresses(parsed.To), matching.Addresses(parsed.Cc), matching.Addresses(parsed.Bcc))
	if sent && !slices.ContainsFunc(recipients, func(a string) bool { return strings.EqualFold(a, me) }) {
		return AutoSkipped, map[string]string{"reason": "outgoing mail without your own address among the recipients"}, nil
	}
	addrs := slices.Concat(matching.Addresses(parsed.From), recipients)
	if len(addrs) > matching.MaxLookups {
		return AutoSkipped, map[string]string{"reason": fmt.Sprintf("%d addresses, more than the %d looked up for one message (mass mail is not filed)", len(addrs), matching.MaxLookups)}, nil
	}
	cands, err := p.candidates(ctx, addrs, me)
	if err != nil {
		return "", nil, err
	}
	link := matching.LinkClient(cands)
	if link.ClientID == "" {
		return AutoNoClient, nil, nil
	}
	date := parsed.Date
	if date.IsZero() {
		date = time.UnixMilli(msg.InternalDate).UTC()
	}
	act := crm.EmailActivity{ClientID: link.ClientID, Owner: p.crmer.ID, NeedsReview: link.NeedsReview, Candidates: link.Others, Reason: link.Reason,
		Email: crm.Email{Subject: parsed.Subject, From: parsed.FromText, To: matching.Addresses(parsed.To), Cc: matching.Addresses(parsed.Cc),
			Date: date, Text: parsed.Text, HTML: htmlPolicy.Sanitize(parsed.HTML), GmailMessageID: id}}
	w := crm.Write{AsUser: p.crmer.ID, Origin: crm.Origin, IdempotencyKey: "auto:" + p.user.ID + ":" + id}
	created, err := p.e.CRM.CreateEmailActivity(ctx, w, act)
	if err != nil {
		if failure.Is(err, failure.Invalid) {
			return "", nil, failure.E("mailbox: the CRM refused the e-mail activity", failure.Permanent, err)
		}
		return "", nil, err
	}
	detail := map[string]string{"client": link.ClientID, "activity": created.ID}
	if link.NeedsReview {
		detail["reason"] = link.Reason
		return AutoReview, detail, nil
	}
	return AutoSynced, detail, nil
}

// candidates are the clients whose contacts have one of the message's
// addresses (the user's own and the firm's addresses left out), with the
// signals that decide among several.
func (p *pass) candidates(ctx context.Context, addrs []string, me string) ([]matching.ClientCandidate, error) {
	internal := slices.Concat(p.tenant.Domains, p.crmer.Domains)
	matched := map[string]map[string]bool{}
	var order []string
	seen := map[string]bool{}
	for _, a := range addrs {
		a = strings.ToLower(strings.TrimSpace(a))
		at := strings.LastIndexByte(a, '@')
		if a == "" || a == me || seen[a] || at < 0 || slices.ContainsFunc(internal, func(d string) bool { return strings.EqualFold(d, a[at+1:]) }) {
			continue
		}
		seen[a] = true
		contacts, err := p.e.CRM.FindContacts(ctx, p.crmer.ID, a)
		if err != nil {
			return nil, err
		}
		for _, c := range contacts {
			for _, cl := range c.ClientIDs {
				if matched[cl] == nil {
					matched[cl] = map[string]bool{}
					order = append(order, cl)
				}
				matched[cl][a] = true
			}
		}
	}
	var out []matching.ClientCandidate
	for _, cl := range order {
		cand := matching.ClientCandidate{ClientID: cl, Addresses: len(matched[cl])}
		if len(order) > 1 {
			acts, err := p.e.CRM.EmailActivities(ctx, cl, p.crmer.ID, false)
			if err != nil {
				return nil, err
			}
			for _, a := range acts {
				if a.Date.After(cand.LastActivity) {
					cand.LastActivity = a.Date
				}
			}
		}
		out = append(out, cand)
	}
	return out, nil
}
