// Package reconnect handles a user's lost Google access (invalid_grant:
// the grant was revoked, the password changed, an admin policy; or
// insufficient permissions): the user is marked disconnected with the
// reason, every engine stops acting for them (they act only for connected
// users, so there is no retry storm), and one e-mail from the system
// sender asks the user to reconnect, with a link to the settings page.
// Reconnecting resumes from the stored cursors, so nothing is lost or
// synced twice.
package reconnect

import (
	"bytes"
	"context"
	htmltemplate "html/template"
	"log/slog"
	texttemplate "text/template"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/notify"
	"github.com/crmsync/crmsync/shared/store"
)

// Attention is what the status pages show a disconnected user.
const Attention = "Google access was revoked or expired: reconnect Google on the settings page."

// Handler marks users disconnected and asks them to reconnect.
type Handler struct {
	Store  *store.Store
	Sender notify.Sender
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
	now := h.Clock.Now()
	moved := false
	u, err := h.Store.Users().Update(ctx, email, func(u *store.User) error {
		moved = u.Connection.State == store.Connected
		if moved {
			u.Connection = store.Connection{State: store.Disconnected, Reason: failure.Message(cause), ChangedAt: now, Scopes: u.Connection.Scopes}
			u.Attention = Attention
		}
		return nil
	})
	if err != nil || !moved {
		return err
	}
	h.Log.Warn("Google access lost; the user must reconnect", "user", u.ID, "err", cause)
	if h.Sender == nil {
		return nil
	}
	t, err := h.Store.Tenants().Get(ctx, u.TenantID)
	if err != nil {
		return err
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
	return notify.Message{To: u.Email, Subject: app + ": reconnect your Google account", Text: txt.String(), HTML: h.String(),
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
