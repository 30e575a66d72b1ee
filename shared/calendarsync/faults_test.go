package calendarsync_test

import (
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/syncpass/syncpasstest"
)

// The CRM down, then a burst of Calendar 429 and 503 answers: the passes
// in that time fail without moving a cursor; the first pass after both
// end carries every change made in the meantime, on both sides, once.
func TestOutagesCatchUpWithoutLossOrDuplicates(t *testing.T) {
	w := newWorld(t, all)
	outage, client := w.OutageCRM(t)
	w.engine.CRM = client
	day := time.Now().AddDate(0, 0, 3)
	if _, err := w.cal.Events.Insert("primary", event("Before", at(day, 9), 1)).Do(); err != nil {
		t.Fatal(err)
	}
	w.pass()

	var crmSide crm.Activity
	syncpasstest.Outages{
		Pass:    func() error { _, err := w.engine.Pass(w.Ctx, ann); return err },
		CRMDown: outage.Down,
		During: func() {
			if _, err := w.cal.Events.Insert("primary", event("During the outage", at(day, 11), 1)).Do(); err != nil {
				t.Fatal(err)
			}
			var err error
			crmSide, err = w.CRM.CreateActivity(w.Ctx, crm.Write{AsUser: "u-ann", IdempotencyKey: "crm-during"}, crm.Activity{Owner: "u-ann", Title: "Booked in the CRM",
				Start: at(day, 14), End: at(day, 15), TimeZone: "America/New_York"})
			if err != nil {
				t.Fatal(err)
			}
		},
		Listing: "calendar.events.list",
		Burst:   []int{429, 503, 503, 429},
	}.Ride(t, w.Google)

	w.pass() // the first tick after both outages
	w.pass()
	acts := w.activities() // fails on a title twice
	for _, title := range []string{"Before", "During the outage", "Booked in the CRM"} {
		if _, ok := acts[title]; !ok {
			t.Errorf("no activity %q", title)
		}
	}
	evs := w.events()
	if _, ok := evs["Booked in the CRM"]; !ok {
		t.Errorf("the CRM's activity %s did not reach Google: %v", crmSide.ID, evs)
	}
	if len(evs) != 3 || len(acts) != 3 {
		t.Errorf("%d events and %d activities, want 3 of each", len(evs), len(acts))
	}
}

// Twelve passes of one user at once, half through one engine (concurrent
// requests of one function instance) and half through another instance's:
// they never overlap, the rest are refused with Conflict, and every change
// made before them arrives once.
func TestConcurrentPassesOfOneUserDoNotOverlap(t *testing.T) {
	w := newWorld(t, all)
	outage, client := w.OutageCRM(t)
	w.engine.CRM = client
	day := time.Now().AddDate(0, 0, 3)
	w.pass()
	if _, err := w.cal.Events.Insert("primary", event("From Google", at(day, 11), 1)).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.CRM.CreateActivity(w.Ctx, crm.Write{AsUser: "u-ann", IdempotencyKey: "crm-race"}, crm.Activity{Owner: "u-ann", Title: "From the CRM",
		Start: at(day, 14), End: at(day, 15), TimeZone: "America/New_York"}); err != nil {
		t.Fatal(err)
	}
	other := *w.engine
	other.CRM, other.Holder = client, "another-instance"
	outage.Contend(t, 12, func() error { _, err := w.engine.Pass(w.Ctx, ann); return err },
		func() error { _, err := other.Pass(w.Ctx, ann); return err })
	w.pass()
	acts := w.activities() // fails on a title twice
	evs := w.events()
	for _, title := range []string{"From Google", "From the CRM"} {
		if _, ok := acts[title]; !ok {
			t.Errorf("no activity %q", title)
		}
		if _, ok := evs[title]; !ok {
			t.Errorf("no event %q", title)
		}
	}
	if len(evs) != len(acts) {
		t.Errorf("%d events and %d activities, want as many", len(evs), len(acts))
	}
}
