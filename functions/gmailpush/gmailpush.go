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
	"fmt"
	"log/slog"
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/crmsync/crmsync/shared/gmailnotify"
	"github.com/crmsync/crmsync/shared/instance"
	"github.com/crmsync/crmsync/shared/mailbox"
	"github.com/crmsync/crmsync/shared/pubsubpush"
	"github.com/crmsync/crmsync/shared/wiring"
)

func init() {
	functions.HTTP("GmailPush", instance.HTTP("GmailPush", func(env *instance.Env) (http.Handler, error) {
		e, err := wiring.MailEngine(context.Background(), env, "gmailpush")
		if err != nil {
			return nil, err
		}
		return wiring.Guard(env, "GmailPush", &Handler{Engine: e, Log: env.Log})
	}))
}

// Passer runs a user's posting pass.
type Passer interface {
	Process(ctx context.Context, email string) (mailbox.Result, error)
}

var _ Passer = (*mailbox.Engine)(nil)

// Handler serves Pub/Sub pushes of Gmail notifications.
type Handler struct {
	Engine Passer
	Log    *slog.Logger
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	pubsubpush.Serve(w, r, h.Log, "gmailpush", func(ctx context.Context, body []byte) error {
		n, err := gmailnotify.Decode(body)
		if err != nil {
			return err
		}
		res, err := h.Engine.Process(ctx, n.Email)
		if err != nil {
			return fmt.Errorf("pass of %s (pubsub %s): %w", n.Email, n.MessageID, err)
		}
		h.Log.Debug("gmailpush: pass done", "user", n.Email, "historyId", n.HistoryID, "pubsubId", n.MessageID,
			"posted", res.Posted, "failed", res.Failed, "unmatched", res.Unmatched, "retrying", res.Retrying)
		return nil
	})
}
