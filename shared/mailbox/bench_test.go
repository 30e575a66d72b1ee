package mailbox_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/mailbox"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/store/storetest"
	"github.com/crmsync/crmsync/shared/workspace"
)

// Benchmarks of label posting with Google modelled: 20 ms added to every
// fake Google call and Gmail's per-user limit for projects made since 1
// May 2026, 6,000 units in any minute (the quota page). They report Gmail
// quota units, Firestore RPCs and CRM calls per posted message, latency
// and burst throughput; each runs the engine and, beside it, the naive
// loop (naive_test.go) on the same fake, CRM and emulator.

// countingCRM counts the engine's CRM calls.
type countingCRM struct {
	mailbox.CRM
	calls atomic.Int64
}

func (c *countingCRM) UserByEmail(ctx context.Context, e string) (crm.User, error) {
	c.calls.Add(1)
	return c.CRM.UserByEmail(ctx, e)
}
func (c *countingCRM) FindContacts(ctx context.Context, as, e string) ([]crm.Contact, error) {
	c.calls.Add(1)
	return c.CRM.FindContacts(ctx, as, e)
}
func (c *countingCRM) PostNote(ctx context.Context, w crm.Write, n crm.Note) (crm.Note, error) {
	c.calls.Add(1)
	return c.CRM.PostNote(ctx, w, n)
}

type benchWorld struct {
	*world
	rpcs *storetest.RPCCounter
	crm  *countingCRM
}

func newBenchWorld(b *testing.B) *benchWorld {
	ctx := context.Background()
	fs, rpcs := storetest.CountingClient(b)
	st := store.New(fs, clock.Real{})
	// Gmail's per-user limit: 6,000 units in any minute.
	g := fakegoogle.Started(b, fakegoogle.Options{Clock: clock.Real{}, QuotaPerUserPerMinute: mailbox.DefaultUserUnitsPerMinute})
	g.AddUser(fakegoogle.User{Email: ann})
	c := refcrm.New(storetest.Client(b), "bench", nil)
	ids, err := c.Import(ctx, refcrm.Dataset{
		Contacts: []refcrm.ImportContact{{Key: "ann", FirstName: "Ann", Emails: []string{ann}}, {Key: "carol", FirstName: "Carol", Emails: []string{"carol@client.test"}}},
		Users:    []refcrm.ImportUser{{Key: "u-ann", Email: ann, IntegrationEnabled: true, Contact: "ann", Domains: []string{"firm.test"}}},
	})
	if err != nil {
		b.Fatal(err)
	}
	st.Tenants().Create(ctx, store.Tenant{ID: "firm", Name: "Firm", CRMName: "SmartOffice", Domains: []string{"firm.test"}, AttachmentLimitBytes: 10 << 20})
	st.Users().Create(ctx, store.User{TenantID: "firm", Email: ann, Connection: store.Connection{State: store.Connected}, SyncState: store.Active,
		Mail: store.MailSetup{Enabled: true, Outgoing: []string{"To"}, Incoming: []string{"From"}, SkipInternal: true, IncludeAttachments: true}})
	counted := &countingCRM{CRM: c}
	w := &world{ctx: ctx, st: st, google: g, crm: c, ids: ids}
	w.engine = &mailbox.Engine{Store: st, CRM: counted, Log: logging.Discard(), Clock: clock.Real{}, Topic: "projects/p/topics/gmail", Holder: "bench",
		Google: &workspace.Factory{Endpoint: g.URL(), Tokens: g.Tokens}}
	if err := w.engine.Connect(ctx, ann); err != nil {
		b.Fatal(err)
	}
	w.gm, _ = w.engine.Google.(*workspace.Factory).Gmail(ctx, ann)
	g.SetFault("*", &fakegoogle.Fault{Latency: 20 * time.Millisecond})
	return &benchWorld{world: w, rpcs: rpcs, crm: counted}
}

// labelAll labels the messages as the user does in Gmail, which spends
// none of the API quota the engine is measured against.
func (w *benchWorld) labelAll(b *testing.B, ids []string) {
	if err := w.google.LabelMessages(ann, ids, w.labelIDB(b, "SmartOffice")); err != nil {
		b.Fatal(err)
	}
}

func (w *benchWorld) labelIDB(b *testing.B, name string) string {
	list, err := w.gm.Users.Labels.List("me").Do()
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range list.Labels {
		if l.Name == name {
			return l.Id
		}
	}
	b.Fatalf("no label %s", name)
	return ""
}

func (w *benchWorld) units() int {
	n := 0
	for _, u := range w.google.Usage(ann) {
		n += u.Units
	}
	return n
}

func report(b *testing.B, w *benchWorld, posted int, units int, crmCalls int64, fs storetest.Usage) {
	b.ReportMetric(float64(units)/float64(posted), "units/msg")
	b.ReportMetric(float64(crmCalls)/float64(posted), "crm-calls/msg")
	b.ReportMetric(float64(fs.RPCs["Commit"])/float64(posted), "fs-commits/msg")
	b.ReportMetric(float64(fs.Reads)/float64(posted), "fs-doc-reads/msg")
	b.ReportMetric(float64(fs.Writes+fs.Deletes)/float64(posted), "fs-doc-writes/msg")
	b.Logf("Firestore for %d messages: RPCs %v, %d document reads, %d writes, %d deletes", posted, fs.RPCs, fs.Reads, fs.Writes, fs.Deletes)
}

// One message at a time: the latency from the notification to the message
// carrying its status label; the engine, and the naive loop beside it.
func BenchmarkPostSingleMessages(b *testing.B) {
	b.Run("engine", func(b *testing.B) { benchSingle(b, enginePass) })
	b.Run("naive", func(b *testing.B) { benchSingle(b, naivePass) })
}

// A pass maker: what runs a pass for the notification, on a bench world.
type passMaker func(b *testing.B, w *benchWorld) (pass func() (posted int, err error), refusals func() int)

func enginePass(b *testing.B, w *benchWorld) (func() (int, error), func() int) {
	return func() (int, error) {
		r, err := w.engine.Process(w.ctx, ann)
		return r.Posted, err
	}, func() int { return 0 }
}

func naivePass(b *testing.B, w *benchWorld) (func() (int, error), func() int) {
	n := newNaive(b, w)
	return func() (int, error) { return n.pass(w.ctx) }, func() int { return n.refusals }
}

func benchSingle(b *testing.B, newPass passMaker) {
	w := newBenchWorld(b)
	pass, _ := newPass(b, w)
	ids := make([]string, b.N)
	for i := range b.N {
		id, err := w.google.InsertMessage(ann, []byte(fmt.Sprintf("From: carol@client.test\r\nTo: %s\r\nSubject: s%d\r\n\r\nhi", ann, i)), []string{"INBOX"})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = id
	}
	w.rpcs.Take()
	w.google.ResetUsage()
	w.crm.calls.Store(0)
	var lat []time.Duration
	units := 0
	b.ResetTimer()
	for i := range b.N {
		w.labelAll(b, ids[i:i+1]) // the user's labeling is not the product's cost
		before := w.units()
		start := time.Now()
		posted, err := pass()
		if err != nil || posted != 1 {
			b.Fatalf("pass %d: %d posted, %v", i, posted, err)
		}
		lat = append(lat, time.Since(start))
		units += w.units() - before
	}
	b.StopTimer()
	report(b, w, b.N, units, w.crm.calls.Load(), w.rpcs.Take())
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)-1)*99/100].Milliseconds()), "p99-ms")
}

// A burst of 2,000 labeled messages in one pass (the first notification);
// the throughput is compared with the rate Gmail's per-user limit allows
// (6,000 units a minute over the units each message takes), which the fake
// enforces and the engine paces to.
func BenchmarkPostBurst2000(b *testing.B) {
	b.Run("engine", func(b *testing.B) { benchBurst(b, enginePass) })
	b.Run("naive", func(b *testing.B) { benchBurst(b, naivePass) })
}

func benchBurst(b *testing.B, newPass passMaker) {
	const n = 2000
	for range b.N {
		b.StopTimer()
		w := newBenchWorld(b)
		pass, refusals := newPass(b, w)
		w.google.SetFault("*", nil)
		ids := make([]string, n)
		for i := range n {
			id, err := w.google.InsertMessage(ann, []byte(fmt.Sprintf("From: carol@client.test\r\nTo: %s\r\nSubject: b%d\r\n\r\nhi", ann, i)), []string{"INBOX"})
			if err != nil {
				b.Fatal(err)
			}
			ids[i] = id
		}
		w.labelAll(b, ids)
		w.google.SetFault("*", &fakegoogle.Fault{Latency: 20 * time.Millisecond})
		w.rpcs.Take()
		w.google.ResetUsage()
		w.crm.calls.Store(0)
		var peak atomic.Uint64
		stop := make(chan struct{})
		go func() {
			var ms runtime.MemStats
			for {
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
		b.StartTimer()
		start := time.Now()
		posted, err := pass()
		elapsed := time.Since(start)
		b.StopTimer()
		close(stop)
		if err != nil || posted != n {
			b.Fatalf("burst: %d posted, %v", posted, err)
		}
		limited := 0
		for _, u := range w.google.Usage(ann) {
			limited += u.RateLimited
		}
		units := w.units()
		rate := float64(n) / elapsed.Seconds()
		quotaBound := float64(mailbox.DefaultUserUnitsPerMinute) / 60 / (float64(units) / n)
		report(b, w, n, units, w.crm.calls.Load(), w.rpcs.Take())
		b.ReportMetric(rate, "msgs/s")
		b.ReportMetric(100*rate/quotaBound, "%-of-quota-rate")
		b.ReportMetric(float64(limited), "refusals")
		if refusals() != 0 {
			b.Logf("the naive loop waited out %d refusals", refusals())
		}
		b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	}
}
