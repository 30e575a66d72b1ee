// Package mailparse turns a raw RFC 822 message (Gmail's format=raw) into
// what posting needs: the address headers as written (matching decodes
// them), the decoded subject and date, the text and HTML bodies, and the
// attachments. It uses github.com/jhillyerd/enmime, which copes with the
// malformed mail real mailers send; what it had to work around is listed
// in Problems rather than failing the message.
package mailparse

import (
	"bytes"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/jhillyerd/enmime"
)

// MaxBytes bounds the messages Parse reads (Gmail's own limit is 50 MB
// including encoding overhead).
const MaxBytes = 64 << 20

// Attachment is a file of the message.
type Attachment struct {
	Filename    string
	ContentType string
	Data        []byte
}

// Message is a parsed message.
type Message struct {
	// From, To, Cc, Bcc are the raw header values, encoded words intact
	// (matching reads the addresses).
	From, To, Cc, Bcc string
	// FromText is the From header as people read it, its encoded words
	// decoded ("Jørn Støylen <jorn@example.no>"): what a note shows.
	FromText string
	Subject  string
	// Date is the Date header, zero when it is missing or unreadable.
	Date        time.Time
	MessageID   string
	Text, HTML  string
	Attachments []Attachment
	// Problems lists what was malformed and worked around.
	Problems []string
}

// Parse reads raw. It fails only for input that is not a message at all
// (empty, over MaxBytes, or unreadable as MIME).
func Parse(raw []byte) (*Message, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("mailparse: the message is empty")
	}
	if len(raw) > MaxBytes {
		return nil, fmt.Errorf("mailparse: the message is %d bytes, over the %d this reads", len(raw), MaxBytes)
	}
	var problems []string
	if bytes.HasPrefix(raw, []byte("From ")) {
		// An mbox separator line ("From sender date"), not a header.
		if i := bytes.IndexByte(raw, '\n'); i > 0 {
			raw = raw[i+1:]
			problems = append(problems, "dropped a leading mbox \"From \" line")
		}
	}
	env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("mailparse: %w", err)
	}
	h := env.Root.Header
	m := &Message{
		From: h.Get("From"), FromText: env.GetHeader("From"), To: strings.Join(h.Values("To"), ", "), Cc: strings.Join(h.Values("Cc"), ", "),
		Bcc: strings.Join(h.Values("Bcc"), ", "), Subject: env.GetHeader("Subject"),
		MessageID: strings.TrimSpace(h.Get("Message-Id")), Text: env.Text, HTML: env.HTML, Problems: problems,
	}
	if d := h.Get("Date"); d != "" {
		if t, err := mail.ParseDate(d); err == nil {
			m.Date = t
		} else {
			m.Problems = append(m.Problems, fmt.Sprintf("unreadable Date header %q", d))
		}
	}
	for _, p := range append(env.Attachments, env.Inlines...) {
		name := p.FileName
		if name == "" {
			if p.ContentType == "" || strings.HasPrefix(p.ContentType, "text/") {
				continue // an inline body part, already in Text or HTML
			}
			name = "attachment"
		}
		ct := p.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		m.Attachments = append(m.Attachments, Attachment{Filename: name, ContentType: ct, Data: p.Content})
	}
	// A message attached whole (forwarded as an attachment, or the
	// original in a bounce) is a file of the message too.
	forwarded := 0
	for _, p := range env.OtherParts {
		if !strings.EqualFold(p.ContentType, "message/rfc822") {
			continue
		}
		forwarded++
		name := p.FileName
		if name == "" {
			name = "forwarded message.eml"
			if forwarded > 1 {
				name = fmt.Sprintf("forwarded message %d.eml", forwarded)
			}
		}
		m.Attachments = append(m.Attachments, Attachment{Filename: name, ContentType: "message/rfc822", Data: p.Content})
	}
	for _, e := range env.Errors {
		m.Problems = append(m.Problems, e.Error())
	}
	return m, nil
}
