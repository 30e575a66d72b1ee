// Package dispatch is the Dispatch function: Cloud Scheduler POSTs
// {"kind":"mail-sweep"} (every 10 minutes) or {"kind":"watch-renewal"}
// (daily) and it publishes one job per eligible user to the jobs topic
// (package jobs).
//
//	POST /Dispatch {"kind":"mail-sweep"} → 200 {"kind":"mail-sweep","published":42}
package dispatch

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/instance"
	"github.com/crmsync/crmsync/shared/jobs"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/wiring"
)

func init() {
	functions.HTTP("Dispatch", instance.HTTP("Dispatch", func(env *instance.Env) (http.Handler, error) {
		pub, err := wiring.JobsPublisher(context.Background(), env)
		if err != nil {
			return nil, err
		}
		return wiring.Guard(env, "Dispatch", &Handler{Store: env.Store, Publisher: pub, Log: env.Log})
	}))
}

// Handler serves scheduler ticks.
type Handler struct {
	Store     *store.Store
	Publisher jobs.Publisher
	Log       *slog.Logger
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, `POST {"kind":"mail-sweep"} or {"kind":"watch-renewal"}`, http.StatusMethodNotAllowed)
		return
	}
	var req struct {
		Kind string `json:"kind"`
		// Now asks for every eligible user (a run someone asked for),
		// not only those a scheduled run needs.
		Now bool `json:"now"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		logging.WriteError(w, http.StatusBadRequest, "the body must be {\"kind\": …}: "+err.Error())
		return
	}
	run := jobs.Dispatch
	if req.Now {
		run = jobs.DispatchNow
	}
	n, err := run(r.Context(), h.Store, h.Publisher, req.Kind)
	if err != nil {
		status := http.StatusServiceUnavailable
		if failure.Is(err, failure.Invalid) {
			status = http.StatusBadRequest
		}
		h.Log.Error("dispatch: failed", "kind", req.Kind, "published", n, "err", err)
		logging.WriteError(w, status, err.Error())
		return
	}
	h.Log.Info("dispatch: published", "kind", req.Kind, "published", n)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"kind": req.Kind, "published": n})
}
