// Package notify sends the product's system e-mail — the setup
// confirmation, the preview report, the request to reconnect Google — from
// a configured sender mailbox of the firm's Workspace, through the Gmail
// API with domain-wide delegation limited to gmail.send. It never uses a
// user's own grant: the reconnect request is sent exactly when that grant
// stopped working.
//
// Every message is multipart/alternative with a plain-text and an HTML
// part; the HTML has inline styles and no scripts, as Gmail renders it.
package notify

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"google.golang.org/api/gmail/v1"

	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/workspace"
)

// Message is one system e-mail.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
	// Key makes the Message-ID, so a message sent twice for the same
	// reason is recognisably the same message.
	Key string
	// FromName is the sender's name users see: the firm's app name
	// ("SmartOffice Sync"); empty, the sender's own name.
	FromName string
}

// Sender sends system e-mail.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// GmailClients gives the sender mailbox's Gmail client.
type GmailClients interface {
	GmailSender(ctx context.Context, email string) (*gmail.Service, error)
}

// Gmail sends through the Gmail API as the From mailbox.
type Gmail struct {
	Google GmailClients
	// From is the sender mailbox, e.g. crm-sync@firm.example.
	From string
	// Name is shown as the sender's name.
	Name  string
	Retry workspace.Retry
	Now   func() time.Time
}

// Send delivers m.
func (g *Gmail) Send(ctx context.Context, m Message) error {
	const op = "notify: send"
	if g.From == "" {
		return failure.Errorf(op, failure.Permanent, "no system sender mailbox is configured (SYSTEM_SENDER)")
	}
	raw, err := Compose(mail.Address{Name: cmp.Or(m.FromName, g.Name), Address: g.From}, m, g.now())
	if err != nil {
		return err
	}
	gm, err := g.Google.GmailSender(ctx, g.From)
	if err != nil {
		return err
	}
	_, err = workspace.Call(ctx, g.Retry, "gmail: users.messages.send", func() (*gmail.Message, error) {
		return gm.Users.Messages.Send("me", &gmail.Message{Raw: base64.URLEncoding.EncodeToString(raw)}).Context(ctx).Do()
	})
	return err
}

func (g *Gmail) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// Compose renders m as an RFC 5322 message from from.
func Compose(from mail.Address, m Message, now time.Time) ([]byte, error) {
	const op = "notify: compose"
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, failure.Errorf(op, failure.Invalid, "recipient %q is not an address", m.To)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, failure.Errorf(op, failure.Invalid, "the subject has a line break")
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, part := range []struct{ kind, content string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		if part.content == "" {
			continue
		}
		w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {part.kind + "; charset=utf-8"}, "Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		qp.Write([]byte(part.content))
		qp.Close()
	}
	mw.Close()
	var b bytes.Buffer
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	id := m.Key
	if id == "" {
		id = fmt.Sprint(now.UnixNano())
	}
	hdr := [][2]string{
		{"From", from.String()},
		{"To", to.String()},
		{"Subject", mime.QEncoding.Encode("utf-8", m.Subject)},
		{"Date", now.Format(time.RFC1123Z)},
		{"Message-ID", "<" + strings.NewReplacer("@", ".", "<", "", ">", "", " ", "").Replace(id) + "@" + domain + ">"},
		{"MIME-Version", "1.0"},
		{"Auto-Submitted", "auto-generated"},
		{"Content-Type", `multipart/alternative; boundary="` + mw.Boundary() + `"`},
	}
	for _, h := range hdr {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	b.WriteString("\r\n")
	b.Write(body.Bytes())
	return b.Bytes(), nil
}

// Unavailable stands in for a sender that could not be set up (no
// SYSTEM_SENDER, no delegation key): every Send fails with the reason, as
// Transient, so a job that must send is retried once the configuration is
// fixed, and the rest of a function keeps working.
type Unavailable struct{ Err error }

// Send fails with the reason the sender is unavailable.
func (u Unavailable) Send(context.Context, Message) error {
	return failure.E("notify: system e-mail is not configured", failure.Transient, u.Err)
}
