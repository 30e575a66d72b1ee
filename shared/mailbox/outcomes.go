package mailbox

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/workspace"
	"google.golang.org/api/gmail/v1"
)

// Outcome is what one of a user's messages came to, in words, as the
// settings page shows it.
type Outcome struct {
	// Message is Gmail's id of the message.
	Message string    `json:"message"`
	At      time.Time `json:"at"`
	// Outcome is posted, failed, unmatched (matching's statuses in lower
	// case), or waiting: claimed and not finished, tried again.
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	// Open is the message in Gmail.
	Open string `json:"open"`
	// Contacts are the CRM contacts it was posted to, and OfferedRecords
	// their linked records it may also be posted to (OutcomeOf fills
	// them in).
	Contacts       []string `json:"contacts,omitempty"`
	OfferedRecords []string `json:"offeredRecords,omitempty"`
}

// LedgerScope is the idempotency ledger's scope of a user's messages.
func LedgerScope(userID string) string { return "mail:" + userID }

// Recent lists what the user's last n messages came to, newest first. A
// message deleted before it could be posted is left out.
func Recent(ctx context.Context, st *store.Store, u store.User, n int) ([]Outcome, error) {
	entries, err := st.Ledger().Recent(ctx, LedgerScope(u.ID), n)
	if err != nil {
		return nil, err
	}
	var out []Outcome
	for _, e := range entries {
		if o, ok := outcomeOf(e, u.Email); ok {
			out = append(out, o)
		}
	}
	return out, nil
}

// outcomeOf reads one ledger entry; false for a message that was gone.
func outcomeOf(e store.LedgerEntry, email string) (Outcome, bool) {
	o := Outcome{Message: e.Key, At: e.UpdatedAt, Reason: e.Detail["reason"],
		Open: "https://mail.google.com/mail/u/" + url.PathEscape(email) + "/#all/" + url.PathEscape(e.Key)}
	switch {
	case e.State == store.Done && e.Outcome == "gone":
		return o, false // deleted before it could be posted
	case e.State == store.Done:
		o.Outcome = strings.ToLower(e.Outcome)
		if o.Outcome == "posted" && e.Detail["contacts"] != "" {
			o.Reason = fmt.Sprintf("posted to %d contact(s)", len(strings.Split(e.Detail["contacts"], ",")))
		}
	default:
		o.Outcome, o.Reason = "waiting", fmt.Sprintf("not posted yet (tried %d time(s)); it is tried again at the next pass", e.Attempts)
	}
	return o, true
}

// PostAgain asks for a message that failed or went unmatched to be posted
// again, as a user does in Gmail by putting the label back once the cause
// is fixed (a contact added to the CRM, the firm's limit raised): the
// trigger label goes back on the message, and the user's next mail pass
// (started by Gmail's notification of the change, or by the sweep) posts
// it under the same rules and the same exactly-once ledger. A message
// that was posted, is still waiting, or that the product never saw is
// refused with a reason.
func (e *Engine) PostAgain(ctx context.Context, email, id string) error {
	const op = "mail: post again"
	u, err := e.Store.Users().Get(ctx, email)
	if err != nil {
		return err
	}
	entry, err := e.Store.Ledger().Get(ctx, LedgerScope(u.ID), id)
	if failure.Is(err, failure.NotFound) {
		return failure.Errorf(op, failure.NotFound, "message %s was never labeled for posting", id)
	}
	if err != nil {
		return err
	}
	o, ok := outcomeOf(entry, u.Email)
	if !ok || (o.Outcome != "failed" && o.Outcome != "unmatched") {
		what := o.Outcome
		if !ok {
			what = "deleted"
		}
		return failure.Errorf(op, failure.Invalid, "only a message that failed or went unmatched is posted again; this one is %s", what)
	}
	trigger := u.Mail.Labels[RoleTrigger]
	if trigger == "" || !u.Mail.Enabled {
		return failure.Errorf(op, failure.Invalid, "e-mail posting is off for %s; turn it on in the settings first", u.Email)
	}
	gm, err := e.Google.Gmail(ctx, u.Email)
	if err != nil {
		return err
	}
	_, err = workspace.Call(ctx, e.Retry, "gmail: users.messages.modify", func() (*gmail.Message, error) {
		return gm.Users.Messages.Modify("me", id, &gmail.ModifyMessageRequest{AddLabelIds: []string{trigger}}).Context(ctx).Do()
	})
	if err == nil {
		e.Log.Info("mail: message labeled again for posting", "user", u.ID, "messageId", id)
	}
	return err
}
