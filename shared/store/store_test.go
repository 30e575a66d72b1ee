package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/store/storetest"
)

var start = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func TestPing(t *testing.T) {
	t.Parallel()
	s := storetest.New(t, nil)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func TestTenantRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(start)
	tenants := storetest.New(t, clk).Tenants()

	in := store.Tenant{ID: "acme", Name: "Acme Advisors", CRMName: "SmartOffice", Domains: []string{"acme.test"},
		Admins: []string{"admin@acme.test"}, AuthMode: store.AuthUserOAuth, AttachmentLimitBytes: 10 << 20}
	created, err := tenants.Create(ctx, in)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	got, err := tenants.Get(ctx, "acme")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("Get after Create (-want +got):\n%s", diff)
	}
	if got.Version != 1 || !got.CreatedAt.Equal(start) {
		t.Errorf("Version %d, CreatedAt %v", got.Version, got.CreatedAt)
	}

	if _, err := tenants.Create(ctx, in); !failure.Is(err, failure.Conflict) {
		t.Errorf("second Create = %v, want Conflict", err)
	}
	if _, err := tenants.Get(ctx, "nobody"); !failure.Is(err, failure.NotFound) {
		t.Errorf("Get(missing) = %v, want NotFound", err)
	}

	clk.Advance(time.Minute)
	updated, err := tenants.Update(ctx, "acme", func(t *store.Tenant) error { t.AutoMailSync = true; return nil })
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if !updated.AutoMailSync || updated.Version != 2 || !updated.UpdatedAt.Equal(start.Add(time.Minute)) {
		t.Errorf("Update = %+v", updated)
	}
	refuse := errors.New("not allowed")
	if _, err := tenants.Update(ctx, "acme", func(t *store.Tenant) error { t.Name = "X"; return refuse }); !errors.Is(err, refuse) {
		t.Errorf("Update with refusing fn = %v", err)
	}
	if got, _ := tenants.Get(ctx, "acme"); got.Name != "Acme Advisors" || got.Version != 2 {
		t.Errorf("a refused update changed the tenant: %+v", got)
	}
	if _, err := tenants.Update(ctx, "nobody", func(*store.Tenant) error { return nil }); !failure.Is(err, failure.NotFound) {
		t.Errorf("Update(missing) = %v, want NotFound", err)
	}

	if _, err := tenants.Create(ctx, store.Tenant{ID: "beta", Name: "Beta"}); err != nil {
		t.Fatal(err)
	}
	list, err := tenants.List(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "acme" || list[1].ID != "beta" {
		t.Errorf("List = %v, %v", list, err)
	}
}

func TestUserRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	users := storetest.New(t, clock.NewFake(start)).Users()

	created, err := users.Create(ctx, store.User{TenantID: "acme", Email: "Ann.Lee@Acme.test", CRMUserID: "u-17"})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if created.ID != "ann.lee@acme.test" || created.Connection.State != store.NotConnected || created.SyncState != store.NotConfigured {
		t.Errorf("Create = %+v", created)
	}
	got, err := users.Get(ctx, "ANN.LEE@acme.TEST")
	if err != nil {
		t.Fatalf("Get by other case: %v", err)
	}
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}

	if _, err := users.Update(ctx, "ann.lee@acme.test", func(u *store.User) error {
		u.Connection = store.Connection{State: store.Connected, ChangedAt: start, Scopes: []string{"gmail.modify"}}
		return nil
	}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	pass := store.PassStatus{At: start, OK: true, Counts: map[string]int{"posted": 3, "unmatched": 1}}
	if err := users.RecordPass(ctx, "ann.lee@acme.test", "mail", pass); err != nil {
		t.Fatalf("RecordPass: %v", err)
	}
	got, _ = users.Get(ctx, "ann.lee@acme.test")
	if got.Connection.State != store.Connected || got.Version != 2 {
		t.Errorf("after Update: %+v", got)
	}
	if diff := cmp.Diff(pass, got.Passes["mail"], cmpopts.EquateApproxTime(0)); diff != "" {
		t.Errorf("recorded pass (-want +got):\n%s", diff)
	}

	for _, bad := range []string{"", "not an address", "a/b@acme.test", "Ann <ann@acme.test>"} {
		if _, err := users.Create(ctx, store.User{TenantID: "acme", Email: bad}); !failure.Is(err, failure.Invalid) {
			t.Errorf("Create(%q) = %v, want Invalid", bad, err)
		}
	}
	if _, err := users.Create(ctx, store.User{Email: "bob@acme.test"}); !failure.Is(err, failure.Invalid) {
		t.Errorf("Create without tenant = %v, want Invalid", err)
	}
	if err := users.RecordPass(ctx, "nobody@acme.test", "mail", pass); !failure.Is(err, failure.NotFound) {
		t.Errorf("RecordPass(missing user) = %v, want NotFound", err)
	}

	for _, u := range []store.User{{TenantID: "acme", Email: "cy@acme.test"}, {TenantID: "beta", Email: "dee@beta.test"}} {
		if _, err := users.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	list, err := users.ListByTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range list {
		ids = append(ids, u.ID)
	}
	if diff := cmp.Diff([]string{"ann.lee@acme.test", "cy@acme.test"}, ids); diff != "" {
		t.Errorf("ListByTenant(acme) (-want +got):\n%s", diff)
	}
}

func TestCursorsOnlyMoveForward(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cursors := storetest.New(t, clock.NewFake(start)).Cursors()
	const user = "ann@acme.test"

	c0, err := cursors.Get(ctx, user, "gmail/history")
	if err != nil || c0.Seq != 0 || c0.Value != "" {
		t.Fatalf("Get(unset) = %+v, %v", c0, err)
	}
	c1, err := cursors.Advance(ctx, user, c0, "1000")
	if err != nil || c1.Seq != 1 || c1.Value != "1000" {
		t.Fatalf("Advance = %+v, %v", c1, err)
	}
	// A slow pass that read c0 must not move the cursor back.
	if _, err := cursors.Advance(ctx, user, c0, "900"); !failure.Is(err, failure.Conflict) {
		t.Errorf("stale Advance = %v, want Conflict", err)
	}
	if got, _ := cursors.Get(ctx, user, "gmail/history"); got.Value != "1000" {
		t.Errorf("stale Advance changed the cursor to %q", got.Value)
	}

	// Of many passes racing from the same read, exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := cursors.Advance(ctx, user, c1, fmt.Sprint(2000+i))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case failure.Is(err, failure.Conflict):
				conflicts++
			default:
				t.Errorf("Advance: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || conflicts != 5 {
		t.Errorf("racing Advance: %d wins, %d conflicts; want 1 and 5", wins, conflicts)
	}
	if got, _ := cursors.Get(ctx, user, "gmail/history"); got.Seq != 2 {
		t.Errorf("after race Seq = %d, want 2", got.Seq)
	}
}

// A reset while passes keep moving the cursors: the reset never fails for
// it, and a pass that read a cursor before the reset cannot store over it.
func TestCursorsResetAllWhilePassesRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cursors := storetest.New(t, clock.NewFake(start)).Cursors()
	const user = "ann@acme.test"
	names := []string{"gmail/history", "people/sync", "calendar/primary"}
	for _, n := range names {
		if _, err := cursors.Advance(ctx, user, store.Cursor{Name: n}, "1"); err != nil {
			t.Fatal(err)
		}
	}
	stale, _ := cursors.Get(ctx, user, "gmail/history")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 2; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c, err := cursors.Get(ctx, user, n)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := cursors.Advance(ctx, user, c, fmt.Sprint(i)); err != nil && !failure.Is(err, failure.Conflict) {
					t.Error(err)
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	for range 3 {
		if err := cursors.ResetAll(ctx, user); err != nil {
			t.Errorf("ResetAll while passes run: %v", err)
		}
	}
	close(stop)
	wg.Wait()

	if err := cursors.ResetAll(ctx, user); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if c, _ := cursors.Get(ctx, user, n); c.Value != "" {
			t.Errorf("%s after reset = %q", n, c.Value)
		}
	}
	if _, err := cursors.Advance(ctx, user, stale, "0"); !failure.Is(err, failure.Conflict) {
		t.Errorf("a pass that read before the reset stored over it: %v", err)
	}
}

// Goroutines racing for one user's lease: exactly one holds it at a time.
func TestLeaseRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(start)
	leases := storetest.New(t, clk).Leases()
	const user, scope, ttl = "ann@acme.test", "mail", time.Minute

	for round := range 3 {
		var wg sync.WaitGroup
		results := make([]error, 8)
		got := make([]store.Lease, 8)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], results[i] = leases.Acquire(ctx, user, scope, fmt.Sprintf("worker-%d-%d", round, i), ttl)
			}()
		}
		wg.Wait()
		var winner store.Lease
		wins := 0
		for i, err := range results {
			switch {
			case err == nil:
				wins++
				winner = got[i]
			case !failure.Is(err, failure.Conflict):
				t.Fatalf("round %d: Acquire: %v", round, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d goroutines hold the lease, want 1", round, wins)
		}
		if winner.Token != int64(round+1) {
			t.Errorf("round %d: token %d, want %d (fencing tokens increase)", round, winner.Token, round+1)
		}
		// The winner renews while it works; the lease then runs out.
		clk.Advance(ttl / 2)
		renewed, err := leases.Renew(ctx, winner, ttl)
		if err != nil {
			t.Fatalf("round %d: Renew: %v", round, err)
		}
		if !renewed.ExpiresAt.Equal(clk.Now().Add(ttl)) {
			t.Errorf("Renew: expires %v", renewed.ExpiresAt)
		}
		clk.Advance(ttl + time.Second)
		if _, err := leases.Renew(ctx, renewed, ttl); !failure.Is(err, failure.Conflict) {
			t.Errorf("Renew after expiry = %v, want Conflict", err)
		}
	}
}

func TestLeaseReleaseAndTakeover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(start)
	leases := storetest.New(t, clk).Leases()
	const user = "ann@acme.test"

	a, err := leases.Acquire(ctx, user, "contacts", "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leases.Acquire(ctx, user, "contacts", "b", time.Minute); !failure.Is(err, failure.Conflict) {
		t.Fatalf("Acquire while held = %v, want Conflict", err)
	}
	// Another scope of the same user, and the same scope of another user, are free.
	if _, err := leases.Acquire(ctx, user, "calendar", "b", time.Minute); err != nil {
		t.Errorf("other scope: %v", err)
	}
	if _, err := leases.Acquire(ctx, "bob@acme.test", "contacts", "b", time.Minute); err != nil {
		t.Errorf("other user: %v", err)
	}
	// The holder asking again extends its own lease.
	clk.Advance(30 * time.Second)
	again, err := leases.Acquire(ctx, user, "contacts", "a", time.Minute)
	if err != nil || again.Token != a.Token {
		t.Errorf("re-Acquire by holder = %+v, %v", again, err)
	}
	if err := leases.Release(ctx, again); err != nil {
		t.Fatalf("Release: %v", err)
	}
	b, err := leases.Acquire(ctx, user, "contacts", "b", time.Minute)
	if err != nil || b.Token != a.Token+1 {
		t.Fatalf("Acquire after Release = %+v, %v", b, err)
	}
	// The old holder's late release must not free b's lease.
	if err := leases.Release(ctx, a); err != nil {
		t.Errorf("late Release: %v", err)
	}
	if _, err := leases.Acquire(ctx, user, "contacts", "c", time.Minute); !failure.Is(err, failure.Conflict) {
		t.Errorf("a's late Release freed b's lease: %v", err)
	}
	if _, err := leases.Acquire(ctx, user, "contacts", "", time.Minute); !failure.Is(err, failure.Invalid) {
		t.Errorf("empty holder = %v, want Invalid", err)
	}
}

func TestLedgerClaimCompleteAbandon(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(start)
	ledger := storetest.New(t, clk).Ledger()
	const scope, key = "mail/ann@acme.test", "18c2f0a1b2c3d4e5"

	if _, err := ledger.Get(ctx, scope, key); !failure.Is(err, failure.NotFound) {
		t.Fatalf("Get(unclaimed) = %v, want NotFound", err)
	}
	e, err := ledger.Claim(ctx, scope, key, "w1", time.Minute)
	if err != nil || e.State != store.Claimed || e.Attempts != 1 {
		t.Fatalf("Claim = %+v, %v", e, err)
	}
	if _, err := ledger.Claim(ctx, scope, key, "w2", time.Minute); !failure.Is(err, failure.Conflict) {
		t.Errorf("Claim while claimed = %v, want Conflict", err)
	}
	// w1 fails; the next try may claim it and the attempts are counted.
	if _, err := ledger.Abandon(ctx, e, "crm: 503"); err != nil {
		t.Fatalf("Abandon: %v", err)
	}
	e2, err := ledger.Claim(ctx, scope, key, "w2", time.Minute)
	if err != nil || e2.Attempts != 2 || e2.LastError != "crm: 503" {
		t.Fatalf("Claim after Abandon = %+v, %v", e2, err)
	}
	// w2 crashes; after its claim runs out, w3 takes over.
	clk.Advance(2 * time.Minute)
	e3, err := ledger.Claim(ctx, scope, key, "w3", time.Minute)
	if err != nil || e3.Attempts != 3 {
		t.Fatalf("takeover Claim = %+v, %v", e3, err)
	}
	// w2 wakes up: it may not record an outcome any more.
	if _, err := ledger.Complete(ctx, e2, "posted", nil); !failure.Is(err, failure.Conflict) {
		t.Errorf("Complete by lost holder = %v, want Conflict", err)
	}
	done, err := ledger.Complete(ctx, e3, "posted", map[string]string{"noteIds": "n1,n2"})
	if err != nil || done.State != store.Done {
		t.Fatalf("Complete = %+v, %v", done, err)
	}
	// A redelivery finds it done and does nothing.
	again, err := ledger.Claim(ctx, scope, key, "w4", time.Minute)
	if err != nil || again.State != store.Done || again.Outcome != "posted" || again.Attempts != 3 {
		t.Errorf("Claim after Complete = %+v, %v", again, err)
	}
	got, err := ledger.Get(ctx, scope, key)
	if err != nil || got.Detail["noteIds"] != "n1,n2" || !got.ExpireAt.Equal(clk.Now().Add(store.LedgerRetention)) {
		t.Errorf("Get = %+v, %v", got, err)
	}
	// A user asks for a retry: the entry can be claimed again, attempts afresh.
	re, err := ledger.Reopen(ctx, scope, key)
	if err != nil || re.State != store.Pending || re.Attempts != 0 {
		t.Fatalf("Reopen = %+v, %v", re, err)
	}
	if e5, err := ledger.Claim(ctx, scope, key, "w5", time.Minute); err != nil || e5.State != store.Claimed || e5.Attempts != 1 {
		t.Errorf("Claim after Reopen = %+v, %v", e5, err)
	}
	if same, err := ledger.Reopen(ctx, scope, key); err != nil || same.State != store.Claimed {
		t.Errorf("Reopen of a claimed entry = %+v, %v; want it left as it is", same, err)
	}
	if _, err := ledger.Reopen(ctx, scope, "never"); !failure.Is(err, failure.NotFound) {
		t.Errorf("Reopen of no entry = %v, want NotFound", err)
	}
	// Keys with slashes are stored safely.
	if _, err := ledger.Claim(ctx, "crm/notes", "a/b/../c", "w", time.Minute); err != nil {
		t.Errorf("Claim with slashes: %v", err)
	}
}

// Many workers racing for one effect: exactly one claims it.
func TestLedgerClaimRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ledger := storetest.New(t, nil).Ledger()
	var wg sync.WaitGroup
	var mu sync.Mutex
	claimed := 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := ledger.Claim(ctx, "s", "k", fmt.Sprint("w", i), time.Minute)
			if err != nil && !failure.Is(err, failure.Conflict) {
				t.Errorf("Claim: %v", err)
			}
			if err == nil {
				mu.Lock()
				claimed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if claimed != 1 {
		t.Errorf("%d workers claimed the effect, want 1", claimed)
	}
}

// A held lease outlives its TTL while its holder works; once the holder
// stops (or dies) it expires within the TTL; and a holder whose lease was
// taken has its work context canceled with ErrLeaseLost.
func TestLeaseHold(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	leases := storetest.New(t, nil).Leases()
	const user, ttl = "ann@acme.test", time.Second

	a, err := leases.Acquire(ctx, user, "calendar", "a", ttl)
	if err != nil {
		t.Fatal(err)
	}
	if a, err = leases.Renew(ctx, a, ttl); err != nil { // the emulator's first transaction is slow
		t.Fatal(err)
	}
	work, stop := leases.Hold(ctx, a, ttl)
	time.Sleep(3 * ttl)
	if _, err := leases.Acquire(ctx, user, "calendar", "b", ttl); !failure.Is(err, failure.Conflict) {
		t.Fatalf("another holder took a held lease after 3 TTLs: %v", err)
	}
	if work.Err() != nil {
		t.Fatalf("the work context of a held lease: %v", work.Err())
	}
	stop() // the holder is done, or dead: no more renewals
	time.Sleep(ttl + 200*time.Millisecond)
	b, err := leases.Acquire(ctx, user, "calendar", "b", ttl)
	if err != nil {
		t.Fatalf("the lease did not expire after its holder stopped: %v", err)
	}

	// b holds it, but the renewals stop reaching Firestore (b is frozen
	// and its lease expires); c takes it. b's next renewal finds it lost.
	c, err := func() (store.Lease, error) {
		time.Sleep(ttl + 100*time.Millisecond)
		return leases.Acquire(ctx, user, "calendar", "c", ttl)
	}()
	if err != nil {
		t.Fatal(err)
	}
	work, stop = leases.Hold(ctx, b, ttl)
	defer stop()
	select {
	case <-work.Done():
		if !errors.Is(context.Cause(work), store.ErrLeaseLost) {
			t.Errorf("cause %v, want ErrLeaseLost", context.Cause(work))
		}
	case <-time.After(2 * ttl):
		t.Errorf("b's work went on after c (token %d) took the lease", c.Token)
	}
}

// Two passes of one instance are distinct holders: while one holds the
// user's lease the other is refused, and after the first ends it may run.
func TestLeaseHoldPassOfOneInstance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	leases := storetest.New(t, nil).Leases()
	const user = "ann@acme.test"
	_, first, end, err := leases.HoldPass(ctx, user, "mail", "instance-1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := leases.HoldPass(ctx, user, "mail", "instance-1", time.Minute); !failure.Is(err, failure.Conflict) {
		t.Fatalf("a second pass of the same instance = %v, want Conflict", err)
	}
	if err := end(); err != nil {
		t.Fatal(err)
	}
	_, second, end, err := leases.HoldPass(ctx, user, "mail", "instance-1", time.Minute)
	if err != nil {
		t.Fatalf("a pass after the first ended: %v", err)
	}
	defer end()
	if first == second || !strings.HasPrefix(first, "instance-1/") {
		t.Errorf("holders %q and %q, want distinct names of instance-1", first, second)
	}
}

// Address claims: one holder at a time; a settled claim names its CRM
// contact; a released or stale claim can be taken; a holder may take its
// own claims again (a retried pass).
func TestAddressClaims(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(start)
	st := storetest.New(t, clk)
	c := st.Claims()
	addrs := []string{"X@Example.com", "y@example.com"}
	if _, taken, err := c.Take(ctx, "firm", addrs, "ann"); err != nil || !taken {
		t.Fatalf("first take: %v, %v", taken, err)
	}
	if _, taken, err := c.Take(ctx, "firm", addrs, "ann"); err != nil || !taken {
		t.Fatalf("the holder takes its claims again: %v, %v", taken, err)
	}
	other, taken, err := c.Take(ctx, "firm", []string{"x@example.com"}, "bob")
	if err != nil || taken || other.Holder != "ann" || other.CRM != "" {
		t.Fatalf("another holder while in flight: %+v, %v, %v", other, taken, err)
	}
	if _, taken, _ := c.Take(ctx, "other-firm", []string{"x@example.com"}, "bob"); !taken {
		t.Error("claims of another firm are separate")
	}
	if err := c.Settle(ctx, "firm", addrs, "ann", "c-1"); err != nil {
		t.Fatal(err)
	}
	if other, taken, _ = c.Take(ctx, "firm", []string{"y@example.com", "z@example.com"}, "bob"); taken || other.CRM != "c-1" {
		t.Fatalf("after settling, another holder finds the contact: %+v, %v", other, taken)
	}
	if _, err := c.Get(ctx, "firm", "z@example.com"); !failure.Is(err, failure.NotFound) {
		t.Errorf("a take that found another's claim took nothing: %v", err)
	}
	// An unsettled claim whose pass died is taken over after ClaimWait;
	// a released one at once.
	if _, taken, _ := c.Take(ctx, "firm", []string{"q@example.com"}, "cat"); !taken {
		t.Fatal("cat's take")
	}
	clk.Advance(store.ClaimWait + time.Second)
	if _, taken, _ := c.Take(ctx, "firm", []string{"q@example.com"}, "dora"); !taken {
		t.Error("a stale unsettled claim is taken over")
	}
	if err := c.Release(ctx, "firm", []string{"q@example.com"}, "dora"); err != nil {
		t.Fatal(err)
	}
	if _, taken, _ := c.Take(ctx, "firm", []string{"q@example.com"}, "eve"); !taken {
		t.Error("a released claim is free")
	}
	// Settled claims stand for their lifetime, then expire.
	clk.Advance(2 * time.Hour)
	if _, taken, _ := c.Take(ctx, "firm", []string{"x@example.com"}, "bob"); !taken {
		t.Error("an expired claim is free")
	}
	if _, _, err := c.Take(ctx, "firm", nil, "bob"); !failure.Is(err, failure.Invalid) {
		t.Errorf("no addresses: %v", err)
	}
}

// A pass's bookkeeping may name one link twice (dropped and put back, or
// put twice): Apply writes each link once, the later write winning,
// instead of failing the whole batch (a BulkWriter refuses a second write
// to one document, and the pass would fail on every retry).
func TestLinksApplyWritesEachLinkOnce(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t, nil)
	links := st.Links("contacts")
	a := store.Link{Google: "people/a", CRM: "c-a", GoogleVersion: "1"}
	if err := links.Apply(ctx, "ann@firm.test", []store.Link{a}, nil); err != nil {
		t.Fatal(err)
	}
	a2, b1, b2 := a, store.Link{Google: "people/b", CRM: "c-b", GoogleVersion: "1"}, store.Link{Google: "people/b", CRM: "c-b", GoogleVersion: "2"}
	a2.Left = store.LeftAlone
	if err := links.Apply(ctx, "ann@firm.test", []store.Link{a2, b1, b2}, []store.Link{a}); err != nil {
		t.Fatalf("a link dropped and put, and one put twice: %v", err)
	}
	got, err := links.List(ctx, "ann@firm.test")
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]store.Link{}
	for _, l := range got {
		byID[l.Google] = l
	}
	if len(got) != 2 || byID["people/a"].Left != store.LeftAlone || byID["people/b"].GoogleVersion != "2" {
		t.Errorf("links after Apply: %+v", got)
	}
}

// A pass reads the user, its cursor and its lease in one call, takes the
// lease with one write, and writes its status with the lease's release.
// When the lease was lost meanwhile (it ran out and another pass took it),
// the status is still written and the other pass keeps its lease.
func TestAPassStartsInOneReadAndEndsInOneWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(start)
	st := storetest.New(t, clk)
	const user = "ann@acme.test"
	if _, err := st.Users().Create(ctx, store.User{TenantID: "acme", Email: user}); err != nil {
		t.Fatal(err)
	}
	ps, err := st.StartPass(ctx, user, "mail", "gmail-history")
	if err != nil || ps.User.ID != user || ps.Cursor.Value != "" {
		t.Fatalf("StartPass: %+v, %v", ps, err)
	}
	if _, err := st.StartPass(ctx, "nobody@acme.test", "mail", "gmail-history"); !failure.Is(err, failure.NotFound) {
		t.Errorf("an unknown user: %v", err)
	}
	_, _, end, err := st.Leases().HoldPassFrom(ctx, ps, "i1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// A second pass that read before the first took the lease cannot take it.
	if _, _, _, err := st.Leases().HoldPassFrom(ctx, ps, "i2", time.Minute); !failure.Is(err, failure.Conflict) {
		t.Errorf("a second pass from the same read: %v, want Conflict", err)
	}
	// The cursor read at the start advances once; a second advance from
	// the same read is refused.
	if _, err := st.Cursors().Advance(ctx, user, ps.Cursor, "100"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Cursors().Advance(ctx, user, ps.Cursor, "90"); !failure.Is(err, failure.Conflict) {
		t.Errorf("advancing again from the same read: %v, want Conflict", err)
	}
	w, err := st.Users().PassWrite(user, "mail", store.PassStatus{OK: true, Counts: map[string]int{"posted": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := end(w); err != nil {
		t.Fatal(err)
	}
	u, _ := st.Users().Get(ctx, user)
	if p := u.Passes["mail"]; !p.OK || p.Counts["posted"] != 1 {
		t.Errorf("the status written with the release: %+v", p)
	}
	again, err := st.StartPass(ctx, user, "mail", "gmail-history")
	if err != nil || again.Cursor.Value != "100" {
		t.Fatalf("after the pass: %+v, %v", again.Cursor, err)
	}
	_, _, end2, err := st.Leases().HoldPassFrom(ctx, again, "i1", time.Minute)
	if err != nil {
		t.Fatalf("the released lease was not free: %v", err)
	}
	// The lease runs out and another pass takes it; the late release
	// still writes its status and leaves the other's lease alone.
	clk.Advance(2 * time.Minute)
	other, err := st.Leases().Acquire(ctx, user, "mail", "i3", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	w2, _ := st.Users().PassWrite(user, "mail", store.PassStatus{OK: false, Error: "late"})
	if err := end2(w2); err != nil {
		t.Fatal(err)
	}
	u, _ = st.Users().Get(ctx, user)
	if u.Passes["mail"].Error != "late" {
		t.Errorf("the late pass's status was lost: %+v", u.Passes["mail"])
	}
	if _, err := st.Leases().Acquire(ctx, user, "mail", "i4", time.Minute); !failure.Is(err, failure.Conflict) {
		t.Errorf("the late release freed the other pass's lease (%+v): %v", other, err)
	}
}

// Many writers of one user document at once (the Web function saving
// settings, engines recording passes and changing the connection, a
// decision on a preview, a re-sealed grant) never undo each other's
// fields: each writes by field or in a transaction that reads first.
func TestConcurrentWritersOfAUserKeepEachOthersFields(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.New(t, nil)
	const user = "ann@acme.test"
	if _, err := st.Users().Create(ctx, store.User{TenantID: "acme", Email: user, SettingsVersion: 1, SyncState: store.PendingApproval,
		Grant: store.Grant{SealedRefreshToken: "v2.k1.old"}}); err != nil {
		t.Fatal(err)
	}
	p, _, err := st.Previews().Create(ctx, store.Preview{User: user, TenantID: "acme", SettingsVersion: 1, Expires: st.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3
	var wg sync.WaitGroup
	errs := make(chan error, 4*n+2)
	for i := range n {
		wg.Add(4)
		go func() {
			defer wg.Done()
			_, err := st.Users().Update(ctx, user, func(u *store.User) error {
				u.Contacts.Direction = "both"
				u.Mail.Labels = map[string]string{fmt.Sprintf("w%d", i): "x"}
				return nil
			})
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := st.Users().Update(ctx, user, func(u *store.User) error {
				u.Attention = "check"
				u.Connection.State = store.Connected
				return nil
			})
			errs <- err
		}()
		go func() {
			defer wg.Done()
			errs <- st.Users().RecordPass(ctx, user, fmt.Sprintf("feature%d", i), store.PassStatus{OK: true})
		}()
		go func() {
			defer wg.Done()
			// A pass ending: its status written with its lease's release.
			ps, err := st.StartPass(ctx, user, fmt.Sprintf("s%d", i), "c")
			if err != nil {
				errs <- err
				return
			}
			_, _, end, err := st.Leases().HoldPassFrom(ctx, ps, "i", time.Minute)
			if err != nil {
				errs <- err
				return
			}
			w, err := st.Users().PassWrite(user, "mail", store.PassStatus{OK: true, Counts: map[string]int{"posted": i}})
			if err == nil {
				err = end(w)
			}
			errs <- err
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, _, err := st.Previews().Decide(ctx, user, p.ID, true)
		errs <- err
	}()
	go func() {
		defer wg.Done()
		_, err := st.Users().Reseal(ctx, user, "v2.k1.old", "v2.k2.new")
		errs <- err
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a writer failed: %v", err)
		}
	}
	u, err := st.Users().Get(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	if u.Contacts.Direction != "both" || u.Attention != "check" || u.Connection.State != store.Connected || u.SyncState != store.Active ||
		u.Decision.Preview != p.ID || u.Grant.SealedRefreshToken != "v2.k2.new" || !u.Passes["mail"].OK || len(u.Passes) != n+1 {
		t.Errorf("a writer's field was undone: %+v", u)
	}
}

// Removing a user deletes everything the store keeps about them (the user
// document and its subcollections, their ledger, previews and outbox) and
// nothing of another user; removing them again deletes nothing.
func TestRemoveDeletesAUsersStateOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.New(t, nil)
	for _, email := range []string{"ann@acme.test", "bob@acme.test"} {
		st.Users().Create(ctx, store.User{TenantID: "acme", Email: email})
		st.Cursors().Advance(ctx, email, store.Cursor{Name: "gmail-history"}, "7")
		st.Leases().Acquire(ctx, email, "mail", "h", time.Minute)
		e, _ := st.Ledger().Claim(ctx, "mail:"+email, "m1", "h", time.Minute)
		st.Ledger().Complete(ctx, e, "Posted", nil)
		st.Previews().Create(ctx, store.Preview{User: email, TenantID: "acme", SettingsVersion: 1, Expires: st.Now().Add(time.Hour)})
	}
	got, err := st.Users().Remove(ctx, "ann@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	want := store.Removed{"users": 1, "cursors": 1, "leases": 1, "ledger": 1, "previews": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("removed %v, want %v", got, want)
	}
	if _, err := st.Users().Get(ctx, "ann@acme.test"); !failure.Is(err, failure.NotFound) {
		t.Errorf("Ann is still there: %v", err)
	}
	if _, err := st.Ledger().Get(ctx, "mail:bob@acme.test", "m1"); err != nil {
		t.Errorf("Bob's ledger went with Ann: %v", err)
	}
	if c, _ := st.Cursors().Get(ctx, "bob@acme.test", "gmail-history"); c.Value != "7" {
		t.Errorf("Bob's cursor went with Ann: %+v", c)
	}
	if again, err := st.Users().Remove(ctx, "ann@acme.test"); err != nil || len(again) != 0 {
		t.Errorf("removing again: %v, %v", again, err)
	}
}
