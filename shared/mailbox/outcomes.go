package mailbox

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/crmsync/crmsync/shared/store"
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
