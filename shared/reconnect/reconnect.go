// Package reconnect handles a user's lost Google access (invalid_grant:
// the grant was revoked, the password changed, an admin policy; or
// insufficient permissions): the user is marked disconnected with the
// reason, every engine stops acting for them (they act only for connected
// users, so there is no retry storm), and one e-mail from the system
// sender asks the user to reconnect, with a link to the settings page.
// Reconnecting resumes from the stored cursors, so nothing is lost or
// synced twice.
//
// Access that fails because of the product's own configuration (the
// OAuth client, the delegation scopes, the signing identity, the token
// key: failure.Configuration) is not the user's: nobody is disconnected
// or e-mailed. The problem is recorded for the administration page and
// logged at ERROR with what to fix, and the work waits for the fix (the
// cursors did not move, so a later pass does it).
package reconnect

import (
	"bytes"
	"context"
	htmltemplate "html/template"
	"log/slog"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/notify"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/workspace"
)

// Attention is what the status pages show a disconnected user.
const Attention = "Google access was revoked or expired: reconnect Google on the settings page."

// delegationAttention is what they show a user of an office-level
// impersonation firm, who has nothing to reconnect.
const delegationAttention = "Your firm's access to your Google account stopped working (your account may be suspended or the firm's delegation changed). Sync resumes by itself once it works again; ask your administrator if it does not."

// Handler marks users disconnected and asks them to reconnect.
type Handler struct {
	Store  *store.Store
	Sender notify.Sender
	// Tokens acts for users; Restore asks it for a token to learn whether
	// acting for an office-level impersonation user works again.
	Tokens workspace.TokenSourceFunc
	// WebURL is the Web function's public URL; the e-mail links to its
	// settings page.
	WebURL string
	Clock  clock.Clock
	Log    *slog.Logger
}

// Lost records that the user's Google access is gone because of cause.
// Only the call that moves the user from connected to disconnected sends
// the e-mail, so many failing passes send one. A failed send is logged;
// the status pages still say what to do.
func (h *Handler) Lost(ctx context.Context, email string, cause error) error {
	if failure.Is(cause, failure.Configuration) {
		return h.configuration(ctx, email, cause)
	}
	now := h.Clock.Now()
	cur, err := h.Store.Users().Get(ctx, email)
	if err != nil {
		return err
	}
	t, err := h.Store.Tenants().Get(ctx, cur.TenantID)
	if err != nil {
		return err
	}
	delegated := t.AuthMode == store.AuthDelegation
	reason := failure.Message(cause)
	if cur.Connection.State == store.Connected {
		if n, err := h.recentlyLost(ctx, t.ID, reason, now); err != nil {
			return err
		} else if n >= StormUsers {
			// Many users losing access the same way at once is the
			// deployment's doing (a client, a key, an admin's change),
			// not each user's: stop disconnecting and e-mailing them.
			return h.configuration(ctx, email, failure.Errorf("reconnect: many users at once", failure.Configuration,
				"many users of the firm lost Google access the same way at once, which looks like the deployment's doing, not each user's: check the OAuth client, its secret, the token-encryption key and the app's access in the Admin console (%d within %v; from the %dth on they were not disconnected): %s",
				n+1, StormWindow, StormUsers+1, reason))
		}
	}
	moved := false
	u, err := h.Store.Users().Update(ctx, email, func(u *store.User) error {
		moved = u.Connection.State == store.Connected
		if moved {
			u.Connection = store.Connection{State: store.Disconnected, Reason: reason, ChangedAt: now, Scopes: u.Connection.Scopes}
			u.Attention = Attention
			if delegated {
				// Office-level impersonation: nothing to reconnect; Restore
				// connects the user again once acting for them works.
				u.Attention = delegationAttention
			}
		}
		return nil
	})
	if err != nil || !moved {
		return err
	}
	if delegated {
		h.Log.Warn("acting for the user fails (office-level impersonation); retried every sweep", "user", u.ID, "err", cause)
		return nil
	}
	h.Log.Warn("Google access lost; the user must reconnect", "user", u.ID, "err", cause)
	if h.Sender == nil {
		return nil
	}
	msg, err := Message(t, u, h.WebURL+"/settings")
	if err != nil {
		return err
	}
	if err := h.Sender.Send(ctx, msg); err != nil {
		h.Log.Error("the reconnect e-mail was not sent", "user", u.ID, "err", err)
	}
	return nil
}

// Message is the reconnect e-mail.
func Message(t store.Tenant, u store.User, settingsURL string) (notify.Message, error) {
	app := t.AppName
	if app == "" {
		app = t.CRMName + " Sync"
	}
	data := map[string]any{"App": app, "User": u, "URL": settingsURL, "Reason": u.Connection.Reason}
	var h, txt bytes.Buffer
	if err := reconnectHTML.Execute(&h, data); err != nil {
		return notify.Message{}, err
	}
	if err := reconnectText.Execute(&txt, data); err != nil {
		return notify.Message{}, err
	}
	return notify.Message{To: u.Email, Subject: app + ": reconnect your Google account", Text: txt.String(), HTML: h.String(), FromName: app,
		Key: "reconnect-" + u.ID + "-" + u.Connection.ChangedAt.UTC().Format("20060102T150405")}, nil
}

var reconnectHTML = htmltemplate.Must(htmltemplate.New("reconnect").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.App}}: reconnect your Google account</title></head>
<body style="margin:0;padding:24px;background:#f6f7f9;font-family:Arial,Helvetica,sans-serif;color:#202124;font-size:14px;line-height:1.5">
<div style="max-width:640px;margin:0 auto;background:#ffffff;border:1px solid #dadce0;border-radius:8px;padding:24px">
<h1 style="font-size:20px;margin:0 0 8px">Your Google account is disconnected</h1>
<p>{{.App}} can no longer reach your Google account, so your mail, contacts and calendar are not syncing. This happens when access is removed, your password changes, or your administrator changes a policy.</p>
{{with .Reason}}<p style="color:#5f6368">Google said: {{.}}</p>{{end}}
<p><a href="{{.URL}}" style="display:inline-block;padding:10px 20px;border-radius:4px;text-decoration:none;font-weight:bold;color:#ffffff;background:#1a73e8">Reconnect Google</a></p>
<p style="color:#5f6368;font-size:12px">Once you reconnect, sync picks up where it stopped; nothing is lost or synced twice.</p>
</div></body></html>
`))

var reconnectText = texttemplate.Must(texttemplate.New("reconnect").Parse(`Your Google account is disconnected

{{.App}} can no longer reach your Google account, so your mail, contacts and calendar are not syncing. This happens when access is removed, your password changes, or your administrator changes a policy.
{{with .Reason}}
Google said: {{.}}
{{end}}
Reconnect Google: {{.URL}}

Once you reconnect, sync picks up where it stopped; nothing is lost or synced twice.
`))

// A storm: StormUsers users of a firm disconnected with the same reason
// within StormWindow make the next one a configuration problem.
const (
	StormUsers  = 3
	StormWindow = 10 * time.Minute
)

// recentlyLost counts the firm's users disconnected for reason within
// StormWindow before now.
func (h *Handler) recentlyLost(ctx context.Context, tenant, reason string, now time.Time) (int, error) {
	users, err := h.Store.Users().ListByTenant(ctx, tenant)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, u := range users {
		if u.Connection.State == store.Disconnected && u.Connection.Reason == reason && now.Sub(u.Connection.ChangedAt) < StormWindow {
			n++
		}
	}
	return n, nil
}

// configuration records a configuration problem met while acting for
// email, for the administration page and the logs.
func (h *Handler) configuration(ctx context.Context, email string, cause error) error {
	u, err := h.Store.Users().Get(ctx, email)
	if err != nil {
		return err
	}
	id := ProblemID(cause)
	p, err := h.Store.Problems().Record(ctx, u.TenantID, id, failure.Message(cause), u.ID)
	if err != nil {
		return err
	}
	h.Log.Error("configuration problem: work for users waits until an admin fixes it", "problem", id, "user", u.ID,
		"users", len(p.Users), "times", p.Count, "fix", p.Message)
	return nil
}

// ProblemID names a configuration problem by what its message says went
// wrong (the text before the first ": ", without the underlying error), so
// one cause is one problem whichever call, user or pass met it.
func ProblemID(err error) string {
	what, _, _ := strings.Cut(failure.Message(err), ": ")
	if len(what) > 120 {
		what = what[:120]
	}
	if what == "" {
		return "configuration"
	}
	return what
}

// Restore sets a disconnected user of an office-level impersonation firm
// connected again as soon as acting for them works (their suspended
// account restored, the Admin console's delegation fixed): such a user
// has nothing to reconnect themselves. It asks Google for a token for the
// user's features and reports whether the user was restored. A user of a
// per-user OAuth firm reconnects on the settings page instead.
func (h *Handler) Restore(ctx context.Context, email string) (bool, error) {
	u, err := h.Store.Users().Get(ctx, email)
	if err != nil {
		return false, err
	}
	t, err := h.Store.Tenants().Get(ctx, u.TenantID)
	if err != nil {
		return false, err
	}
	if t.AuthMode != store.AuthDelegation || u.Connection.State != store.Disconnected || h.Tokens == nil {
		return false, nil
	}
	scopes := slices.Concat(workspace.GmailScopes(), workspace.PeopleScopes(), workspace.CalendarScopes())
	ts, err := h.Tokens(ctx, u.ID, scopes)
	if err == nil {
		_, err = ts.Token()
	}
	if err != nil {
		err = workspace.Classify("reconnect: acting for "+u.ID, err)
		if failure.Is(err, failure.AuthRevoked) {
			return false, nil // still not reachable; the next tick asks again
		}
		return false, err
	}
	now := h.Clock.Now()
	restored := false
	if _, err := h.Store.Users().Update(ctx, u.ID, func(u *store.User) error {
		if u.Connection.State != store.Disconnected {
			return nil
		}
		restored = true
		u.Connection = store.Connection{State: store.Connected, ChangedAt: now, Reason: "office-level impersonation"}
		if u.Attention == Attention || u.Attention == delegationAttention {
			u.Attention = ""
		}
		return nil
	}); err != nil {
		return false, err
	}
	if restored {
		h.Log.Info("acting for the user works again; connected", "user", u.ID)
	}
	return restored, nil
}
