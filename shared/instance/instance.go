// Package instance builds what one function instance needs — configuration,
// logger, store, secrets — once, on first use, and adapts handlers to it.
//
// A function package registers a handler in init and lets instance build it
// lazily, so a cold start that cannot reach Firestore answers 503 (Pub/Sub
// and Cloud Scheduler retry) instead of crashing, and recovers once the
// dependency answers:
//
//	func init() {
//		functions.HTTP("Health", instance.HTTP("Health", func(env *instance.Env) (http.Handler, error) {
//			return &Handler{Store: env.Store, Version: env.Config.Version}, nil
//		}))
//	}
//
// Tests do not use this package: they build the handler's struct directly
// with the dependencies they want.
package instance

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/config"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/secrets"
	"github.com/crmsync/crmsync/shared/store"
)

// Env is a function instance's dependencies.
type Env struct {
	Config  config.Config
	Log     *slog.Logger
	Store   *store.Store
	Secrets secrets.Source
	// Clock tells the time: the system clock, moved by
	// CRMSYNC_CLOCK_OFFSET in the sandbox's tests.
	Clock clock.Clock

	mu   sync.Mutex
	kept map[string]any
}

// Keep returns the instance's one value named name, making it with make on
// first use (a failure is not kept): clients such as the Pub/Sub
// publisher are made once per instance, not once per builder or per
// failed build.
func (e *Env) Keep(name string, make func() (any, error)) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if v, ok := e.kept[name]; ok {
		return v, nil
	}
	v, err := make()
	if err != nil {
		return nil, err
	}
	if e.kept == nil {
		e.kept = map[string]any{}
	}
	e.kept[name] = v
	return v, nil
}

// Load reads the configuration and opens the store and secret source.
func Load(ctx context.Context) (*Env, error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return nil, err
	}
	log := logging.New(os.Stdout, cfg.LogLevel, cfg.ProjectID)
	clk := clock.Of(cfg.ClockOffset)
	st, err := store.Open(ctx, cfg.ProjectID, cfg.FirestoreDatabase, clk)
	if err != nil {
		return nil, err
	}
	sec, err := secrets.Open(ctx, cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &Env{Config: cfg, Log: log, Store: st, Secrets: sec, Clock: clk}, nil
}

// retryBuildAfter keeps a failing build from being retried on every request.
const retryBuildAfter = 5 * time.Second

// HTTP returns a handler that builds its real handler with build on first
// use and serves through it, with trace-aware logging and panic recovery.
// While building fails it answers 503 and logs why (at most every few
// seconds), and tries again on a later request.
func HTTP(name string, build func(*Env) (http.Handler, error)) http.HandlerFunc {
	l := &lazy{name: name, build: build, load: Load}
	return l.serve
}

type lazy struct {
	name  string
	build func(*Env) (http.Handler, error)
	load  func(context.Context) (*Env, error)

	mu       sync.Mutex
	env      *Env // loaded once: a failed build is retried with it
	handler  http.Handler
	failedAt time.Time
	lastErr  error
}

func (l *lazy) get(ctx context.Context) (http.Handler, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.handler != nil {
		return l.handler, nil
	}
	if l.lastErr != nil && time.Since(l.failedAt) < retryBuildAfter {
		return nil, l.lastErr
	}
	// The environment's clients (Firestore, Secret Manager) are made once
	// and kept: a build that fails is retried with them, not with new ones
	// that the failed attempt would leak.
	var err error
	if l.env == nil {
		l.env, err = l.load(ctx)
	}
	if err == nil {
		var h http.Handler
		if h, err = l.build(l.env); err == nil {
			l.handler, l.lastErr = logging.Middleware(l.env.Log, h), nil
			return l.handler, nil
		}
	}
	l.failedAt, l.lastErr = time.Now(), err
	// No configured logger exists yet: write the reason in the same shape.
	logging.New(os.Stderr, slog.LevelInfo, "").ErrorContext(ctx, "function instance cannot start", "function", l.name, "error", err.Error())
	return nil, err
}

func (l *lazy) serve(w http.ResponseWriter, r *http.Request) {
	h, err := l.get(r.Context())
	if err != nil {
		logging.WriteError(w, http.StatusServiceUnavailable, l.name+" is not ready; the reason is in the function's log")
		return
	}
	h.ServeHTTP(w, r)
}
