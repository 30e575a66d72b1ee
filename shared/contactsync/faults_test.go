package contactsync_test

import (
	"testing"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/contactsync"
	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/syncpass"
	"github.com/crmsync/crmsync/shared/syncpass/syncpasstest"
)

// The CRM down, then a burst of People 429 and 503 answers: the passes in
// that time fail without moving a cursor; the first pass after both end
// catches up both ways, with nothing lost and nothing duplicated.
func TestOutagesCatchUpWithoutLossOrDuplicates(t *testing.T) {
	w := newWorld(t, store.ContactsSetup{Direction: "both", CreateType: "contact", OnGoogleDelete: "delete"}, nil)
	outage, client := w.OutageCRM(t)
	w.engine.CRM = client
	w.pass() // the initial sync

	// While the CRM is down: new people in Google, a rename in the CRM.
	syncpasstest.Outages{
		Pass:    func() error { _, err := w.engine.Pass(w.Ctx, ann); return err },
		CRMDown: outage.Down,
		During:  w.changeBothSides,
		Listing: "people.people.connections.list",
		Burst:   []int{429, 503, 429, 503},
	}.Ride(t, w.Google)

	w.pass() // the first tick after both outages
	w.pass() // and one more: nothing left to do, nothing doubled
	crmSide := w.crmByEmail()
	for _, addr := range []string{"hal@else.test", "ida@else.test"} {
		if len(crmSide[addr]) != 1 {
			t.Errorf("%s is %d times in the CRM, want once", addr, len(crmSide[addr]))
		}
	}
	google := w.googleByEmail() // fails the test on any address twice
	if p := google["dan@client.test"]; p == nil || len(p.Names) == 0 || p.Names[0].GivenName != "Daniel" {
		t.Errorf("the CRM's rename did not reach Google: %+v", p)
	}
	for addr, cs := range crmSide {
		if len(cs) > 1 {
			t.Errorf("%s is %d times in the CRM", addr, len(cs))
		}
	}
}

// changeBothSides adds Hal and Ida in Google and renames Dan to Daniel in
// the CRM, the changes the fault tests expect once on the other side.
func (w *world) changeBothSides() {
	w.t.Helper()
	for _, c := range []fakegoogle.SeedContact{
		{User: ann, Given: "Hal", Family: "Changed", Emails: []string{"hal@else.test"}},
		{User: ann, Given: "Ida", Family: "Changed", Emails: []string{"ida@else.test"}},
	} {
		if _, err := w.Google.AddContact(c); err != nil {
			w.t.Fatal(err)
		}
	}
	dan, err := w.CRM.Contact(w.Ctx, "", w.ids.Contacts["dan"])
	if err != nil {
		w.t.Fatal(err)
	}
	dan.FirstName = "Daniel"
	if _, err := w.CRM.UpdateContact(w.Ctx, crm.Write{IdempotencyKey: "rename-dan"}, dan); err != nil {
		w.t.Fatal(err)
	}
}

// Twelve passes of one user at once, half through one engine (concurrent
// requests of one function instance) and half through another instance's:
// they never overlap (the lease admits one; the rest are refused with
// Conflict and change nothing), and every change made before them arrives
// once.
func TestConcurrentPassesOfOneUserDoNotOverlap(t *testing.T) {
	w := newWorld(t, store.ContactsSetup{Direction: "both", CreateType: "contact", OnGoogleDelete: "delete"}, nil)
	outage, client := w.OutageCRM(t)
	w.engine.CRM = client
	w.pass()
	w.changeBothSides()
	other := &contactsync.Engine{Deps: syncpass.Deps{Store: w.Store, Log: logging.Discard(), Clock: clock.Real{}, Holder: "another-instance"}, CRM: client, Google: w.engine.Google}
	outage.Contend(t, 12, func() error { _, err := w.engine.Pass(w.Ctx, ann); return err },
		func() error { _, err := other.Pass(w.Ctx, ann); return err })
	w.pass() // the next tick: nothing left, nothing doubled
	crmSide := w.crmByEmail()
	for addr, cs := range crmSide {
		if len(cs) != 1 {
			t.Errorf("%s is %d times in the CRM", addr, len(cs))
		}
	}
	for _, addr := range []string{"hal@else.test", "ida@else.test"} {
		if len(crmSide[addr]) != 1 {
			t.Errorf("%s did not reach the CRM", addr)
		}
	}
	google := w.googleByEmail() // fails the test on any address twice
	if p := google["dan@client.test"]; p == nil || len(p.Names) == 0 || p.Names[0].GivenName != "Daniel" {
		t.Errorf("the CRM's rename did not reach Google: %+v", p)
	}
}
