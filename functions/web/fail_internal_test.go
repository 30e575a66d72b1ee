package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/logging"
)

// A refusal shows the product's own sentence; what the store, a library or
// a remote service answered stays in the log, and the page says in words
// what the refusal means. Headings are words, not HTTP's names.
func TestRefusalsShowOnlyTheProductsOwnWords(t *testing.T) {
	h := &Handler{Log: logging.Discard()}
	for name, c := range map[string]struct {
		err        error
		want, hide string
	}{
		"the store's NotFound": {failure.E("store: user get", failure.NotFound, status.Error(codes.NotFound, "projects/p/databases/(default)/documents/users/x not found")),
			"does not exist", "projects/p"},
		"a library's refusal": {failure.E("web: form", failure.Invalid, errors.New("http: request body too large")), "could not be understood", "http:"},
		"a conflict from the store": {failure.E("store: user update", failure.Conflict, status.Error(codes.Aborted, "too much contention on these documents")),
			"Something changed", "contention"},
		"the product's own sentence": {failure.Errorf("store: preview decide", failure.Invalid, "this preview expired on 1 Dec 2026 10:00 UTC; save your settings again for a new one"),
			"this preview expired", "store: preview decide"},
	} {
		rec := httptest.NewRecorder()
		h.fail(rec, httptest.NewRequest("GET", "/settings", nil), c.err, "")
		page := rec.Body.String()
		if !strings.Contains(page, c.want) || strings.Contains(page, c.hide) {
			t.Errorf("%s: the page lacks %q or shows %q:\n%.600s", name, c.want, c.hide, page)
		}
		if title := http.StatusText(rec.Code); strings.Contains(page, "<h1>"+title+"</h1>") {
			t.Errorf("%s: headed %q", name, title)
		}
	}
}
