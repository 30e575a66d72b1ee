// Package health is the Health function: an HTTP endpoint that reports the
// build version and whether the store answers. Load balancers, uptime checks
// and scripts/dev.sh use it to know an instance is ready.
//
//	GET /Health → 200 {"status":"ok","version":"…","store":{"reachable":true,"latencyMs":3},"time":"…"}
//	            → 503 {"status":"unavailable",…,"store":{"reachable":false,"error":"…"}}
package health

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/instance"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/store"
)

func init() {
	functions.HTTP("Health", instance.HTTP("Health", func(env *instance.Env) (http.Handler, error) {
		return &Handler{Store: env.Store, Version: env.Config.Version, Log: env.Log, Clock: env.Clock}, nil
	}))
}

// Pinger is the store as Health sees it.
type Pinger interface {
	Ping(ctx context.Context) error
}

var _ Pinger = (*store.Store)(nil)

// Handler answers health checks.
type Handler struct {
	Store   Pinger
	Version string
	Log     *slog.Logger
	Clock   clock.Clock
	// Timeout bounds the store check; 3 seconds when zero.
	Timeout time.Duration
}

// Report is the health answer.
type Report struct {
	Status  string      `json:"status"`
	Version string      `json:"version"`
	Store   StoreReport `json:"store"`
	Time    time.Time   `json:"time"`
}

// StoreReport says whether the store answered.
type StoreReport struct {
	Reachable bool   `json:"reachable"`
	LatencyMs int64  `json:"latencyMs"`
	Error     string `json:"error,omitempty"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		logging.WriteError(w, http.StatusMethodNotAllowed, "use GET")
		return
	}
	timeout := h.Timeout
	if timeout == 0 {
		timeout = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	began := h.Clock.Now()
	err := h.Store.Ping(ctx)
	rep := Report{Status: "ok", Version: h.Version, Time: h.Clock.Now().UTC(),
		Store: StoreReport{Reachable: err == nil, LatencyMs: h.Clock.Now().Sub(began).Milliseconds()}}
	code := http.StatusOK
	if err != nil {
		rep.Status, rep.Store.Error, code = "unavailable", err.Error(), http.StatusServiceUnavailable
		h.Log.WarnContext(r.Context(), "health: store unreachable", "error", err.Error())
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if r.Method == http.MethodGet {
		json.NewEncoder(w).Encode(rep)
	}
}
