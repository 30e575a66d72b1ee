package mailbox

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/mailparse"
	"github.com/crmsync/crmsync/shared/store"
)

// PostNow posts one message now, as labeling it does, without the user
// labeling it: the same rules, the same exactly-once ledger (a message
// posted before is not posted again; one that failed or went unmatched
// is tried again), and the message gets its outcome label. It returns
// what the message came to.
func (e *Engine) PostNow(ctx context.Context, email, id string) (Outcome, error) {
	const op = "mail: post now"
	ctx, p, release, err := e.beginAsked(ctx, op, email)
	if err != nil {
		return Outcome{}, err
	}
	defer release()
	if !p.user.Mail.Enabled {
		return Outcome{}, failure.Errorf(op, failure.Invalid, "posting labeled e-mail is off in your settings")
	}
	if len(p.labels) != len(roles) {
		if err := p.ensureLabels(ctx); err != nil {
			return Outcome{}, p.fail(ctx, err)
		}
	}
	if err := p.handle(ctx, []string{id}); err != nil {
		return Outcome{}, p.fail(ctx, err)
	}
	if err := p.done(ctx, false, false); err != nil {
		return Outcome{}, err
	}
	return e.OutcomeOf(ctx, p.user, id)
}

// beginAsked begins a pass the user asked for: one that cannot run (the
// user not connected, not approved, without the right) is refused in
// words.
func (e *Engine) beginAsked(ctx context.Context, op, email string) (context.Context, *pass, func(), error) {
	ctx, p, release, err := e.begin(ctx, email)
	if err == nil && p == nil {
		err = failure.Errorf(op, failure.Invalid, "e-mail posting is not active for %s: connect Google and approve your sync setup first", email)
	}
	return ctx, p, release, err
}

// OutcomeOf is what one of the user's messages came to; a message the
// product never saw is "not posted".
func (e *Engine) OutcomeOf(ctx context.Context, u store.User, id string) (Outcome, error) {
	entry, err := e.Store.Ledger().Get(ctx, LedgerScope(u.ID), id)
	if failure.Is(err, failure.NotFound) {
		return Outcome{Message: id, Outcome: "not posted"}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	o, ok := outcomeOf(entry, u.Email)
	if !ok {
		o.Outcome = "deleted"
	}
	o.Contacts = splitList(entry.Detail["contacts"])
	o.OfferedRecords = splitList(entry.Detail["offeredRecords"])
	return o, nil
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// PostToRecords posts a posted message to linked records of the contacts
// it was posted to (policies, pending cases), the ones the user chose
// among those offered: the "Prompt to post e-mails to contact's linked
// records" option. Each contact's chosen records get one note, made once
// however often it is asked.
func (e *Engine) PostToRecords(ctx context.Context, email, id string, records []string) (Outcome, error) {
	const op = "mail: post to linked records"
	ctx, p, release, err := e.beginAsked(ctx, op, email)
	if err != nil {
		return Outcome{}, err
	}
	defer release()
	o, err := e.OutcomeOf(ctx, p.user, id)
	if err != nil {
		return Outcome{}, err
	}
	if o.Outcome != "posted" {
		return o, failure.Errorf(op, failure.Invalid, "the message is %s; post it first, then choose its linked records", o.Outcome)
	}
	if len(records) == 0 {
		return o, failure.Errorf(op, failure.Invalid, "choose at least one linked record")
	}
	for _, r := range records {
		if !slices.Contains(o.OfferedRecords, r) {
			return o, failure.Errorf(op, failure.Invalid, "record %q is not linked to a contact this message was posted to", r)
		}
	}
	msg, raw, free, err := p.fetchRaw(ctx, id, p.user.Mail.IncludeAttachments)
	if err != nil {
		return o, err
	}
	defer free()
	parsed, err := mailparse.Parse(raw)
	if err != nil {
		return o, failure.Errorf(op, failure.Permanent, "the message cannot be read: %v", err)
	}
	// Posted means its attachments were within the firm's limit.
	note := noteOf(id, msg, parsed, p.user.Mail.IncludeAttachments)
	for _, contactID := range o.Contacts {
		linked, err := e.CRM.Records(ctx, p.crmer.ID, contactID)
		if err != nil {
			return o, err
		}
		var chosen []string
		for _, r := range linked {
			if slices.Contains(records, r.ID) {
				chosen = append(chosen, r.ID)
			}
		}
		if len(chosen) == 0 {
			continue
		}
		slices.Sort(chosen)
		note.ContactID, note.Records = contactID, chosen
		w := crm.Write{AsUser: p.crmer.ID, Origin: crm.Origin, IdempotencyKey: "mail:" + p.user.ID + ":" + id + ":" + contactID + ":records:" + strings.Join(chosen, ",")}
		if _, err := e.CRM.PostNote(ctx, w, note); err != nil {
			return o, err
		}
		e.Log.Info("mail: message posted to linked records", "user", p.user.ID, "messageId", id, "contact", contactID, "records", strconv.Itoa(len(chosen)))
	}
	return o, nil
}
