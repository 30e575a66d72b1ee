// Package gmailpush is the GmailPush function: Pub/Sub pushes each Gmail
// notification ({emailAddress, historyId}) here, and it runs the user's
// e-mail posting pass (package mailbox).
//
// Answers tell Pub/Sub what to do: 204 acknowledges (done, nothing to do,
// or a notification that can never be used: malformed, an unknown user,
// a user whose Google access is gone); 503 asks for redelivery with
// backoff (a transient failure, or another pass of the user running).
package gmailpush

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/gmailnotify"
	"github.com/crmsync/crmsync/shared/instance"
	"github.com/crmsync/crmsync/shared/mailbox"
	"github.com/crmsync/crmsync/shared/wiring"
)

func init() {
	functions.HTTP("GmailPush", instance.HTTP("GmailPush", func(env *instance.Env) (http.Handler, error) {
		e, err := wiring.MailEngine(context.Background(), env, "gmailpush")
		if err != nil {
			return nil, err
		}
		return &Handler{Engine: e, Log: env.Log}, nil
	}))
}

// Passer runs a user's posting pass.
type Passer interface {
	Process(ctx context.Context, email string) (mailbox.Result, error)
}

// Handler serves Pub/Sub pushes of Gmail notifications.
type Handler struct {
	Engine Passer
	Log    *slog.Logger
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST a Pub/Sub push message", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		h.Log.Warn("gmailpush: unreadable push body; acknowledged", "err", err)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	n, err := gmailnotify.Decode(body)
	if err != nil {
		// Redelivering it would fail the same way forever.
		h.Log.Warn("gmailpush: unusable notification; acknowledged", "err", err, "bytes", len(body))
		w.WriteHeader(http.StatusNoContent)
		return
	}
	res, err := h.Engine.Process(r.Context(), n.Email)
	switch {
	case err == nil:
		h.Log.Debug("gmailpush: pass done", "user", n.Email, "historyId", n.HistoryID, "pubsubId", n.MessageID,
			"posted", res.Posted, "failed", res.Failed, "unmatched", res.Unmatched, "retrying", res.Retrying)
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, mailbox.ErrBusy), failure.KindOf(err).Retryable():
		h.Log.Info("gmailpush: pass not done; Pub/Sub will redeliver", "user", n.Email, "pubsubId", n.MessageID, "err", err)
		http.Error(w, "try again later", http.StatusServiceUnavailable)
	default:
		// Permanent for this user (recorded on the user's status); a retry
		// would not help.
		h.Log.Error("gmailpush: pass failed; acknowledged", "user", n.Email, "pubsubId", n.MessageID, "err", err)
		w.WriteHeader(http.StatusNoContent)
	}
}
