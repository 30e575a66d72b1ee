package health

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/store/storetest"
)

func get(t *testing.T, h http.Handler, method string) (*httptest.ResponseRecorder, Report) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, "/Health", nil))
	var rep Report
	if method == http.MethodGet && rec.Code != http.StatusMethodNotAllowed {
		if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
			t.Fatalf("body %q is not a report: %v", rec.Body, err)
		}
	}
	return rec, rep
}

// Against the Firestore emulator the store is reachable and Health says ok.
func TestHealthyAgainstEmulator(t *testing.T) {
	h := &Handler{Store: storetest.New(t, nil), Version: "v1.2.3", Log: logging.Discard(), Clock: clock.Real{}}
	rec, rep := get(t, h, http.MethodGet)
	if rec.Code != http.StatusOK || rep.Status != "ok" || rep.Version != "v1.2.3" || !rep.Store.Reachable {
		t.Errorf("GET /Health = %d %+v", rec.Code, rep)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
}

type downStore struct{}

func (downStore) Ping(ctx context.Context) error {
	return failure.Errorf("store: ping", failure.Transient, "connection refused")
}

func TestUnreachableStoreIs503(t *testing.T) {
	h := &Handler{Store: downStore{}, Version: "dev", Log: logging.Discard(), Clock: clock.NewFake(time.Unix(0, 0))}
	rec, rep := get(t, h, http.MethodGet)
	if rec.Code != http.StatusServiceUnavailable || rep.Status != "unavailable" || rep.Store.Reachable || rep.Store.Error != "store: ping: connection refused" {
		t.Errorf("GET /Health = %d %+v", rec.Code, rep)
	}
	if rec, _ := get(t, h, http.MethodPost); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /Health = %d", rec.Code)
	}
	if rec, _ := get(t, h, http.MethodHead); rec.Code != http.StatusServiceUnavailable || rec.Body.Len() != 0 {
		t.Errorf("HEAD /Health = %d with %d bytes", rec.Code, rec.Body.Len())
	}
}
