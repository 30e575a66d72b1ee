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
