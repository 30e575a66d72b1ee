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
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/shared/failure"
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

type envelope struct {
	Message struct {
		Data        string            `json:"data"`
		MessageID   string            `json:"messageId"`
		MessageID2  string            `json:"message_id"`
		PublishTime string            `json:"publishTime"`
		Attributes  map[string]string `json:"attributes"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

const op = "gmailnotify: decode"

func invalid(format string, args ...any) error {
	return failure.Errorf(op, failure.Invalid, format, args...)
}

// Decode reads a Pub/Sub push request body.
func Decode(body []byte) (Notification, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Notification{}, invalid("the push body is not a Pub/Sub envelope: %v", err)
	}
	n, err := DecodeData(env.Message.Data)
	if err != nil {
		return Notification{}, err
	}
	n.MessageID = env.Message.MessageID
	if n.MessageID == "" {
		n.MessageID = env.Message.MessageID2
	}
	if t, err := time.Parse(time.RFC3339Nano, env.Message.PublishTime); err == nil {
		n.PublishTime = t
	}
	return n, nil
}

// DecodeData reads the base64 message data of a notification.
func DecodeData(data string) (Notification, error) {
	data = strings.TrimSpace(data)
	if data == "" {
		return Notification{}, invalid("the message has no data")
	}
	raw, err := decodeBase64(data)
	if err != nil {
		return Notification{}, invalid("the message data is not base64: %v", err)
	}
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

// decodeBase64 accepts both alphabets, with or without padding.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
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
