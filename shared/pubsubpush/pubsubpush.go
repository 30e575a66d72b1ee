// Package pubsubpush decodes the body Pub/Sub POSTs to a push endpoint:
// {"message":{"data":base64,"attributes":{…},"messageId":…,"publishTime":…},"subscription":…}.
// Data is accepted in either base64 alphabet, padded or not. Anything that
// is not such a body is an error of kind Invalid: the endpoint logs and
// acknowledges it, since redelivering it would fail the same way.
package pubsubpush

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/crmsync/crmsync/shared/failure"
)

// Message is one pushed message.
type Message struct {
	Data         []byte
	Attributes   map[string]string
	ID           string
	PublishTime  time.Time
	Subscription string
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

const op = "pubsubpush: decode"

// Decode reads a push request body.
func Decode(body []byte) (Message, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Message{}, failure.Errorf(op, failure.Invalid, "the push body is not a Pub/Sub envelope: %v", err)
	}
	data, err := DecodeData(env.Message.Data)
	if err != nil {
		return Message{}, err
	}
	m := Message{Data: data, Attributes: env.Message.Attributes, ID: env.Message.MessageID, Subscription: env.Subscription}
	if m.ID == "" {
		m.ID = env.Message.MessageID2
	}
	if t, err := time.Parse(time.RFC3339Nano, env.Message.PublishTime); err == nil {
		m.PublishTime = t
	}
	return m, nil
}

// DecodeData decodes message data in either base64 alphabet, padded or not.
func DecodeData(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if s == "" {
		return nil, failure.Errorf(op, failure.Invalid, "the message has no data")
	}
	var b []byte
	var err error
	if strings.ContainsAny(s, "-_") {
		b, err = base64.RawURLEncoding.DecodeString(s)
	} else {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, failure.Errorf(op, failure.Invalid, "the message data is not base64: %v", err)
	}
	return b, nil
}

// Serve answers one push request the way Pub/Sub understands: it reads the
// body and hands it to handle. Success, and an Invalid error (a message
// that can never be used), are acknowledged with 204; a retryable error
// asks for redelivery with backoff (503); any other error is logged and
// acknowledged, since a retry would fail the same way.
func Serve(w http.ResponseWriter, r *http.Request, log *slog.Logger, name string, handle func(ctx context.Context, body []byte) error) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST a Pub/Sub push message", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err == nil {
		err = handle(r.Context(), body)
	} else {
		err = failure.E(name+": read push body", failure.Invalid, err)
	}
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case failure.Is(err, failure.Invalid):
		log.Warn(name+": unusable message; acknowledged", "err", err, "bytes", len(body))
		w.WriteHeader(http.StatusNoContent)
	case failure.KindOf(err).Retryable():
		log.Info(name+": not done; Pub/Sub will redeliver", "err", err)
		http.Error(w, "try again later", http.StatusServiceUnavailable)
	default:
		log.Error(name+": failed; acknowledged", "err", err)
		w.WriteHeader(http.StatusNoContent)
	}
}
