package syncpass_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/store/storetest"
	"github.com/crmsync/crmsync/shared/syncpass"
	"github.com/crmsync/crmsync/shared/twoway"
)

// feed is a CRM change feed of numbered changes, read in pages of two.
type feed struct {
	changes []crm.Change
	reads   int
}

func (f *feed) UserByEmail(_ context.Context, email string) (crm.User, error) {
	return crm.User{ID: "u-" + email, Email: email}, nil
}

func (f *feed) Changes(_ context.Context, _ crm.Collection, _ crm.FeedScope, cursor string, _ int) (crm.ChangePage, error) {
	f.reads++
	from := 0
	if cursor != "" {
		fmt.Sscan(cursor, &from)
	}
	to := min(from+2, len(f.changes))
	return crm.ChangePage{Changes: f.changes[from:to], Cursor: fmt.Sprint(to), More: to < len(f.changes)}, nil
}

// side is an engine's side of a pass that records what the runner asked
// of it. Google has the changes in google; a token other than the current
// one has expired.
type side struct {
	google   []string
	token    string // Google's current sync token
	guard    string // Apply stops with this reason when set
	calls    []string
	feed     []crm.Change
	whole    bool
	links    int
	tally    syncpass.Tally
	finished bool
}

func (s *side) Begin(context.Context, crm.User) error { s.calls = append(s.calls, "begin"); return nil }
func (s *side) Positions(g, c string) (string, string) {
	return g, c
}
func (s *side) Stamp(token, from string) (string, string) { return token, from }
func (s *side) ReadGoogle(_ context.Context, token string) (int, string, bool, error) {
	s.calls = append(s.calls, "google "+token)
	if token != "" && token != s.token {
		return 0, "", false, failure.Errorf("test: list", failure.CursorExpired, "sync token %q expired", token)
	}
	n := len(s.google)
	s.google = nil
	s.tally.FullGoogle = token == ""
	return n, s.token, token == "", nil
}
func (s *side) FeedScope() crm.FeedScope { return crm.FeedScope{} }
func (s *side) Plan(_ context.Context, links []store.Link, feed []crm.Change, whole bool) (twoway.Plan, error) {
	s.calls = append(s.calls, "plan")
	s.feed, s.whole, s.links = feed, whole, len(links)
	return twoway.Plan{Actions: []twoway.Action{{Op: twoway.Create, Side: twoway.B, Fields: twoway.Fields{"name": "Ann"}}}}, nil
}
func (s *side) Apply(context.Context, twoway.Plan) (string, error) {
	s.calls = append(s.calls, "apply")
	return s.guard, nil
}
func (s *side) Finish(context.Context) error { s.finished = true; return nil }
func (s *side) Named(f twoway.Fields) bool   { return f["name"] != "" }
func (s *side) Read(twoway.Side, string) (twoway.Fields, bool) {
	return nil, false
}
func (s *side) Name(f twoway.Fields) string { return "named " + f["name"] }
func (s *side) Tally() *syncpass.Tally      { return &s.tally }
func (s *side) Counts() map[string]int      { return s.tally.Counts() }

type rig struct {
	ctx    context.Context
	st     *store.Store
	feed   *feed
	runner *syncpass.Runner
	side   *side
	off    bool
}

func newRig(t *testing.T, u store.User) *rig {
	t.Helper()
	r := &rig{ctx: context.Background(), st: storetest.New(t, nil), feed: &feed{}, side: &side{token: "t1"}}
	u.TenantID = "firm"
	if _, err := r.st.Users().Create(r.ctx, u); err != nil {
		t.Fatal(err)
	}
	r.runner = &syncpass.Runner{
		Deps:    syncpass.Deps{Store: r.st, Log: logging.Discard(), Clock: clock.Real{}, Holder: "test"},
		Feature: syncpass.Feature{Kind: "things", GoogleCursor: "google-things", CRMCursor: "crm-things", Product: "Google Things", Scopes: func() []string { return []string{"scope/things"} }},
		CRM:     r.feed,
	}
	return r
}

func (r *rig) factory(store.User, bool) (syncpass.Pass, error) {
	if r.off {
		return nil, nil
	}
	return r.side, nil
}

func (r *rig) pass(t *testing.T) syncpass.Pass {
	t.Helper()
	p, err := r.runner.Pass(r.ctx, "ann@firm.test", r.factory)
	if err != nil {
		t.Fatalf("Pass: %v", err)
	}
	return p
}

func (r *rig) cursor(t *testing.T, name string) string {
	t.Helper()
	c, err := r.st.Cursors().Get(r.ctx, "ann@firm.test", name)
	if err != nil {
		t.Fatal(err)
	}
	return c.Value
}

var syncing = store.User{Email: "ann@firm.test", Connection: store.Connection{State: store.Connected}, SyncState: store.Active}

// A user who is not due a pass: nothing is read, no lease taken, no status.
func TestUsersNotDueAPassAreNotRead(t *testing.T) {
	for name, u := range map[string]store.User{
		"not connected":        {Email: "ann@firm.test", SyncState: store.Active},
		"waiting for approval": {Email: "ann@firm.test", Connection: store.Connection{State: store.Connected}, SyncState: store.PendingApproval},
		"right withdrawn":      {Email: "ann@firm.test", Connection: store.Connection{State: store.Connected}, SyncState: store.Active, RightWithdrawn: true},
		"scope not granted":    {Email: "ann@firm.test", Connection: store.Connection{State: store.Connected}, SyncState: store.Active, Grant: store.Grant{Scopes: []string{"scope/other"}}},
		"feature turned off":   syncing,
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, u)
			r.off = name == "feature turned off"
			if p := r.pass(t); p != nil {
				t.Errorf("a pass ran: %v", r.side.calls)
			}
			if len(r.side.calls) > 0 || r.feed.reads > 0 {
				t.Errorf("read for a user not due a pass: %v, %d feed reads", r.side.calls, r.feed.reads)
			}
			got, _ := r.st.Users().Get(r.ctx, "ann@firm.test")
			if _, ok := got.Passes["things"]; ok {
				t.Errorf("a status was recorded: %+v", got.Passes)
			}
		})
	}
}

// The first pass reads both sides whole (the CRM feed to its end first),
// stores both cursors and records its status; the next one with no change
// is quiet and reads no links; a change on one side plans again from the
// feed; an expired Google token reads Google whole and the pass goes on.
func TestRunnerPassesAndCursors(t *testing.T) {
	r := newRig(t, syncing)
	r.feed.changes = []crm.Change{{ID: "c1", Version: 1}, {ID: "c2", Version: 1}, {ID: "c3", Version: 1}}
	r.side.google = []string{"g1"}
	r.pass(t)
	if !r.side.whole || !r.side.finished || !slices.Equal(r.side.calls, []string{"begin", "google ", "plan", "apply"}) {
		t.Errorf("first pass: whole %v, finished %v, calls %v", r.side.whole, r.side.finished, r.side.calls)
	}
	if g, c := r.cursor(t, "google-things"), r.cursor(t, "crm-things"); g != "t1" || c != "3" {
		t.Errorf("cursors after the first pass: %q, %q; want t1 and 3 (the feed's end)", g, c)
	}
	u, _ := r.st.Users().Get(r.ctx, "ann@firm.test")
	if st := u.Passes["things"]; !st.OK || st.Counts == nil {
		t.Errorf("status after the first pass: %+v", st)
	}

	r.side.calls = nil
	r.pass(t)
	if !r.side.tally.Quiet || slices.Contains(r.side.calls, "plan") {
		t.Errorf("a pass with no change: quiet %v, calls %v", r.side.tally.Quiet, r.side.calls)
	}

	r.side.calls = nil
	r.feed.changes = append(r.feed.changes, crm.Change{ID: "c4", Version: 1})
	r.pass(t)
	if r.side.tally.Quiet || r.side.whole || len(r.side.feed) != 1 || r.side.feed[0].ID != "c4" {
		t.Errorf("a pass after one CRM change: quiet %v, whole %v, feed %v", r.side.tally.Quiet, r.side.whole, r.side.feed)
	}
	if c := r.cursor(t, "crm-things"); c != "4" {
		t.Errorf("CRM cursor %q, want 4", c)
	}

	r.side.calls = nil
	r.side.token = "t2" // Google no longer knows t1
	r.pass(t)
	if !slices.Equal(r.side.calls, []string{"begin", "google t1", "google ", "plan", "apply"}) {
		t.Errorf("an expired token: calls %v, want a whole read after the refusal", r.side.calls)
	}
	if g := r.cursor(t, "google-things"); g != "t2" {
		t.Errorf("Google cursor %q, want t2", g)
	}
}

// A guarded pass moves no cursor, runs no Finish, and records why.
func TestGuardedPassKeepsCursors(t *testing.T) {
	r := newRig(t, syncing)
	r.side.guard = "it would delete 40 of 50 CRM contacts"
	r.pass(t)
	if g := r.cursor(t, "google-things"); g != "" || r.side.finished {
		t.Errorf("a guarded pass stored cursor %q, finished %v", g, r.side.finished)
	}
	u, _ := r.st.Users().Get(r.ctx, "ann@firm.test")
	if st := u.Passes["things"]; st.OK || st.Error != r.side.guard {
		t.Errorf("status of a guarded pass: %+v", st)
	}
}

// Preview plans without writing: no cursor stored, no Apply, and each
// action named by the engine.
func TestPreviewWritesNothing(t *testing.T) {
	r := newRig(t, syncing)
	plan, err := r.runner.Preview(r.ctx, "ann@firm.test", r.factory)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Actions) != 1 || plan.Actions[0].Name != "named Ann" {
		t.Errorf("preview plan: %+v", plan.Actions)
	}
	if slices.Contains(r.side.calls, "apply") || r.cursor(t, "google-things") != "" {
		t.Errorf("a preview wrote: %v", r.side.calls)
	}
}

// A CRM update refused for a conflict is counted and left to the next
// pass; another error stops; a done one is remembered with its version.
func TestSettleCRMUpdate(t *testing.T) {
	var tally syncpass.Tally
	var remembered []twoway.Link
	remember := func(l twoway.Link, _ twoway.Side) { remembered = append(remembered, l) }
	a := twoway.Action{Op: twoway.Update, Side: twoway.B, ID: "c1", Link: twoway.Link{A: "people/1", B: "c1", BVersion: "3"}}
	conflict := failure.Errorf("test: update", failure.Conflict, "changed meanwhile")
	if err := tally.SettleCRMUpdate(a, 0, conflict, remember, failure.Conflict); err != nil || tally.Conflicts != 1 || len(remembered) != 0 {
		t.Errorf("a conflict: %v, tally %+v, remembered %v", err, tally, remembered)
	}
	down := failure.Errorf("test: update", failure.Transient, "503")
	if err := tally.SettleCRMUpdate(a, 0, down, remember, failure.Conflict); !failure.Is(err, failure.Transient) {
		t.Errorf("an outage: %v, want it returned", err)
	}
	if err := tally.SettleCRMUpdate(a, 4, nil, remember, failure.Conflict); err != nil || tally.UpdatedCRM != 1 || len(remembered) != 1 || remembered[0].BVersion != "4" {
		t.Errorf("a done update: %v, tally %+v, remembered %+v", err, tally, remembered)
	}
}
