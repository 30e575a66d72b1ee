package instance

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/logging"
)

// A failing start answers 503 and is retried later; a good one is built once.
func TestLazyBuildsOnceAndRetriesFailures(t *testing.T) {
	loads := 0
	fail := true
	l := &lazy{
		name: "Health",
		load: func(context.Context) (*Env, error) {
			loads++
			if fail {
				return nil, errors.New("config: GOOGLE_CLOUD_PROJECT is not set")
			}
			return &Env{Log: logging.Discard()}, nil
		},
		build: func(*Env) (http.Handler, error) {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }), nil
		},
	}
	serve := func() int {
		rec := httptest.NewRecorder()
		l.serve(rec, httptest.NewRequest("GET", "/", nil))
		return rec.Code
	}
	if got := serve(); got != http.StatusServiceUnavailable {
		t.Errorf("failing start: status %d, want 503", got)
	}
	serve()
	if loads != 1 {
		t.Errorf("loads = %d, want 1 (failures are not retried on every request)", loads)
	}
	fail = false
	l.failedAt = time.Now().Add(-retryBuildAfter)
	for range 3 {
		if got := serve(); got != http.StatusTeapot {
			t.Errorf("after recovery: status %d", got)
		}
	}
	if loads != 2 {
		t.Errorf("loads = %d, want 2 (built once after recovery)", loads)
	}
}

// A build that fails (a secret not added yet) is retried with the clients
// the instance already has: the environment is loaded once, so no retry
// leaks a Firestore or Secret Manager client.
func TestAFailingBuildIsRetriedWithTheSameEnvironment(t *testing.T) {
	loads, builds := 0, 0
	var seen []*Env
	l := &lazy{
		name: "Web",
		load: func(context.Context) (*Env, error) { loads++; return &Env{Log: logging.Discard()}, nil },
		build: func(env *Env) (http.Handler, error) {
			builds++
			seen = append(seen, env)
			if builds < 3 {
				return nil, errors.New("secrets: signing-key has no version")
			}
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }), nil
		},
	}
	for range 3 {
		rec := httptest.NewRecorder()
		l.serve(rec, httptest.NewRequest("GET", "/", nil))
		l.failedAt = time.Now().Add(-retryBuildAfter)
	}
	if builds != 3 || loads != 1 || seen[0] != seen[1] || seen[1] != seen[2] {
		t.Errorf("%d builds, %d loads; want 3 builds on one loaded environment", builds, loads)
	}
}

// Keep makes a value once per instance, and tries again after a failure.
func TestKeepMakesOnce(t *testing.T) {
	env := &Env{}
	makes := 0
	mk := func() (any, error) {
		makes++
		if makes == 1 {
			return nil, errors.New("pubsub: unavailable")
		}
		return makes, nil
	}
	if _, err := env.Keep("publisher", mk); err == nil {
		t.Fatal("the failure was not returned")
	}
	a, _ := env.Keep("publisher", mk)
	b, _ := env.Keep("publisher", mk)
	if a != 2 || b != 2 || makes != 2 {
		t.Errorf("Keep: %v %v after %d makes", a, b, makes)
	}
}
