// Package syncpasstest is the world the sync engines' tests and
// benchmarks run in: the store on the Firestore emulator (its Firestore
// calls counted), the fake Google started, the reference CRM, a Google
// client factory and a retry budget that does not sleep; and the outage
// drill both engines are held to.
package syncpasstest

import (
	"context"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/crm/crmtest"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/crm/restcrm"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/store/storetest"
	"github.com/crmsync/crmsync/shared/syncpass"
	"github.com/crmsync/crmsync/shared/workspace"
)

// Tenant is the firm every world's users belong to.
const Tenant = "firm"

// World is one firm's sync world.
type World struct {
	Ctx    context.Context
	Store  *store.Store
	RPCs   *storetest.RPCCounter // the store's Firestore calls
	Google *fakegoogle.Server
	CRM    *refcrm.Store
	// Factory gives the engines' Google clients, with the fake's tokens.
	Factory *workspace.Factory
}

// New starts a world for tb: a fresh store, a fake Google (on the real
// clock unless opts names one) stopped when tb ends, and an empty
// reference CRM named instance, with the firm's tenant.
func New(tb testing.TB, instance string, opts fakegoogle.Options) *World {
	tb.Helper()
	ctx := context.Background()
	fs, rpcs := storetest.CountingClient(tb)
	st := store.New(fs, nil)
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	g := fakegoogle.Started(tb, opts)
	if _, err := st.Tenants().Create(ctx, store.Tenant{ID: Tenant, Name: "Firm", CRMName: "SmartOffice"}); err != nil {
		tb.Fatal(err)
	}
	return &World{Ctx: ctx, Store: st, RPCs: rpcs, Google: g, CRM: refcrm.New(storetest.Client(tb), instance, nil),
		Factory: &workspace.Factory{Endpoint: g.URL(), Tokens: g.Tokens}}
}

// Import loads a dataset into the CRM.
func (w *World) Import(tb testing.TB, d refcrm.Dataset) refcrm.Imported {
	tb.Helper()
	ids, err := w.CRM.Import(w.Ctx, d)
	if err != nil {
		tb.Fatalf("importing the CRM's dataset: %v", err)
	}
	return ids
}

// AddSyncingUser stores a user of the firm who is connected and syncing,
// with the settings u carries.
func (w *World) AddSyncingUser(tb testing.TB, u store.User) {
	tb.Helper()
	u.TenantID = Tenant
	u.Connection = store.Connection{State: store.Connected}
	u.SyncState = store.Active
	if _, err := w.Store.Users().Create(w.Ctx, u); err != nil {
		tb.Fatalf("storing user %s: %v", u.Email, err)
	}
}

// OutageCRM serves the CRM's REST API behind a switchable outage and
// returns the switch and a client of it, for an engine to use.
func (w *World) OutageCRM(tb testing.TB) (*crmtest.Outage, *restcrm.Client) {
	return crmtest.OutageClient(tb, refcrm.Handler(w.CRM, refcrm.Keys{Sync: "k"}, logging.Discard()))
}

// Deps are an engine's dependencies in the world: its store, no log, the
// real clock, and the test retry budget; holder names the instance.
func (w *World) Deps(holder string) syncpass.Deps {
	return syncpass.Deps{Store: w.Store, Log: logging.Discard(), Clock: clock.Real{}, Holder: holder, Retry: Retry()}
}

// MustPass runs one pass of the user with the address email and fails tb
// on its error.
func MustPass[R any](tb testing.TB, ctx context.Context, pass func(context.Context, string) (R, error), email string) R {
	tb.Helper()
	r, err := pass(ctx, email)
	if err != nil {
		tb.Fatalf("pass of %s: %v", email, err)
	}
	return r
}

// TimedPass runs one pass of the user with the address email inside b's
// timer (which it starts and stops) and returns its result, its wall time
// and its error.
func TimedPass[R any](b *testing.B, ctx context.Context, pass func(context.Context, string) (R, error), email string) (R, time.Duration, error) {
	b.StartTimer()
	start := time.Now()
	r, err := pass(ctx, email)
	took := time.Since(start)
	b.StopTimer()
	return r, took, err
}

// Quiet checks the runner's quiet pass through an engine: after the first
// sync of a world whose records were just made and the pass reading its
// echoes, a pass that finds nothing changed is Quiet and reads at most 12
// documents, whatever the number of links of kind (at least minLinks);
// then, after change makes one record on Google's side, the next pass is
// not quiet and creates it in the CRM.
func Quiet[R interface{ Tallied() syncpass.Tally }](t *testing.T, w *World, pass func() R, user, kind string, minLinks int, change func()) {
	t.Helper()
	pass() // the initial sync
	pass() // its echoes
	w.RPCs.Take()
	r := pass().Tallied()
	use := w.RPCs.Take()
	links, err := w.Store.Links(kind).List(w.Ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Quiet {
		t.Errorf("a pass with nothing changed: %+v, want Quiet", r)
	}
	if use.Reads > 12 || len(links) < minLinks {
		t.Errorf("a quiet pass read %d documents (%v); the link table has %d", use.Reads, use.RPCs, len(links))
	}
	t.Logf("a quiet pass: %d document reads, %d writes, with %d links", use.Reads, use.Writes, len(links))
	change()
	if r := pass().Tallied(); r.Quiet || r.CreatedCRM != 1 {
		t.Errorf("the pass after a new record in Google: %+v, want it created in the CRM", r)
	}
}

// Retry is the engines' retry budget in tests: two attempts, no sleeping.
func Retry() workspace.Retry {
	return workspace.Retry{Attempts: 2, Sleep: func(context.Context, time.Duration) error { return nil }}
}

// Outages is the drill of a CRM outage followed by a burst of Google's
// 429 and 503 answers on the engine's listing call: passes on the
// scheduler's ticks through both must fail (and lose nothing); the test
// then checks what the passes after them converge to.
type Outages struct {
	// Pass runs one pass of the engine.
	Pass func() error
	// CRMDown takes the CRM's API down (true) and up again.
	CRMDown func(bool)
	// During runs while the CRM is down, before the failing passes: the
	// changes made on both sides meanwhile.
	During func()
	// Listing is the fake Google's name of the engine's listing call
	// ("calendar.events.list"); Burst the statuses it answers in turn.
	Listing string
	Burst   []int
}

// Ride runs the drill: two passes fail while the CRM is down, two more
// through the burst, and the fault is taken away.
func (o Outages) Ride(t *testing.T, g *fakegoogle.Server) {
	t.Helper()
	o.CRMDown(true)
	if o.During != nil {
		o.During()
	}
	for range 2 { // the scheduler's ticks during the outage
		if err := o.Pass(); err == nil {
			t.Fatal("a pass succeeded while the CRM was down")
		}
	}
	o.CRMDown(false)
	g.SetFault(o.Listing, &fakegoogle.Fault{Script: o.Burst})
	for range 2 {
		if err := o.Pass(); err == nil {
			t.Fatal("a pass succeeded through the burst of 429 and 503 answers")
		}
	}
	g.SetFault(o.Listing, nil)
}
