package calendarsync_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	calendar "google.golang.org/api/calendar/v3"

	"github.com/crmsync/crmsync/shared/calendarsync"
	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/syncpass/syncpasstest"
)

const ann = "ann@firm.test"

// world is Ann's calendar and her firm's CRM.
type world struct {
	*syncpasstest.World
	t      *testing.T
	ids    refcrm.Imported
	engine *calendarsync.Engine
	// pass runs one pass of Ann's and fails the test on its error.
	pass func() calendarsync.Result
	cal  *calendar.Service
}

var all = store.CalendarSetup{Direction: "both", Recurring: true, AllDay: true, Documents: true, ContactAssociation: true}

func newWorld(t *testing.T, setup store.CalendarSetup) *world {
	t.Helper()
	sw := syncpasstest.New(t, "test", fakegoogle.Options{})
	sw.Google.AddUser(fakegoogle.User{Email: ann, TimeZone: "America/New_York"})
	ids := sw.Import(t, refcrm.Dataset{
		Contacts: []refcrm.ImportContact{
			{Key: "carol", FirstName: "Carol", Emails: []string{"carol@client.test"}},
			{Key: "dan", FirstName: "Dan", Emails: []string{"dan@client.test"}},
		},
		Users: []refcrm.ImportUser{{Key: "u-ann", Email: ann, IntegrationEnabled: true}},
	})
	sw.AddSyncingUser(t, store.User{Email: ann, Calendar: setup})
	w := &world{World: sw, t: t, ids: ids,
		engine: &calendarsync.Engine{Deps: sw.Deps("test"), CRM: sw.CRM, Google: sw.Factory}}
	w.cal, _ = sw.Factory.Calendar(sw.Ctx, ann)
	w.pass = func() calendarsync.Result { return syncpasstest.MustPass(t, sw.Ctx, w.engine.Pass, ann) }
	return w
}

func (w *world) activities() map[string]crm.Activity {
	w.t.Helper()
	as, err := w.CRM.ListActivities(w.Ctx, "u-ann")
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]crm.Activity{}
	for _, a := range as {
		if _, dup := out[a.Title]; dup {
			w.t.Errorf("two activities titled %q", a.Title)
		}
		out[a.Title] = a
	}
	return out
}

func (w *world) events() map[string]*calendar.Event {
	w.t.Helper()
	resp, err := w.cal.Events.List("primary").Do()
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]*calendar.Event{}
	for _, e := range resp.Items {
		key := e.Summary
		if e.RecurringEventId != "" {
			key += " @" + e.OriginalStartTime.DateTime + e.OriginalStartTime.Date
		}
		out[key] = e
	}
	return out
}

var ny, _ = time.LoadLocation("America/New_York")

func at(d time.Time, h int) time.Time { return time.Date(d.Year(), d.Month(), d.Day(), h, 0, 0, 0, ny) }

func event(summary string, start time.Time, hours int) *calendar.Event {
	return &calendar.Event{Summary: summary,
		Start: &calendar.EventDateTime{DateTime: start.Format(time.RFC3339), TimeZone: "America/New_York"},
		End:   &calendar.EventDateTime{DateTime: start.Add(time.Duration(hours) * time.Hour).Format(time.RFC3339), TimeZone: "America/New_York"}}
}

func TestTwoWayEventsAndActivities(t *testing.T) {
	w := newWorld(t, all)
	day := time.Now().AddDate(0, 0, 3)
	ev := event("Review with Carol", at(day, 10), 1)
	ev.Location = "Office"
	ev.Attendees = []*calendar.EventAttendee{{Email: "stranger@else.test"}, {Email: "carol@client.test"}, {Email: "dan@client.test"}}
	ev.Attachments = []*calendar.EventAttachment{{Title: "agenda", FileUrl: "https://docs.example/agenda"}}
	if _, err := w.cal.Events.Insert("primary", ev).SupportsAttachments(true).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.CRM.CreateActivity(w.Ctx, crm.Write{}, crm.Activity{Owner: "u-ann", Title: "Planning", Start: at(day, 14).UTC(), End: at(day, 15).UTC(), TimeZone: "America/New_York"}); err != nil {
		t.Fatal(err)
	}
	r := w.pass()
	if r.CreatedCRM != 1 || r.CreatedGoogle != 1 {
		t.Fatalf("first pass: %+v", r)
	}
	a := w.activities()["Review with Carol"]
	if a.TimeZone != "America/New_York" || !a.Start.Equal(at(day, 10)) || a.Location != "Office" {
		t.Errorf("activity from Google: %+v", a)
	}
	// Guests: the first with a CRM contact is the primary contact, the
	// other matching ones additional; strangers are not added.
	if a.PrimaryContact != w.ids.Contacts["carol"] || !slices.Equal(a.AdditionalContacts, []string{w.ids.Contacts["dan"]}) {
		t.Errorf("contacts of the activity: %q + %v", a.PrimaryContact, a.AdditionalContacts)
	}
	if len(a.Documents) != 1 || a.Documents[0].URL != "https://docs.example/agenda" {
		t.Errorf("documents: %+v", a.Documents)
	}
	g := w.events()["Planning"]
	if g == nil || g.ExtendedProperties == nil || g.ExtendedProperties.Private["crmsyncActivity"] == "" || g.Start.TimeZone != "America/New_York" {
		t.Fatalf("event from the CRM: %+v", g)
	}
	// Echoes of our writes do not loop.
	if r := w.pass(); r.CreatedCRM+r.CreatedGoogle+r.UpdatedCRM+r.UpdatedGoogle != 0 {
		t.Errorf("second pass wrote: %+v", r)
	}
	// A move in Google reaches the CRM; a rename in the CRM reaches Google.
	moved, _ := w.cal.Events.Patch("primary", w.events()["Review with Carol"].Id, event("Review with Carol", at(day, 11), 1)).Do()
	_ = moved
	p := w.activities()["Planning"]
	p.Title = "Planning (updated)"
	if _, err := w.CRM.UpdateActivity(w.Ctx, crm.Write{}, p); err != nil {
		t.Fatal(err)
	}
	w.pass()
	if a := w.activities()["Review with Carol"]; !a.Start.Equal(at(day, 11)) {
		t.Errorf("the move did not reach the CRM: %v", a.Start)
	}
	if w.events()["Planning (updated)"] == nil {
		t.Error("the rename did not reach Google")
	}
	// Deletions both ways.
	w.cal.Events.Delete("primary", w.events()["Review with Carol"].Id).Do()
	p = w.activities()["Planning (updated)"]
	w.CRM.DeleteActivity(w.Ctx, crm.Write{}, p.ID, p.Version)
	w.pass()
	if len(w.activities()) != 0 || len(w.events()) != 0 {
		t.Errorf("after deletions: %d activities, %d events", len(w.activities()), len(w.events()))
	}
}

func TestSeriesWithMovedAndCancelledInstancesAcrossDST(t *testing.T) {
	w := newWorld(t, all)
	// Weekly on Monday at 9:00 New York, from late October across the end
	// of daylight saving (1 November 2026).
	start := time.Date(2026, 10, 19, 9, 0, 0, 0, ny)
	ev := event("Weekly", start, 1)
	ev.Recurrence = []string{"RRULE:FREQ=WEEKLY;COUNT=5"}
	m, err := w.cal.Events.Insert("primary", ev).Do()
	if err != nil {
		t.Fatal(err)
	}
	inst, _ := w.cal.Events.Instances("primary", m.Id).Do()
	w.cal.Events.Patch("primary", inst.Items[1].Id, &calendar.Event{Start: &calendar.EventDateTime{DateTime: "2026-10-27T09:00:00-04:00", TimeZone: "America/New_York"},
		End: &calendar.EventDateTime{DateTime: "2026-10-27T10:00:00-04:00", TimeZone: "America/New_York"}}).Do()
	w.cal.Events.Delete("primary", inst.Items[3].Id).Do()
	w.engine.Clock = clock.NewFake(start.AddDate(0, 0, 10))
	r := w.pass()
	if r.CreatedCRM != 3 {
		t.Fatalf("a series and two exceptions, not five copies: %+v", r)
	}
	as, _ := w.CRM.ListActivities(w.Ctx, "u-ann")
	var series crm.Activity
	var exceptions []crm.Activity
	for _, a := range as {
		if a.SeriesID == "" {
			series = a
		} else {
			exceptions = append(exceptions, a)
		}
	}
	if !slices.Equal(series.Recurrence, []string{"RRULE:FREQ=WEEKLY;COUNT=5"}) || series.TimeZone != "America/New_York" || len(exceptions) != 2 {
		t.Fatalf("series %+v, exceptions %+v", series, exceptions)
	}
	cancelled := 0
	for _, e := range exceptions {
		if e.SeriesID != series.ID || e.OriginalStart == "" {
			t.Errorf("exception %+v", e)
		}
		if e.Cancelled {
			cancelled++
			// The fourth Monday is after the DST change: 9:00 EST is 14:00 UTC.
			if e.OriginalStart != "2026-11-09T14:00:00Z" {
				t.Errorf("cancelled instance's original start %s", e.OriginalStart)
			}
		}
	}
	if cancelled != 1 {
		t.Errorf("%d cancelled exceptions, want 1", cancelled)
	}
}

func TestAllDayEventsAndOptions(t *testing.T) {
	for _, allDay := range []bool{true, false} {
		w := newWorld(t, store.CalendarSetup{Direction: "both", AllDay: allDay})
		d := time.Now().AddDate(0, 0, 5)
		w.cal.Events.Insert("primary", &calendar.Event{Summary: "Conference", Start: &calendar.EventDateTime{Date: d.Format(time.DateOnly)},
			End: &calendar.EventDateTime{Date: d.AddDate(0, 0, 2).Format(time.DateOnly)}}).Do()
		w.Google.AddEvent(ann, "primary", &calendar.Event{Summary: "Carol's birthday", EventType: "birthday",
			Start: &calendar.EventDateTime{Date: d.Format(time.DateOnly)}, End: &calendar.EventDateTime{Date: d.AddDate(0, 0, 1).Format(time.DateOnly)}})
		w.pass()
		acts := w.activities()
		if _, ok := acts["Carol's birthday"]; ok {
			t.Error("a birthday event became an activity")
		}
		c, ok := acts["Conference"]
		switch {
		case allDay && (!ok || c.StartDate != d.Format(time.DateOnly) || c.EndDate != d.AddDate(0, 0, 2).Format(time.DateOnly)):
			t.Errorf("all-day with the option on: %+v (want the dates, end exclusive)", c)
		case !allDay && ok:
			t.Error("an all-day event synced with the option off")
		}
	}
}

func TestExpiredSyncTokenRelinks(t *testing.T) {
	w := newWorld(t, all)
	d := time.Now().AddDate(0, 0, 2)
	w.cal.Events.Insert("primary", event("One", at(d, 9), 1)).Do()
	w.CRM.CreateActivity(w.Ctx, crm.Write{}, crm.Activity{Owner: "u-ann", Title: "Two", Start: at(d, 13).UTC(), End: at(d, 14).UTC(), TimeZone: "America/New_York"})
	w.pass()
	w.Google.InvalidateSyncTokens(ann)
	r := w.pass()
	if !r.FullGoogle || r.CreatedCRM+r.CreatedGoogle != 0 {
		t.Errorf("after the 410: %+v", r)
	}
	if len(w.activities()) != 2 || len(w.events()) != 2 {
		t.Errorf("%d activities and %d events, want 2 and 2", len(w.activities()), len(w.events()))
	}
}

func TestNamedCalendarIsCreatedForTheCRM(t *testing.T) {
	w := newWorld(t, store.CalendarSetup{Direction: "crm-to-google", CalendarName: "SmartOffice"})
	d := time.Now().AddDate(0, 0, 1)
	w.CRM.CreateActivity(w.Ctx, crm.Write{}, crm.Activity{Owner: "u-ann", Title: "Call", Start: at(d, 9).UTC(), End: at(d, 10).UTC(), TimeZone: "America/New_York"})
	w.pass()
	list, _ := w.cal.CalendarList.List().Do()
	var id string
	for _, c := range list.Items {
		if c.Summary == "SmartOffice" {
			id = c.Id
		}
	}
	if id == "" {
		t.Fatal("the SmartOffice calendar was not made")
	}
	evs, _ := w.cal.Events.List(id).Do()
	if len(evs.Items) != 1 || evs.Items[0].Summary != "Call" {
		t.Errorf("SmartOffice calendar: %+v", evs.Items)
	}
	if prim, _ := w.cal.Events.List("primary").Do(); len(prim.Items) != 0 {
		t.Error("the activity went to the primary calendar")
	}
}

// A CRM series with a cancelled occurrence becomes a Google series with
// that instance cancelled: one series, not copies.
func TestCRMSeriesReachesGoogleAsASeries(t *testing.T) {
	w := newWorld(t, all)
	start := time.Now().AddDate(0, 0, 1)
	first := at(start, 9)
	s, err := w.CRM.CreateActivity(w.Ctx, crm.Write{}, crm.Activity{Owner: "u-ann", Title: "Standup", Start: first.UTC(), End: first.Add(30 * time.Minute).UTC(),
		TimeZone: "America/New_York", Recurrence: []string{"RRULE:FREQ=DAILY;COUNT=3"}})
	if err != nil {
		t.Fatal(err)
	}
	second := first.AddDate(0, 0, 1)
	if _, err := w.CRM.CreateActivity(w.Ctx, crm.Write{}, crm.Activity{Owner: "u-ann", Title: "Standup", SeriesID: s.ID, OriginalStart: second.UTC().Format(time.RFC3339),
		Cancelled: true, Start: second.UTC(), End: second.Add(30 * time.Minute).UTC(), TimeZone: "America/New_York"}); err != nil {
		t.Fatal(err)
	}
	r := w.pass()
	if r.CreatedGoogle != 2 {
		t.Fatalf("pass: %+v", r)
	}
	resp, err := w.cal.Events.List("primary").SingleEvents(true).OrderBy("startTime").Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Items) != 2 {
		t.Errorf("%d instances in Google, want 2 (3 less the cancelled one)", len(resp.Items))
	}
	if r := w.pass(); r.CreatedCRM+r.CreatedGoogle+r.UpdatedCRM+r.UpdatedGoogle != 0 {
		t.Errorf("the echo wrote: %+v", r)
	}
}

// Each pass keeps a push channel open on the calendar and replaces it a
// day before it runs out; only the current channel's token is accepted.
func TestPushChannelIsOpenedCheckedAndRenewed(t *testing.T) {
	w := newWorld(t, all)
	got := make(chan http.Header, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got <- r.Header.Clone() }))
	defer hook.Close()
	clk := clock.NewFake(time.Now())
	w.engine.WebhookURL, w.engine.Clock = hook.URL, clk
	w.pass()
	u, _ := w.Store.Users().Get(w.Ctx, ann)
	ch := u.Calendar.Channel
	if ch.ID == "" || ch.Token == "" || ch.Expiration.IsZero() {
		t.Fatalf("no channel after the pass: %+v", ch)
	}
	select {
	case h := <-got:
		if h.Get("X-Goog-Resource-State") != "sync" || h.Get("X-Goog-Channel-Token") != ch.Token {
			t.Errorf("first push %v", h)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the channel's sync message never came")
	}
	for _, tc := range []struct {
		n    calendarsync.Notification
		want bool
	}{
		{calendarsync.Notification{User: ann, ChannelID: ch.ID, Token: ch.Token}, true},
		{calendarsync.Notification{User: ann, ChannelID: ch.ID, Token: "guess"}, false},
		{calendarsync.Notification{User: ann, ChannelID: "other", Token: ch.Token}, false},
		{calendarsync.Notification{User: "nobody@firm.test", ChannelID: ch.ID, Token: ch.Token}, false},
	} {
		if ok, err := w.engine.CheckNotification(w.Ctx, tc.n); err != nil || ok != tc.want {
			t.Errorf("CheckNotification(%+v) = %v, %v; want %v", tc.n, ok, err, tc.want)
		}
	}
	// A pass well before expiry keeps the channel; one within a day of it replaces it.
	w.pass()
	if u, _ := w.Store.Users().Get(w.Ctx, ann); u.Calendar.Channel.ID != ch.ID {
		t.Error("the channel was replaced early")
	}
	clk.Set(ch.Expiration.Add(-time.Hour))
	w.pass()
	u, _ = w.Store.Users().Get(w.Ctx, ann)
	if u.Calendar.Channel.ID == ch.ID || u.Calendar.Channel.Token == ch.Token {
		t.Error("the channel was not renewed before it ran out")
	}
	if ok, _ := w.engine.CheckNotification(w.Ctx, calendarsync.Notification{User: ann, ChannelID: ch.ID, Token: ch.Token}); ok {
		t.Error("the replaced channel is still accepted")
	}
	// Disconnecting (a deleted setup, Google disconnected) stops the
	// channel at Google and forgets it: a change pushes nothing.
	if err := w.engine.Disconnect(w.Ctx, ann); err != nil {
		t.Fatal(err)
	}
	if u, _ := w.Store.Users().Get(w.Ctx, ann); u.Calendar.Channel.ID != "" {
		t.Errorf("the channel is still stored: %+v", u.Calendar.Channel)
	}
	for len(got) > 0 {
		<-got
	}
	if _, err := w.cal.Events.Insert("primary", event("After disconnect", at(time.Now().AddDate(0, 0, 4), 9), 1)).Do(); err != nil {
		t.Fatal(err)
	}
	select {
	case h := <-got:
		t.Errorf("a stopped channel pushed: %v", h)
	case <-time.After(300 * time.Millisecond):
	}
}

// The options that leave things out: recurring entries, documents and
// guests' contacts stay out when off; Google → CRM only writes nothing to
// Google.
func TestOptionsLeaveThingsOut(t *testing.T) {
	w := newWorld(t, store.CalendarSetup{Direction: "google-to-crm"})
	d := time.Now().AddDate(0, 0, 2)
	series := event("Weekly", at(d, 9), 1)
	series.Recurrence = []string{"RRULE:FREQ=WEEKLY;COUNT=3"}
	w.cal.Events.Insert("primary", series).Do()
	one := event("With files and guests", at(d, 13), 1)
	one.Attachments = []*calendar.EventAttachment{{Title: "a", FileUrl: "https://docs.example/a"}}
	one.Attendees = []*calendar.EventAttendee{{Email: "carol@client.test"}}
	w.cal.Events.Insert("primary", one).SupportsAttachments(true).Do()
	w.CRM.CreateActivity(w.Ctx, crm.Write{}, crm.Activity{Owner: "u-ann", Title: "CRM only", Start: at(d, 16).UTC(), End: at(d, 17).UTC(), TimeZone: "America/New_York"})
	w.pass()
	acts := w.activities()
	if _, ok := acts["Weekly"]; ok {
		t.Error("a recurring entry synced with the option off")
	}
	a, ok := acts["With files and guests"]
	if !ok || len(a.Documents) != 0 || a.PrimaryContact != "" {
		t.Errorf("documents and guests synced with the options off: %+v", a)
	}
	if w.events()["CRM only"] != nil {
		t.Error("Google → CRM only wrote to Google")
	}
}

// A pass that finds nothing changed on either side stops there: it reads
// neither the link table nor anything else that grows with the calendar
// (most scheduled passes are such passes). A change is still seen.
func TestQuietPassReadsDoNotGrowWithTheCalendar(t *testing.T) {
	w := newWorld(t, all)
	day := time.Now().AddDate(0, 0, 2)
	for i := range 40 {
		if _, err := w.cal.Events.Insert("primary", event(fmt.Sprintf("Meeting %d", i), at(day.AddDate(0, 0, i%7), 8+i%9), 1)).Do(); err != nil {
			t.Fatal(err)
		}
	}
	syncpasstest.Quiet(t, w.World, w.pass, ann, "calendar", 40, func() {
		if _, err := w.cal.Events.Insert("primary", event("After the quiet", at(day, 18), 1)).Do(); err != nil {
			t.Fatal(err)
		}
	})
}

// tickingClock moves a second every time it is read, as the real clock
// does between the pages of a long listing.
type tickingClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *tickingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Second)
	return c.now
}

// A full read longer than one page sends every page the first page's
// parameters, as Google's pagination guide requires ("perform the exact
// same request as previously and append a pageToken"): the window is not
// recomputed from a clock that moved between pages.
func TestFullReadOverSeveralPagesKeepsItsParameters(t *testing.T) {
	w := newWorld(t, all)
	w.engine.PageSize = 2
	w.engine.Clock = &tickingClock{now: time.Now()}
	day := time.Now().AddDate(0, 0, 1)
	for i := range 5 {
		if _, err := w.cal.Events.Insert("primary", event(fmt.Sprint("Meeting ", i), at(day, 9+i), 1)).Do(); err != nil {
			t.Fatal(err)
		}
	}
	r := w.pass()
	if r.CreatedCRM != 5 || r.CalendarCalls < 3 {
		t.Errorf("a full read of 5 events in pages of 2: %+v, want 5 created over at least 3 events.list calls", r)
	}
	if n := len(w.activities()); n != 5 {
		t.Errorf("%d activities, want 5", n)
	}
}

// liveActivities is every activity of Ann's the CRM still has.
func (w *world) liveActivities() []crm.Activity {
	w.t.Helper()
	as, err := w.CRM.ListActivities(w.Ctx, "u-ann")
	if err != nil {
		w.t.Fatal(err)
	}
	return as
}

// weeklyWithExceptions makes a weekly series of four in Google with one
// occurrence moved and syncs it: a series and one exception in the CRM.
func (w *world) weeklyWithExceptions() (series *calendar.Event, instances []*calendar.Event) {
	w.t.Helper()
	before := len(w.liveActivities())
	ev := event("Weekly", at(time.Now().AddDate(0, 0, 2), 9), 1)
	ev.Recurrence = []string{"RRULE:FREQ=WEEKLY;COUNT=4"}
	s, err := w.cal.Events.Insert("primary", ev).Do()
	if err != nil {
		w.t.Fatal(err)
	}
	inst, err := w.cal.Events.Instances("primary", s.Id).Do()
	if err != nil || len(inst.Items) != 4 {
		w.t.Fatalf("instances: %v", err)
	}
	moved := inst.Items[1]
	start, _ := time.Parse(time.RFC3339, moved.Start.DateTime)
	if _, err := w.cal.Events.Patch("primary", moved.Id, &calendar.Event{Summary: "Weekly (moved)",
		Start: &calendar.EventDateTime{DateTime: start.Add(2 * time.Hour).Format(time.RFC3339), TimeZone: "America/New_York"},
		End:   &calendar.EventDateTime{DateTime: start.Add(3 * time.Hour).Format(time.RFC3339), TimeZone: "America/New_York"}}).Do(); err != nil {
		w.t.Fatal(err)
	}
	w.pass()
	if n := len(w.liveActivities()) - before; n != 2 {
		w.t.Fatalf("%d new activities after syncing a series with one exception, want 2", n)
	}
	return s, inst.Items
}

// Google lists a cancelled occurrence with only its id, series and
// original start, and a deleted event with only its id: the CRM gets a
// cancelled exception of the series at that start, and the deleted
// event's activity is removed.
func TestCancelledOccurrencesAndDeletedEventsInGooglesMinimalShape(t *testing.T) {
	w := newWorld(t, all)
	one, err := w.cal.Events.Insert("primary", event("One-off", at(time.Now().AddDate(0, 0, 1), 15), 1)).Do()
	if err != nil {
		t.Fatal(err)
	}
	w.pass()
	series, inst := w.weeklyWithExceptions()
	if err := w.cal.Events.Delete("primary", inst[2].Id).Do(); err != nil {
		t.Fatal(err)
	}
	if err := w.cal.Events.Delete("primary", one.Id).Do(); err != nil {
		t.Fatal(err)
	}
	r := w.pass()
	var seriesAct crm.Activity
	var cancelled []crm.Activity
	for _, a := range w.liveActivities() {
		switch {
		case a.Title == "One-off":
			t.Errorf("the deleted event's activity is still in the CRM: %+v", a)
		case len(a.Recurrence) > 0:
			seriesAct = a
		case a.Cancelled:
			cancelled = append(cancelled, a)
		}
	}
	want := inst[2].OriginalStartTime.DateTime
	wantStart, _ := time.Parse(time.RFC3339, want)
	if len(cancelled) != 1 || cancelled[0].SeriesID != seriesAct.ID || cancelled[0].Title != "Weekly" ||
		!cancelled[0].Start.Equal(wantStart) || cancelled[0].End.Sub(cancelled[0].Start) != time.Hour {
		t.Errorf("cancelled occurrence of %s (%s) in the CRM: %+v (pass %+v)", series.Id, want, cancelled, r)
	}
	if r.Skipped != 0 {
		t.Errorf("the pass skipped %d changes: %+v", r.Skipped, r)
	}
}

// A series deleted in Google takes its exceptions with it in the CRM.
func TestSeriesDeletedInGoogleTakesItsExceptions(t *testing.T) {
	w := newWorld(t, all)
	series, _ := w.weeklyWithExceptions()
	if err := w.cal.Events.Delete("primary", series.Id).Do(); err != nil {
		t.Fatal(err)
	}
	w.pass()
	if left := w.liveActivities(); len(left) != 0 {
		t.Errorf("after deleting the series in Google the CRM still has %+v", left)
	}
	if r := w.pass(); r.CreatedCRM+r.UpdatedCRM+r.CreatedGoogle+r.UpdatedGoogle+r.DeletedCRM+r.DeletedGoogle != 0 {
		t.Errorf("the pass after the deletion wrote: %+v", r)
	}
}

// A series deleted in the CRM is deleted in Google, and its exceptions in
// the CRM go with it instead of staying as stand-alone entries.
func TestSeriesDeletedInTheCRMTakesItsExceptions(t *testing.T) {
	w := newWorld(t, all)
	series, _ := w.weeklyWithExceptions()
	for _, a := range w.liveActivities() {
		if len(a.Recurrence) > 0 {
			if _, err := w.CRM.DeleteActivity(w.Ctx, crm.Write{AsUser: "u-ann"}, a.ID, a.Version); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.pass()
	w.pass() // Google's cancelled occurrences of the deleted series come back
	if left := w.liveActivities(); len(left) != 0 {
		t.Errorf("after deleting the series in the CRM it still has %+v", left)
	}
	if got, err := w.cal.Events.Get("primary", series.Id).Do(); err != nil || got.Status != "cancelled" {
		t.Errorf("the series in Google: %+v, %v; want it deleted", got, err)
	}
}

// The preview names an event's time in the user's own time zone (their
// Google Calendar's), whatever zone the event was made in.
func TestPreviewNamesTimesInTheUsersZone(t *testing.T) {
	w := newWorld(t, all)
	paris, _ := time.LoadLocation("Europe/Paris")
	day := time.Now().AddDate(0, 0, 3)
	start := time.Date(day.Year(), day.Month(), day.Day(), 18, 0, 0, 0, paris)
	ev := &calendar.Event{Summary: "Call with Lyon",
		Start: &calendar.EventDateTime{DateTime: start.Format(time.RFC3339), TimeZone: "Europe/Paris"},
		End:   &calendar.EventDateTime{DateTime: start.Add(time.Hour).Format(time.RFC3339), TimeZone: "Europe/Paris"}}
	if _, err := w.cal.Events.Insert("primary", ev).Do(); err != nil {
		t.Fatal(err)
	}
	plan, err := w.engine.Preview(w.Ctx, ann)
	if err != nil {
		t.Fatal(err)
	}
	want := "Call with Lyon (" + start.In(ny).Format("Mon 2 Jan 2006 15:04") + " America/New_York)"
	var names []string
	for _, a := range plan.Actions {
		names = append(names, a.Name)
	}
	if !slices.Contains(names, want) {
		t.Errorf("preview names %q, want %q among them", names, want)
	}
}
