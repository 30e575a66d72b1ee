// Package calendarpush is the CalendarPush function: Google Calendar POSTs
// here when a watched calendar changes (events.watch push channels), and
// it enqueues a calendar sync pass for that user on the jobs topic, so a
// change reaches the CRM in seconds rather than at the next scheduled pass.
//
// The channel's address carries ?user=<address>; a notification counts
// only when X-Goog-Channel-ID and X-Goog-Channel-Token match the user's
// current channel (403 otherwise). The first "sync" message of a channel
// needs no pass.
package calendarpush

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/crmsync/crmsync/shared/calendarsync"
	"github.com/crmsync/crmsync/shared/instance"
	"github.com/crmsync/crmsync/shared/jobs"
	"github.com/crmsync/crmsync/shared/syncpass"
	"github.com/crmsync/crmsync/shared/wiring"
)

func init() {
	functions.HTTP("CalendarPush", instance.HTTP("CalendarPush", func(env *instance.Env) (http.Handler, error) {
		ctx := context.Background()
		pub, err := wiring.JobsPublisher(ctx, env)
		if err != nil {
			return nil, err
		}
		// Checking a notification reads the user's channel in the store,
		// nothing else: this function needs no secret (no CRM key, no
		// Google credentials).
		channels := &calendarsync.Engine{Deps: syncpass.Deps{Store: env.Store, Log: env.Log, Clock: env.Clock}}
		return &Handler{Channels: channels, Jobs: pub, Log: env.Log}, nil
	}))
}

// Checker tells a current channel's notification from others.
type Checker interface {
	CheckNotification(ctx context.Context, n calendarsync.Notification) (bool, error)
}

var _ Checker = (*calendarsync.Engine)(nil)

// Handler serves Calendar push notifications.
type Handler struct {
	Channels Checker
	Jobs     jobs.Publisher
	Log      *slog.Logger
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "Google Calendar push notifications only", http.StatusMethodNotAllowed)
		return
	}
	n := calendarsync.Notification{User: r.URL.Query().Get("user"), ChannelID: r.Header.Get("X-Goog-Channel-ID"),
		Token: r.Header.Get("X-Goog-Channel-Token"), State: r.Header.Get("X-Goog-Resource-State")}
	ok, err := h.Channels.CheckNotification(r.Context(), n)
	switch {
	case err != nil:
		h.Log.Warn("calendarpush: checking the channel", "user", n.User, "err", err)
		http.Error(w, "try again later", http.StatusServiceUnavailable)
		return
	case !ok:
		h.Log.Warn("calendarpush: notification of an unknown or replaced channel refused", "user", n.User, "channel", n.ChannelID)
		http.Error(w, "unknown channel", http.StatusForbidden)
		return
	case n.State == "sync":
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err := jobs.Enqueue(r.Context(), h.Jobs, jobs.Job{Kind: jobs.CalendarSync, User: n.User})(); err != nil {
		h.Log.Warn("calendarpush: enqueueing a pass", "user", n.User, "err", err)
		http.Error(w, "try again later", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
