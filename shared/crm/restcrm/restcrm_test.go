package restcrm_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/crmsync/crmsync/shared/crm/crmtest"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/crm/restcrm"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/store/storetest"
)

const apiKey = "test-key"

// serve runs the reference CRM's API over HTTP, with wrap in front of it.
func serve(t *testing.T, wrap func(http.Handler) http.Handler) (*refcrm.Store, string) {
	s := refcrm.New(storetest.Client(t), "test", nil)
	s.MaxNoteBytes = crmtest.MaxNoteBytes
	var h http.Handler = refcrm.Handler(s, apiKey, logging.Discard())
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return s, srv.URL + "/"
}

func TestConformanceOverHTTP(t *testing.T) {
	crmtest.Run(t, func(t *testing.T) crmtest.Subject {
		_, url := serve(t, nil)
		return restcrm.New(url, apiKey)
	})
}
