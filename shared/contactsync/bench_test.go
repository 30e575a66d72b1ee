package contactsync_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	people "google.golang.org/api/people/v1"

	"github.com/crmsync/crmsync/shared/contactsync"
	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/syncpass/syncpasstest"
)

// countingCRM counts the engine's CRM calls.
type countingCRM struct {
	contactsync.CRM
	calls atomic.Int64
}

func (c *countingCRM) count() { c.calls.Add(1) }
func (c *countingCRM) UserByEmail(ctx context.Context, e string) (crm.User, error) {
	c.count()
	return c.CRM.UserByEmail(ctx, e)
}
func (c *countingCRM) FindContacts(ctx context.Context, a, e string) ([]crm.Contact, error) {
	c.count()
	return c.CRM.FindContacts(ctx, a, e)
}
func (c *countingCRM) Contact(ctx context.Context, a, id string) (crm.Contact, error) {
	c.count()
	return c.CRM.Contact(ctx, a, id)
}
func (c *countingCRM) ListContacts(ctx context.Context, a string, q crm.ContactQuery) ([]crm.Contact, error) {
	c.count()
	return c.CRM.ListContacts(ctx, a, q)
}
func (c *countingCRM) CreateContact(ctx context.Context, w crm.Write, ct crm.Contact) (crm.Contact, error) {
	c.count()
	return c.CRM.CreateContact(ctx, w, ct)
}
func (c *countingCRM) UpdateContact(ctx context.Context, w crm.Write, ct crm.Contact) (crm.Contact, error) {
	c.count()
	return c.CRM.UpdateContact(ctx, w, ct)
}
func (c *countingCRM) Changes(ctx context.Context, col crm.Collection, o crm.FeedScope, cur string, l int) (crm.ChangePage, error) {
	c.count()
	return c.CRM.Changes(ctx, col, o, cur, l)
}

func benchSize(b *testing.B) int {
	if v := os.Getenv("CRMSYNC_BENCH_CONTACT_SYNC"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 {
			b.Fatalf("CRMSYNC_BENCH_CONTACT_SYNC=%q", v)
		}
		return n
	}
	return 10_000
}

// The initial sync of N contacts each way, then a pass with 1% of each
// side changed. Run it once: -benchtime 1x.
func BenchmarkContactSync(b *testing.B) {
	n := benchSize(b)
	for range b.N {
		b.StopTimer()
		w := syncpasstest.New(b, "bench", fakegoogle.Options{})
		ctx, g := w.Ctx, w.Google
		g.AddUser(fakegoogle.User{Email: ann})
		for i := range n {
			g.AddContact(fakegoogle.SeedContact{User: ann, Given: "G", Family: strconv.Itoa(i), Emails: []string{fmt.Sprintf("g%d@google.test", i)}})
		}
		ds := refcrm.Dataset{Users: []refcrm.ImportUser{{Key: "u", Email: ann, IntegrationEnabled: true}}}
		for i := range n {
			ds.Contacts = append(ds.Contacts, refcrm.ImportContact{Key: strconv.Itoa(i), FirstName: "C", LastName: strconv.Itoa(i), Emails: []string{fmt.Sprintf("c%d@crm.test", i)}})
		}
		t0 := time.Now()
		w.Import(b, ds)
		b.Logf("loaded %d CRM contacts in %v", n, time.Since(t0).Round(time.Second))
		w.AddSyncingUser(b, store.User{Email: ann, Contacts: store.ContactsSetup{Direction: "both"}})
		counted := &countingCRM{CRM: w.CRM}
		e := &contactsync.Engine{Deps: w.Deps("bench"), CRM: counted, Google: w.Factory}
		g.ResetUsage()

		r, initial, err := syncpasstest.TimedPass(b, ctx, e.Pass, ann)
		if err != nil || r.CreatedGoogle != n || r.CreatedCRM != n {
			b.Fatalf("initial pass: %+v, %v", r, err)
		}
		writes := g.Usage(ann)["people.people.batchCreateContacts"].Calls + g.Usage(ann)["people.people.batchUpdateContacts"].Calls
		limit := 1.1 * math.Ceil(float64(n)/200)
		b.ReportMetric(initial.Seconds(), "initial-s")
		b.ReportMetric(float64(r.PeopleCalls), "initial-people-calls")
		b.ReportMetric(float64(writes), "initial-people-writes")
		b.ReportMetric(limit, "target-writes<=")
		b.ReportMetric(float64(counted.calls.Load()), "initial-crm-calls")

		// The next pass reads the echoes of the initial writes once (listed
		// by both change feeds, recognised by the link table, not written).
		counted.calls.Store(0)
		echo, err := e.Pass(ctx, ann)
		if err != nil || echo.CreatedGoogle+echo.UpdatedGoogle+echo.CreatedCRM+echo.UpdatedCRM != 0 {
			b.Fatalf("echo pass: %+v, %v", echo, err)
		}
		b.ReportMetric(float64(echo.PeopleCalls), "echo-people-calls")
		b.ReportMetric(float64(counted.calls.Load()), "echo-crm-calls")

		// 1% changed on each side.
		ppl, _ := w.Factory.People(ctx, ann)
		list, _ := ppl.People.Connections.List("people/me").PersonFields("names").PageSize(1000).Do()
		for i, p := range list.Connections[:n/100] {
			if _, err := ppl.People.UpdateContact(p.ResourceName, &people.Person{Etag: p.Etag, Names: []*people.Name{{GivenName: "Changed", FamilyName: strconv.Itoa(i)}}}).UpdatePersonFields("names").Do(); err != nil {
				b.Fatal(err)
			}
		}
		all, _ := w.CRM.ListContacts(ctx, "", crm.ContactQuery{})
		for _, ct := range all[:n/100] {
			ct.Phones = []string{"+1 555 0100"}
			if _, err := w.CRM.UpdateContact(ctx, crm.Write{}, ct); err != nil {
				b.Fatal(err)
			}
		}
		counted.calls.Store(0)
		g.ResetUsage()
		r, incremental, err := syncpasstest.TimedPass(b, ctx, e.Pass, ann)
		if err != nil || r.UpdatedGoogle < n/100 || r.UpdatedCRM < n/100 {
			b.Fatalf("incremental pass: %+v, %v", r, err)
		}
		b.ReportMetric(incremental.Seconds(), "incremental-s")
		b.ReportMetric(float64(r.PeopleCalls), "incremental-people-calls")
		b.ReportMetric(float64(counted.calls.Load()), "incremental-crm-calls")
		b.Logf("incremental: %+v", r)
	}
}
