package loadtest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/calendarsync"
	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/contactsync"
	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/crm/restcrm"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/mailbox"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/store/storetest"
	"github.com/crmsync/crmsync/shared/syncpass"
	"github.com/crmsync/crmsync/shared/workspace"
	"google.golang.org/api/people/v1"
)

// counted counts the CRM API's requests.
type counted struct {
	next http.Handler
	n    atomic.Int64
}

func (c *counted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	c.next.ServeHTTP(w, r)
}

// latencies collects one feature's per-user latencies.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }

func (l *latencies) pct(p float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func users(b *testing.B) int {
	if v := os.Getenv("CRMSYNC_LOAD_USERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("CRMSYNC_LOAD_USERS=%q", v)
		}
		return n
	}
	return 10
}

// featureCost is what the product spent on one feature's passes: the
// product's Firestore documents, the reference CRM's, Google quota units
// and CRM API calls; and the reference CRM's query time, which on the
// emulator (it scans instead of using indexes) grows with the data.
type featureCost struct {
	wall                               time.Duration
	reads, writes, crmReads, crmWrites int
	units, crmCalls, queries           int
	queryTime                          time.Duration
}

func (c *featureCost) add(wall time.Duration, fs, crmFS storetest.Usage, units int, crmCalls int64) {
	c.sum(&featureCost{wall: wall, reads: fs.Reads, writes: fs.Writes + fs.Deletes, crmReads: crmFS.Reads, crmWrites: crmFS.Writes + crmFS.Deletes,
		units: units, crmCalls: int(crmCalls), queries: crmFS.RPCs["RunQuery"], queryTime: crmFS.Time["RunQuery"]})
}

func (c *featureCost) sum(o *featureCost) {
	c.wall += o.wall
	c.reads, c.writes, c.crmReads, c.crmWrites = c.reads+o.reads, c.writes+o.writes, c.crmReads+o.crmReads, c.crmWrites+o.crmWrites
	c.units, c.crmCalls, c.queries, c.queryTime = c.units+o.units, c.crmCalls+o.crmCalls, c.queries+o.queries, c.queryTime+o.queryTime
}

// per describes the cost per user of n users.
func (c *featureCost) per(n int) string {
	f := func(v int) float64 { return float64(v) / float64(n) }
	return fmt.Sprintf("%.1f Firestore reads, %.1f writes; reference CRM Firestore %.1f reads, %.1f writes; %.1f quota units; %.1f CRM calls (all users: %v)",
		f(c.reads), f(c.writes), f(c.crmReads), f(c.crmWrites), f(c.units), f(c.crmCalls), c.wall.Round(time.Millisecond))
}

// The working day, compressed: each of `rounds` rounds, for every user,
// 3 messages arrive from the user's clients and 2 are labeled, a contact is
// added in Google and one renamed in the CRM, and an event is added in
// Google; then every user's notification pass, contact pass and calendar
// pass run, 16 at a time (function instances), as the jobs topic would.
func BenchmarkFirm(b *testing.B) {
	const rounds, workers = 4, 16
	n := users(b)
	ctx := context.Background()
	fs, rpcs := storetest.CountingClient(b)
	st := store.New(fs, clock.Real{})
	g := fakegoogle.Started(b, fakegoogle.Options{Clock: clock.Real{}})
	crmFS, crmRPCs := storetest.CountingClient(b)
	crmStore := refcrm.New(crmFS, "firm", nil)
	crmHTTP := &counted{next: refcrm.Handler(crmStore, refcrm.Keys{Sync: "k"}, logging.Discard())}
	srv := httptest.NewServer(crmHTTP)
	b.Cleanup(srv.Close)
	client := restcrm.New(srv.URL+"/", "k")

	// The firm: N users, each with 10 CRM contacts of their own clients in
	// their own set (their book, which their contact sync is limited to),
	// 5 Google contacts (2 of them also in the CRM) and 5 events. (Syncing
	// "all contacts" puts the whole firm's CRM in every user's Google: that
	// work grows with users × contacts by its nature.)
	var ds refcrm.Dataset
	st.Tenants().Create(ctx, store.Tenant{ID: "firm", Name: "Firm", CRMName: "SmartOffice", Domains: []string{"firm.test"}, AttachmentLimitBytes: 10 << 20})
	email := func(i int) string { return fmt.Sprintf("u%03d@firm.test", i) }
	book := func(i int) string { return "Book of " + email(i) }
	for i := range n {
		u := email(i)
		g.AddUser(fakegoogle.User{Email: u, TimeZone: "America/New_York"})
		ds.Users = append(ds.Users, refcrm.ImportUser{Key: u, Email: u, IntegrationEnabled: true, Domains: []string{"firm.test"}})
		ds.Clients = append(ds.Clients, refcrm.ImportClient{Key: "cl" + u, Name: "Client of " + u})
		ds.Sets = append(ds.Sets, book(i))
		for c := range 10 {
			ds.Contacts = append(ds.Contacts, refcrm.ImportContact{Key: fmt.Sprintf("c%d-%d", i, c), FirstName: "C", LastName: fmt.Sprintf("%d-%d", i, c),
				Emails: []string{fmt.Sprintf("c%d-%d@client.test", i, c)}, Clients: []string{"cl" + u}, Sets: []string{book(i)}})
		}
		for c := range 5 {
			g.AddContact(fakegoogle.SeedContact{User: u, Given: "G", Family: fmt.Sprintf("%d-%d", i, c), Emails: []string{fmt.Sprintf("c%d-%d@client.test", i, c*3)}})
		}
		for e := range 5 {
			day := time.Now().AddDate(0, 0, 1+e)
			g.LoadSeed(fakegoogle.Seed{Events: []fakegoogle.SeedEvent{{User: u, Summary: fmt.Sprintf("Meeting %d", e), TimeZone: "America/New_York",
				Start: day.Format("2006-01-02") + "T10:00:00-05:00", End: day.Format("2006-01-02") + "T11:00:00-05:00"}}})
		}
	}
	ids, err := crmStore.Import(ctx, ds)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		u := email(i)
		st.Users().Create(ctx, store.User{TenantID: "firm", Email: u, Connection: store.Connection{State: store.Connected}, SyncState: store.Active,
			Mail:     store.MailSetup{Enabled: true, Outgoing: []string{"To", "Cc"}, Incoming: []string{"From"}, IncludeAttachments: true},
			Contacts: store.ContactsSetup{Direction: "both", CreateType: "contact", OnGoogleDelete: "delete", SetID: ids.Sets[book(i)]},
			Calendar: store.CalendarSetup{Direction: "both", Recurring: true, AllDay: true}})
	}
	// Google, as it answers from a data centre: 20 ms on every call.
	g.SetFault("*", &fakegoogle.Fault{Latency: 20 * time.Millisecond})
	google := &workspace.Factory{Endpoint: g.URL(), Tokens: g.Tokens}
	mail := &mailbox.Engine{Store: st, CRM: client, Google: google, Log: logging.Discard(), Clock: clock.Real{}, Topic: "projects/p/topics/gmail", Holder: "load"}
	contacts := &contactsync.Engine{Deps: syncpass.Deps{Store: st, Log: logging.Discard(), Clock: clock.Real{}, Holder: "load"}, CRM: client, Google: google}
	cal := &calendarsync.Engine{Deps: syncpass.Deps{Store: st, Log: logging.Discard(), Clock: clock.Real{}, Holder: "load"}, CRM: client, Google: google}

	each := func(fn func(i int)) {
		work := make(chan int)
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					fn(i)
				}
			}()
		}
		for i := range n {
			work <- i
		}
		close(work)
		wg.Wait()
	}
	var failures atomic.Int64
	check := func(what string, err error) {
		if err != nil {
			failures.Add(1)
			b.Logf("%s: %v", what, err)
		}
	}
	// Set up: the watch, and the first contact and calendar passes.
	each(func(i int) {
		check("connect", mail.Connect(ctx, email(i)))
		_, err := contacts.Pass(ctx, email(i))
		check("initial contacts", err)
		_, err = cal.Pass(ctx, email(i))
		check("initial calendar", err)
	})
	labelIDs := map[string]string{}
	for i := range n {
		u, _ := st.Users().Get(ctx, email(i))
		labelIDs[email(i)] = u.Mail.Labels[mailbox.RoleTrigger]
	}

	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()
	units := func() int {
		t := 0
		for _, u := range g.TotalUsage() {
			t += u.Units
		}
		return t
	}
	// meter splits what the product spends by phase: it is taken after
	// every phase, and charged to that phase's feature (the day's edits
	// are the users' and the CRM's own work, not the product's).
	units0, crm0 := units(), crmHTTP.n.Load()
	meter := func(into *featureCost, t0 time.Time) {
		fs, c, u, calls := rpcs.Take(), crmRPCs.Take(), units(), crmHTTP.n.Load()
		if into != nil {
			into.add(time.Since(t0), fs, c, u-units0, calls-crm0)
		}
		units0, crm0 = u, calls
	}
	meter(nil, time.Now())
	var mailLat, contactLat, calLat latencies
	var posted atomic.Int64
	busy := map[string]*featureCost{"mail": {}, "contacts": {}, "calendar": {}}
	var wall time.Duration
	b.ResetTimer()
	for r := range rounds {
		each(func(i int) {
			u := email(i)
			var labeled []string
			for m := range 3 {
				raw := fmt.Sprintf("From: C <c%d-%d@client.test>\r\nTo: %s\r\nSubject: r%d m%d\r\n\r\nbody\r\n", i, (r*3+m)%10, u, r, m)
				id, err := g.InsertMessage(u, []byte(raw), []string{"INBOX"})
				check("deliver", err)
				if m < 2 {
					labeled = append(labeled, id)
				}
			}
			check("label", g.LabelMessages(u, labeled, labelIDs[u]))
			_, err := g.AddContact(fakegoogle.SeedContact{User: u, Given: "New", Family: fmt.Sprintf("%d-%d", i, r), Emails: []string{fmt.Sprintf("new%d-%d@else.test", i, r)}})
			check("google contact", err)
			c, err := crmStore.Contact(ctx, "", ids.Contacts[fmt.Sprintf("c%d-%d", i, r%10)])
			check("crm contact", err)
			c.FirstName = fmt.Sprintf("Renamed%d", r)
			_, err = crmStore.UpdateContact(ctx, crm.Write{IdempotencyKey: fmt.Sprintf("rn-%d-%d", i, r)}, c)
			check("crm rename", err)
			day := time.Now().AddDate(0, 0, 10+r)
			check("event", g.LoadSeed(fakegoogle.Seed{Events: []fakegoogle.SeedEvent{{User: u, Summary: fmt.Sprintf("Review r%d", r), TimeZone: "America/New_York",
				Start: day.Format("2006-01-02") + "T15:00:00-05:00", End: day.Format("2006-01-02") + "T16:00:00-05:00"}}}))
		})
		meter(nil, time.Now())
		// Then the jobs topic's work, each feature in turn for every user.
		t0 := time.Now()
		each(func(i int) {
			t := time.Now()
			res, err := mail.Process(ctx, email(i))
			check("mail pass", err)
			mailLat.add(time.Since(t))
			posted.Add(int64(res.Posted))
		})
		meter(busy["mail"], t0)
		t1 := time.Now()
		each(func(i int) {
			t := time.Now()
			_, err := contacts.Pass(ctx, email(i))
			check("contact pass", err)
			contactLat.add(time.Since(t))
		})
		meter(busy["contacts"], t1)
		t2 := time.Now()
		each(func(i int) {
			t := time.Now()
			_, err := cal.Pass(ctx, email(i))
			check("calendar pass", err)
			calLat.add(time.Since(t))
		})
		meter(busy["calendar"], t2)
		wall += time.Since(t0)
	}
	b.StopTimer()
	close(stop)

	// Two idle rounds: the scheduler's passes after the day's last changes
	// (each sees its own writes come back once: the echo pass) and then
	// when nothing changed, which is most passes (the cost model in
	// docs/cost.md rests on these).
	kinds := []string{"mail sweep", "contact pass", "calendar pass"}
	idle := map[string]*featureCost{}
	for _, round := range []string{"echo", "quiet"} {
		for _, kind := range kinds {
			t0 := time.Now()
			each(func(i int) {
				var err error
				switch kind {
				case "mail sweep":
					_, err = mail.Sweep(ctx, email(i))
				case "contact pass":
					_, err = contacts.Pass(ctx, email(i))
				default:
					_, err = cal.Pass(ctx, email(i))
				}
				check(round+" "+kind, err)
			})
			idle[round+" "+kind] = &featureCost{}
			meter(idle[round+" "+kind], t0)
		}
	}
	var total featureCost
	for _, f := range []string{"mail", "contacts", "calendar"} {
		total.sum(busy[f])
		b.Logf("%s passes (%d rounds), per user: %s", f, rounds, busy[f].per(n))
	}
	for _, round := range []string{"echo", "quiet"} {
		for _, kind := range kinds {
			b.Logf("one %s %s, per user: %s", round, kind, idle[round+" "+kind].per(n))
		}
	}
	perUser := func(v int) float64 { return float64(v) / float64(n) }
	b.ReportMetric(float64(n), "users")
	b.ReportMetric(float64(posted.Load())/wall.Seconds(), "posted/s")
	b.ReportMetric(float64(mailLat.pct(0.5).Milliseconds()), "mail-p50-ms")
	b.ReportMetric(float64(mailLat.pct(0.99).Milliseconds()), "mail-p99-ms")
	b.ReportMetric(float64(contactLat.pct(0.5).Milliseconds()), "contacts-p50-ms")
	b.ReportMetric(float64(contactLat.pct(0.99).Milliseconds()), "contacts-p99-ms")
	b.ReportMetric(float64(calLat.pct(0.5).Milliseconds()), "calendar-p50-ms")
	b.ReportMetric(float64(calLat.pct(0.99).Milliseconds()), "calendar-p99-ms")
	b.ReportMetric(perUser(total.units), "units/user")
	b.ReportMetric(perUser(total.reads), "fs-reads/user")
	b.ReportMetric(perUser(total.writes), "fs-writes/user")
	b.ReportMetric(perUser(total.crmCalls), "crm-calls/user")
	b.ReportMetric(perUser(total.crmReads), "crm-fs-reads/user")
	b.ReportMetric(perUser(total.crmWrites), "crm-fs-writes/user")
	b.ReportMetric(float64(total.queryTime.Microseconds())/float64(max(total.queries, 1))/1000, "crm-query-ms")
	b.ReportMetric(float64(peak.Load()>>20), "peak-heap-MB")
	b.Logf("%d users, %d rounds in %v: %d posted, %d failures", n, rounds, wall.Round(time.Millisecond), posted.Load(), failures.Load())
	// Nothing lost: every user's day arrived on the other side.
	each(func(i int) {
		u := email(i)
		pp, err := google.People(ctx, u)
		check("verify: people", err)
		var given []string
		err = pp.People.Connections.List("people/me").PersonFields("names").PageSize(1000).Pages(ctx, func(r *people.ListConnectionsResponse) error {
			for _, p := range r.Connections {
				for _, nm := range p.Names {
					given = append(given, nm.GivenName)
				}
			}
			return nil
		})
		check("verify: connections", err)
		book, err := crmStore.ListContacts(ctx, "", crm.ContactQuery{SetID: ids.Sets[book(i)]})
		check("verify: book", err)
		crmUser := ids.Users[u]
		acts, err := crmStore.ListActivities(ctx, crmUser)
		check("verify: activities", err)
		for r := range rounds {
			if !slices.Contains(given, fmt.Sprintf("Renamed%d", r)) {
				check("verify", fmt.Errorf("%s: the CRM rename of round %d is not in Google", u, r))
			}
			if !slices.ContainsFunc(book, func(c crm.Contact) bool { return c.LastName == fmt.Sprintf("%d-%d", i, r) && c.FirstName == "New" }) {
				check("verify", fmt.Errorf("%s: the Google contact of round %d is not in the CRM set", u, r))
			}
			if !slices.ContainsFunc(acts, func(a crm.Activity) bool { return a.Title == fmt.Sprintf("Review r%d", r) }) {
				check("verify", fmt.Errorf("%s: the event of round %d is not a CRM activity", u, r))
			}
		}
	})
	if want := int64(n * rounds * 2); posted.Load() != want {
		b.Errorf("%d messages posted, want %d", posted.Load(), want)
	}
	if failures.Load() > 0 {
		b.Errorf("%d passes failed", failures.Load())
	}
}
