package calendarsync_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	calendar "google.golang.org/api/calendar/v3"

	"github.com/crmsync/crmsync/shared/calendarsync"
	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/syncpass/syncpasstest"
)

// The initial sync of N Google events to the CRM (CRMSYNC_BENCH_EVENTS,
// default 5,000), then a pass with 1% of them moved. Run once: -benchtime 1x.
func BenchmarkCalendarSync(b *testing.B) {
	n := 5000
	if v := os.Getenv("CRMSYNC_BENCH_EVENTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	for range b.N {
		b.StopTimer()
		w := syncpasstest.New(b, "bench", fakegoogle.Options{})
		ctx, g := w.Ctx, w.Google
		g.AddUser(fakegoogle.User{Email: ann, TimeZone: "America/New_York"})
		base := time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Hour)
		var ids []string
		for i := range n {
			t0 := base.Add(time.Duration(i) * 30 * time.Minute)
			id, err := g.AddEvent(ann, "primary", &calendar.Event{Summary: fmt.Sprint("Meeting ", i),
				Start: &calendar.EventDateTime{DateTime: t0.Format(time.RFC3339), TimeZone: "America/New_York"},
				End:   &calendar.EventDateTime{DateTime: t0.Add(30 * time.Minute).Format(time.RFC3339), TimeZone: "America/New_York"}})
			if err != nil {
				b.Fatal(err)
			}
			ids = append(ids, id)
		}
		w.Import(b, refcrm.Dataset{Users: []refcrm.ImportUser{{Key: "u-ann", Email: ann, IntegrationEnabled: true}}})
		w.AddSyncingUser(b, store.User{Email: ann, Calendar: store.CalendarSetup{Direction: "both", Recurring: true, AllDay: true}})
		e := &calendarsync.Engine{Deps: w.Deps("bench"), CRM: w.CRM, Google: w.Factory}
		g.ResetUsage()
		r, initial, err := syncpasstest.TimedPass(b, ctx, e.Pass, ann)
		if err != nil || r.CreatedCRM != n {
			b.Fatalf("initial: %+v, %v", r, err)
		}
		b.ReportMetric(initial.Seconds(), "initial-s")
		b.ReportMetric(float64(r.CalendarCalls), "initial-calendar-calls")
		b.ReportMetric(float64(n)/initial.Seconds(), "initial-events/s")

		// Echo of the initial writes, then 1% of the events moved in Google.
		if _, err := e.Pass(ctx, ann); err != nil {
			b.Fatal(err)
		}
		cal, _ := w.Factory.Calendar(ctx, ann)
		for _, id := range ids[:n/100] {
			ev, _ := cal.Events.Get("primary", id).Do()
			t0, _ := time.Parse(time.RFC3339, ev.Start.DateTime)
			t0 = t0.Add(time.Hour)
			if _, err := cal.Events.Patch("primary", id, &calendar.Event{Start: &calendar.EventDateTime{DateTime: t0.Format(time.RFC3339), TimeZone: "America/New_York"},
				End: &calendar.EventDateTime{DateTime: t0.Add(30 * time.Minute).Format(time.RFC3339), TimeZone: "America/New_York"}}).Do(); err != nil {
				b.Fatal(err)
			}
		}
		g.ResetUsage()
		r, incr, err := syncpasstest.TimedPass(b, ctx, e.Pass, ann)
		if err != nil || r.UpdatedCRM != n/100 {
			b.Fatalf("incremental: %+v, %v", r, err)
		}
		b.ReportMetric(incr.Seconds(), "incremental-s")
		b.ReportMetric(float64(r.CalendarCalls), "incremental-calendar-calls")
		b.ReportMetric(incr.Seconds()*1000/float64(n/100), "ms-per-synced-event")
	}
}

// From a change in Google to the activity in the CRM through the push
// channel: the notification runs a pass (in-process, as the Jobs function
// would after the jobs topic). Reports p50/p99 and Calendar calls per
// synced event.
func BenchmarkPushLatency(b *testing.B) {
	w := syncpasstest.New(b, "bench", fakegoogle.Options{})
	ctx, g, fac := w.Ctx, w.Google, w.Factory
	g.AddUser(fakegoogle.User{Email: ann})
	w.Import(b, refcrm.Dataset{Users: []refcrm.ImportUser{{Key: "u-ann", Email: ann, IntegrationEnabled: true}}})
	w.AddSyncingUser(b, store.User{Email: ann, Calendar: store.CalendarSetup{Direction: "both"}})
	e := &calendarsync.Engine{Deps: w.Deps("bench"), CRM: w.CRM, Google: fac}
	// The webhook: a checked notification asks a single worker for a pass.
	kick := make(chan struct{}, 1)
	var calls, passes atomic.Int64
	var inPass sync.Mutex // held by the worker during a pass
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, _ := e.CheckNotification(r.Context(), calendarsync.Notification{User: r.URL.Query().Get("user"),
			ChannelID: r.Header.Get("X-Goog-Channel-ID"), Token: r.Header.Get("X-Goog-Channel-Token")})
		if ok && r.Header.Get("X-Goog-Resource-State") != "sync" {
			select {
			case kick <- struct{}{}:
			default:
			}
		}
	}))
	b.Cleanup(hook.Close)
	e.WebhookURL = hook.URL
	if _, err := e.Pass(ctx, ann); err != nil { // opens the channel
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-kick:
				inPass.Lock()
				r, err := e.Pass(ctx, ann)
				if err == nil {
					calls.Add(int64(r.CalendarCalls))
					passes.Add(1)
				}
				inPass.Unlock()
			}
		}
	}()
	b.Cleanup(func() { close(done) })
	cal, _ := w.Factory.Calendar(ctx, ann)
	var lat []time.Duration
	day := time.Now().AddDate(0, 0, 1).Truncate(time.Hour)
	b.ResetTimer()
	for i := range b.N {
		title := fmt.Sprint("Pushed ", i)
		start := time.Now()
		if _, err := cal.Events.Insert("primary", &calendar.Event{Summary: title,
			Start: &calendar.EventDateTime{DateTime: day.Add(time.Duration(i) * time.Hour).Format(time.RFC3339), TimeZone: "UTC"},
			End:   &calendar.EventDateTime{DateTime: day.Add(time.Duration(i)*time.Hour + 30*time.Minute).Format(time.RFC3339), TimeZone: "UTC"}}).Do(); err != nil {
			b.Fatal(err)
		}
		for {
			acts, _ := w.CRM.ListActivities(ctx, "u-ann")
			if slices.ContainsFunc(acts, func(a crm.Activity) bool { return a.Title == title }) {
				break
			}
			if time.Since(start) > 30*time.Second {
				b.Fatalf("event %d never reached the CRM", i)
			}
			time.Sleep(2 * time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	// The last event reached the CRM during a pass; count it when it ends.
	inPass.Lock()
	defer inPass.Unlock()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)-1)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(calls.Load())/float64(max(passes.Load(), 1)), "calendar-calls/pass")
}
