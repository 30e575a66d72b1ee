package refcrm_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/logging"
)

// A request against a Firestore out of reach answers within the request
// deadline (503, retry later) instead of never: the client retries an
// unreachable server for as long as its context lives.
func TestARequestAnswersWhenFirestoreIsOutOfReach(t *testing.T) {
	old := refcrm.RequestTimeout
	refcrm.RequestTimeout = 300 * time.Millisecond
	t.Cleanup(func() { refcrm.RequestTimeout = old })
	ctx := context.Background()
	// Nothing listens on port 1: every call is refused, and retried. (The
	// client takes FIRESTORE_EMULATOR_HOST over any endpoint option.)
	t.Setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
	fs, err := firestore.NewClient(ctx, "unreachable")
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	const key = "a-key-of-at-least-thirty-two-characters!"
	h := refcrm.Handler(refcrm.New(fs, "test", nil), refcrm.Keys{Sync: key}, logging.Discard())
	req := httptest.NewRequest("GET", "/v1/users", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	start := time.Now()
	go func() { h.ServeHTTP(rec, req); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the request against an unreachable Firestore has not answered in 10 s")
	}
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("answered %d %s, want 503", rec.Code, rec.Body)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("answered after %v; the deadline is %v", took, refcrm.RequestTimeout)
	}
}

func TestTheAPIKeyMustBeLongEnough(t *testing.T) {
	for key, ok := range map[string]bool{"": false, "sandbox-crm-key": false, "   padded                 short   ": false,
		"0123456789abcdef0123456789abcdef": true} {
		if err := refcrm.CheckAPIKey(key); (err == nil) != ok {
			t.Errorf("CheckAPIKey(%q) = %v", key, err)
		}
	}
}
