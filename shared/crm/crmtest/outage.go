package crmtest

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/crm/restcrm"
	"github.com/crmsync/crmsync/shared/failure"
)

// Outage puts a CRM REST API handler behind a switch: while down, every
// request answers 503 UNAVAILABLE before reaching the CRM, as a CRM that
// is restarting or unreachable does. Fault tests turn it off and on.
//
// It also watches the change feed for Contend: each feed read is held
// for a while, and MaxFeedReaders reports the most feed reads that were
// in flight at once, so a contention test can see whether passes of one
// user overlapped (each pass reads its feed once).
type Outage struct {
	Next      http.Handler
	down      atomic.Bool
	refused   atomic.Int64
	feedDelay atomic.Int64 // nanoseconds
	readers   atomic.Int64
	most      atomic.Int64
}

// MaxFeedReaders is the most change-feed reads that were in flight at once.
func (o *Outage) MaxFeedReaders() int64 { return o.most.Load() }

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
	if r.URL.Path == "/v1/changes" {
		n := o.readers.Add(1)
		defer o.readers.Add(-1)
		for m := o.most.Load(); n > m && !o.most.CompareAndSwap(m, n); m = o.most.Load() {
		}
		time.Sleep(time.Duration(o.feedDelay.Load()))
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

// Contend runs n passes of one user at once, alternating between the
// given pass functions (say, two instances' engines), with every feed
// read held for 30 ms so that overlapping passes would show. It fails tb
// unless the passes never read the feed together, some ran, the others
// were refused with Conflict, and none failed otherwise.
func (o *Outage) Contend(tb testing.TB, n int, passes ...func() error) {
	tb.Helper()
	o.most.Store(0)
	o.feedDelay.Store(int64(30 * time.Millisecond))
	defer o.feedDelay.Store(0)
	var wg sync.WaitGroup
	var ran, refused atomic.Int32
	for i := range n {
		pass := passes[i%len(passes)]
		wg.Go(func() {
			switch err := pass(); {
			case err == nil:
				ran.Add(1)
			case failure.Is(err, failure.Conflict):
				refused.Add(1)
			default:
				tb.Errorf("a concurrent pass failed: %v", err)
			}
		})
	}
	wg.Wait()
	if m := o.MaxFeedReaders(); m != 1 {
		tb.Errorf("%d passes of one user read the feed at once, want 1", m)
	}
	if ran.Load() == 0 || refused.Load() == 0 {
		tb.Errorf("%d passes ran and %d were refused; want some of each", ran.Load(), refused.Load())
	}
}
