// Package gmailnotify decodes the Gmail push notifications that Pub/Sub
// delivers to the label-processing function: a Pub/Sub push envelope whose
// message data is base64 of {"emailAddress":"…","historyId":…}.
//
// A notification is only a "sync now" signal for one mailbox; the history
// id says how far Gmail had got, never what changed. Decoding is lenient
// where senders differ (standard or URL-safe base64, padded or not;
// historyId as a JSON number or a string) and strict about meaning: a
// notification without a usable address or history id is an error of kind
// Invalid, which the function logs and acknowledges rather than retrying
// forever.
package gmailnotify

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/pubsubpush"
)

// Notification is one decoded Gmail notification.
type Notification struct {
	// Email is the mailbox's address, lower-cased.
	Email string
	// HistoryID is the mailbox's history id when Gmail sent it.
	HistoryID uint64
	// MessageID and PublishTime come from the Pub/Sub envelope, for logs.
	MessageID   string
	PublishTime time.Time
}

const op = "gmailnotify: decode"

func invalid(format string, args ...any) error {
	return failure.Errorf(op, failure.Invalid, format, args...)
}

// Decode reads a Pub/Sub push request body.
func Decode(body []byte) (Notification, error) {
	m, err := pubsubpush.Decode(body)
	if err != nil {
		return Notification{}, err
	}
	n, err := parse(m.Data)
	n.MessageID, n.PublishTime = m.ID, m.PublishTime
	return n, err
}

// DecodeData reads the base64 message data of a notification.
func DecodeData(data string) (Notification, error) {
	raw, err := pubsubpush.DecodeData(data)
	if err != nil {
		return Notification{}, err
	}
	return parse(raw)
}

func parse(raw []byte) (Notification, error) {
	var payload struct {
		EmailAddress string          `json:"emailAddress"`
		HistoryID    json.RawMessage `json:"historyId"`
	}
	if err := json.Unmarshal(raw, &payload); err != nil {
		return Notification{}, invalid("the message data is not a Gmail notification: %v", err)
	}
	addr, err := mail.ParseAddress(payload.EmailAddress)
	if err != nil || addr.Name != "" {
		return Notification{}, invalid("emailAddress %q is not an address", payload.EmailAddress)
	}
	id, err := historyID(payload.HistoryID)
	if err != nil {
		return Notification{}, err
	}
	return Notification{Email: strings.ToLower(addr.Address), HistoryID: id}, nil
}

func historyID(raw json.RawMessage) (uint64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, invalid("historyId is missing")
	}
	text := string(raw)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		text = s
	}
	id, err := strconv.ParseUint(strings.TrimSpace(text), 10, 64)
	if err != nil || id == 0 {
		return 0, invalid("historyId %s is not a positive integer", raw)
	}
	return id, nil
}

// String describes the notification for logs (no message content).
func (n Notification) String() string {
	return fmt.Sprintf("%s@%d (pubsub %s)", n.Email, n.HistoryID, n.MessageID)
}
