package crmtest

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/crm/restcrm"
)

// Outage puts a CRM REST API handler behind a switch: while down, every
// request answers 503 UNAVAILABLE before reaching the CRM, as a CRM that
// is restarting or unreachable does. Fault tests turn it off and on.
type Outage struct {
	Next    http.Handler
	down    atomic.Bool
	refused atomic.Int64
}

// Down starts or ends the outage.
func (o *Outage) Down(down bool) { o.down.Store(down) }

// Refused counts the requests answered 503.
func (o *Outage) Refused() int64 { return o.refused.Load() }

func (o *Outage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if o.down.Load() {
		o.refused.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":{"code":503,"status":"UNAVAILABLE","message":"the CRM is down"}}`))
		return
	}
	o.Next.ServeHTTP(w, r)
}

// OutageClient serves api behind an Outage for the rest of the test and
// returns the switch and a restcrm client of it that retries without
// waiting, as the engines' fault tests use them.
func OutageClient(tb testing.TB, api http.Handler) (*Outage, *restcrm.Client) {
	outage := &Outage{Next: api}
	srv := httptest.NewServer(outage)
	tb.Cleanup(srv.Close)
	client := restcrm.New(srv.URL+"/", "k")
	client.Backoff = func(int) time.Duration { return time.Millisecond }
	return outage, client
}
