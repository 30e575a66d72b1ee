package fakegoogle_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"
	"google.golang.org/api/option"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/fakegoogle"
)

func calendarAs(t testing.TB, f *fakegoogle.Server, token string) *calendar.Service {
	t.Helper()
	svc, err := calendar.NewService(context.Background(), option.WithEndpoint(f.URL()+"/calendar/v3/"),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func calendarFor(t testing.TB, f *fakegoogle.Server, email string) *calendar.Service {
	return calendarAs(t, f, f.Token(email, fakegoogle.ScopeCalendar))
}

func timed(summary string, start time.Time, d time.Duration) *calendar.Event {
	return &calendar.Event{Summary: summary,
		Start: &calendar.EventDateTime{DateTime: start.Format(time.RFC3339), TimeZone: start.Location().String()},
		End:   &calendar.EventDateTime{DateTime: start.Add(d).Format(time.RFC3339), TimeZone: start.Location().String()}}
}

// listEvents pages through events.list and returns the items and the sync
// token, checking it comes only on the last page.
func listEvents(t *testing.T, call func(pageToken string) (*calendar.Events, error)) ([]*calendar.Event, string) {
	t.Helper()
	var out []*calendar.Event
	tok := ""
	for {
		resp, err := call(tok)
		if err != nil {
			t.Fatalf("events.list: %v", err)
		}
		out = append(out, resp.Items...)
		if resp.NextPageToken == "" {
			if resp.NextSyncToken == "" {
				t.Fatal("no nextSyncToken on the last page")
			}
			return out, resp.NextSyncToken
		}
		if resp.NextSyncToken != "" {
			t.Fatal("nextSyncToken on a page that is not the last")
		}
		tok = resp.NextPageToken
	}
}

func TestCalendarEventLifecycle(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := calendarFor(t, f, "ann@acme.test")
	start := time.Date(2026, 11, 10, 14, 0, 0, 0, time.UTC)
	e, err := svc.Events.Insert("primary", timed("Review", start, time.Hour)).Do()
	if err != nil {
		t.Fatal(err)
	}
	if e.Id == "" || e.Status != "confirmed" || e.Etag == "" || e.ICalUID == "" || e.Organizer.Email != "ann@acme.test" {
		t.Fatalf("inserted %+v", e)
	}
	got, err := svc.Events.Get("ann@acme.test", e.Id).Do()
	if err != nil || got.Summary != "Review" {
		t.Fatalf("get: %+v, %v", got, err)
	}
	p, err := svc.Events.Patch("primary", e.Id, &calendar.Event{Location: "Room 1"}).Do()
	if err != nil || p.Location != "Room 1" || p.Summary != "Review" || p.Etag == e.Etag {
		t.Fatalf("patch keeps other fields and changes the etag: %+v, %v", p, err)
	}
	moved := timed("Review", start.Add(time.Hour), time.Hour)
	u, err := svc.Events.Update("primary", e.Id, moved).Do()
	if err != nil || u.Location != "" || u.Sequence != 1 {
		t.Fatalf("update replaces the event and bumps the sequence on a move: %+v, %v", u, err)
	}
	if err := svc.Events.Delete("primary", e.Id).Do(); err != nil {
		t.Fatal(err)
	}
	gone, err := svc.Events.Get("primary", e.Id).Do()
	if err != nil || gone.Status != "cancelled" {
		t.Errorf("a deleted event reads as cancelled: %+v, %v", gone, err)
	}
	apiErr(t, svc.Events.Delete("primary", e.Id).Do(), 410, "deleted")

	_, err = svc.Events.Insert("primary", &calendar.Event{Summary: "x", Start: &calendar.EventDateTime{Date: "2026-11-10"}}).Do()
	apiErr(t, err, 400, "required")
	backwards := timed("x", start, -time.Hour)
	_, err = svc.Events.Insert("primary", backwards).Do()
	apiErr(t, err, 400, "timeRangeEmpty")
	withID := timed("x", start, time.Hour)
	withID.Id = "crm0001a"
	if _, err := svc.Events.Insert("primary", withID).Do(); err != nil {
		t.Fatalf("client-chosen id: %v", err)
	}
	_, err = svc.Events.Insert("primary", withID).Do()
	apiErr(t, err, 409, "duplicate")
	withID.Id = "UPPER_case"
	_, err = svc.Events.Insert("primary", withID).Do()
	apiErr(t, err, 400, "invalidArgument")
	_, err = svc.Events.Get("primary", "nosuchevent").Do()
	apiErr(t, err, 404, "notFound")
	_, err = svc.Events.List("someone-else@acme.test").Do()
	apiErr(t, err, 404, "notFound")
}

func TestCalendarIncrementalSync(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := calendarFor(t, f, "ann@acme.test")
	start := time.Date(2026, 11, 10, 14, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 5 {
		e, err := svc.Events.Insert("primary", timed(fmt.Sprint("E", i), start.Add(time.Duration(i)*time.Hour), time.Hour)).Do()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.Id)
	}
	all, tok := listEvents(t, func(pt string) (*calendar.Events, error) {
		return svc.Events.List("primary").MaxResults(2).PageToken(pt).Do()
	})
	if len(all) != 5 {
		t.Fatalf("full list: %d events", len(all))
	}
	svc.Events.Patch("primary", ids[0], &calendar.Event{Summary: "changed"}).Do()
	svc.Events.Delete("primary", ids[1]).Do()
	changes, tok2 := listEvents(t, func(pt string) (*calendar.Events, error) {
		return svc.Events.List("primary").SyncToken(tok).PageToken(pt).Do()
	})
	if len(changes) != 2 {
		t.Fatalf("incremental: %d changes, want 2", len(changes))
	}
	status := map[string]string{}
	for _, e := range changes {
		status[e.Id] = e.Status
	}
	if status[ids[0]] != "confirmed" || status[ids[1]] != "cancelled" {
		t.Errorf("changes %v: want the patched event confirmed and the deleted one cancelled", status)
	}
	// A full list leaves deleted events out unless showDeleted.
	all, _ = listEvents(t, func(pt string) (*calendar.Events, error) { return svc.Events.List("primary").PageToken(pt).Do() })
	withDeleted, _ := listEvents(t, func(pt string) (*calendar.Events, error) {
		return svc.Events.List("primary").ShowDeleted(true).PageToken(pt).Do()
	})
	if len(all) != 4 || len(withDeleted) != 5 {
		t.Errorf("full list %d (want 4), with showDeleted %d (want 5)", len(all), len(withDeleted))
	}
	// Parameters Google forbids with a sync token.
	_, err := svc.Events.List("primary").SyncToken(tok2).TimeMin(start.Format(time.RFC3339)).Do()
	apiErr(t, err, 400, "invalidArgument")
	_, err = svc.Events.List("primary").SyncToken(tok2).Q("x").Do()
	apiErr(t, err, 400, "invalidArgument")
	// An invalidated token answers 410 GONE.
	f.InvalidateSyncTokens("ann@acme.test")
	_, err = svc.Events.List("primary").SyncToken(tok2).Do()
	apiErr(t, err, 410, "fullSyncRequired")
	_, err = svc.Events.List("primary").SyncToken("garbage").Do()
	apiErr(t, err, 410, "fullSyncRequired")
}

func TestCalendarRecurringSeries(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := calendarFor(t, f, "ann@acme.test")
	ny, _ := time.LoadLocation("America/New_York")
	// Weekly on Mondays at 9:00 New York time across the end of DST
	// (1 November 2026), five times, the third skipped with EXDATE.
	start := time.Date(2026, 10, 19, 9, 0, 0, 0, ny)
	series := timed("Weekly review", start, 30*time.Minute)
	series.Recurrence = []string{"RRULE:FREQ=WEEKLY;COUNT=5", "EXDATE;TZID=America/New_York:20261102T090000"}
	m, err := svc.Events.Insert("primary", series).Do()
	if err != nil {
		t.Fatal(err)
	}
	expand := func(showDeleted bool) []*calendar.Event {
		resp, err := svc.Events.List("primary").SingleEvents(true).OrderBy("startTime").ShowDeleted(showDeleted).Do()
		if err != nil {
			t.Fatal(err)
		}
		return resp.Items
	}
	inst := expand(false)
	if len(inst) != 4 {
		t.Fatalf("%d instances, want 4 (5 less the EXDATE)", len(inst))
	}
	for _, in := range inst {
		st, _ := time.Parse(time.RFC3339, in.Start.DateTime)
		if st.In(ny).Hour() != 9 || in.RecurringEventId != m.Id || in.OriginalStartTime == nil || in.Recurrence != nil {
			t.Errorf("instance %s starts %s (want 9:00 New York), recurringEventId %q", in.Id, st.In(ny), in.RecurringEventId)
		}
	}
	wantID := m.Id + "_" + start.UTC().Format("20060102T150405Z")
	if inst[0].Id != wantID {
		t.Errorf("first instance id %q, want %q", inst[0].Id, wantID)
	}

	// Move the second instance and cancel the fourth: exceptions.
	moved, err := svc.Events.Patch("primary", inst[1].Id, &calendar.Event{
		Start: &calendar.EventDateTime{DateTime: "2026-10-26T11:00:00-04:00", TimeZone: "America/New_York"},
		End:   &calendar.EventDateTime{DateTime: "2026-10-26T11:30:00-04:00", TimeZone: "America/New_York"}}).Do()
	if err != nil || moved.RecurringEventId != m.Id || moved.OriginalStartTime.DateTime != inst[1].OriginalStartTime.DateTime {
		t.Fatalf("moving an instance: %+v, %v", moved, err)
	}
	if err := svc.Events.Delete("primary", inst[3].Id).Do(); err != nil {
		t.Fatal(err)
	}
	inst = expand(false)
	if len(inst) != 3 || inst[1].Start.DateTime != "2026-10-26T11:00:00-04:00" {
		t.Fatalf("after the exceptions: %d instances (want 3), second at %v", len(inst), inst[1].Start)
	}
	if n := len(expand(true)); n != 4 {
		t.Errorf("with showDeleted: %d instances, want 4 (the cancelled one included)", n)
	}
	// Not expanded: the master plus both exceptions, the cancelled one too.
	resp, err := svc.Events.List("primary").Do()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range resp.Items {
		switch {
		case len(e.Recurrence) > 0:
			kinds = append(kinds, "master")
		case e.RecurringEventId != "":
			kinds = append(kinds, "exception:"+e.Status)
		}
	}
	slices.Sort(kinds)
	if !slices.Equal(kinds, []string{"exception:cancelled", "exception:confirmed", "master"}) {
		t.Errorf("singleEvents=false: %v", kinds)
	}
	// instances lists the series alone.
	ir, err := svc.Events.Instances("primary", m.Id).Do()
	if err != nil || len(ir.Items) != 3 {
		t.Fatalf("instances: %v items, %v", len(ir.Items), err)
	}
	got, err := svc.Events.Get("primary", inst[2].Id).Do()
	if err != nil || got.RecurringEventId != m.Id {
		t.Errorf("get of an unmodified instance: %+v, %v", got, err)
	}
	_, err = svc.Events.Get("primary", m.Id+"_20261020T130000Z").Do()
	apiErr(t, err, 404, "notFound")
	// orderBy=startTime needs singleEvents.
	_, err = svc.Events.List("primary").OrderBy("startTime").Do()
	apiErr(t, err, 400, "invalidArgument")
	// Deleting the series cancels its exceptions too.
	svc.Events.Delete("primary", m.Id).Do()
	if n := len(expand(false)); n != 0 {
		t.Errorf("%d instances after deleting the series", n)
	}
}

func TestCalendarAllDayEvents(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := calendarFor(t, f, "ann@acme.test")
	e, err := svc.Events.Insert("primary", &calendar.Event{Summary: "Conference",
		Start: &calendar.EventDateTime{Date: "2026-11-10"}, End: &calendar.EventDateTime{Date: "2026-11-12"},
		Recurrence: []string{"RRULE:FREQ=YEARLY;COUNT=2"}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := svc.Events.Instances("primary", e.Id).Do()
	if err != nil || len(resp.Items) != 2 {
		t.Fatalf("instances: %v, %v", resp, err)
	}
	second := resp.Items[1]
	if second.Start.Date != "2027-11-10" || second.End.Date != "2027-11-12" || second.Id != e.Id+"_20271110" || second.Start.DateTime != "" {
		t.Errorf("second instance %s: %+v – %+v; want 2027-11-10 to the exclusive end 2027-11-12", second.Id, second.Start, second.End)
	}
	_, err = svc.Events.Insert("primary", &calendar.Event{Summary: "empty",
		Start: &calendar.EventDateTime{Date: "2026-11-10"}, End: &calendar.EventDateTime{Date: "2026-11-10"}}).Do()
	apiErr(t, err, 400, "timeRangeEmpty")
	// timeMin/timeMax select by overlap.
	in, err := svc.Events.List("primary").SingleEvents(true).TimeMin("2026-11-11T12:00:00Z").TimeMax("2026-11-11T13:00:00Z").Do()
	if err != nil || len(in.Items) != 1 {
		t.Errorf("an all-day event overlapping the window: %d items, %v", len(in.Items), err)
	}
}

func TestCalendarAttachmentsAndExtendedProperties(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := calendarFor(t, f, "ann@acme.test")
	start := time.Date(2026, 11, 10, 14, 0, 0, 0, time.UTC)
	ev := timed("With files", start, time.Hour)
	ev.Attachments = []*calendar.EventAttachment{{FileUrl: "https://drive.google.com/file/d/1", Title: "agenda.pdf"}}
	ev.ExtendedProperties = &calendar.EventExtendedProperties{Private: map[string]string{"crmId": "A-1"}}
	plain, _ := svc.Events.Insert("primary", ev).Do()
	if len(plain.Attachments) != 0 {
		t.Error("attachments kept without supportsAttachments")
	}
	with, err := svc.Events.Insert("primary", ev).SupportsAttachments(true).Do()
	if err != nil || len(with.Attachments) != 1 {
		t.Fatalf("attachments with supportsAttachments: %+v, %v", with, err)
	}
	// A patch without supportsAttachments leaves them alone.
	p, _ := svc.Events.Patch("primary", with.Id, &calendar.Event{Summary: "renamed"}).Do()
	if len(p.Attachments) != 1 {
		t.Error("a patch without supportsAttachments dropped the attachments")
	}
	ev.Attachments = slices.Repeat(ev.Attachments, 26)
	_, err = svc.Events.Insert("primary", ev).SupportsAttachments(true).Do()
	apiErr(t, err, 400, "invalidArgument")

	found, err := svc.Events.List("primary").PrivateExtendedProperty("crmId=A-1").Do()
	if err != nil || len(found.Items) != 2 {
		t.Errorf("privateExtendedProperty: %d items, %v", len(found.Items), err)
	}
}

func TestCalendarListsAndScopes(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := calendarFor(t, f, "ann@acme.test")
	c, err := svc.Calendars.Insert(&calendar.Calendar{Summary: "CRM"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	list, err := svc.CalendarList.List().Do()
	if err != nil || len(list.Items) != 2 || !list.Items[0].Primary || list.Items[1].Summary != "CRM" {
		t.Fatalf("calendarList: %+v, %v", list, err)
	}
	if got, err := svc.Calendars.Get(c.Id).Do(); err != nil || got.Summary != "CRM" {
		t.Errorf("calendars.get: %+v, %v", got, err)
	}
	if got, err := svc.Calendars.Get("primary").Do(); err != nil || got.Id != "ann@acme.test" {
		t.Errorf("calendars.get primary: %+v, %v", got, err)
	}
	ro := calendarAs(t, f, f.Token("ann@acme.test", fakegoogle.ScopeCalendarRead))
	_, err = ro.Events.Insert("primary", timed("x", time.Now(), time.Hour)).Do()
	apiErr(t, err, 403, "insufficientPermissions")
	if _, err := ro.Events.List(c.Id).Do(); err != nil {
		t.Errorf("reading with calendar.readonly: %v", err)
	}
	_, err = calendarFor(t, f, "bob@acme.test").Events.List(c.Id).Do()
	apiErr(t, err, 404, "notFound")
}

type pushReceiver struct {
	mu   sync.Mutex
	got  []http.Header
	more chan struct{}
}

func (p *pushReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.got = append(p.got, r.Header.Clone())
	p.mu.Unlock()
	p.more <- struct{}{}
}

func (p *pushReceiver) wait(t *testing.T, n int) []http.Header {
	t.Helper()
	for {
		p.mu.Lock()
		have := len(p.got)
		p.mu.Unlock()
		if have >= n {
			break
		}
		select {
		case <-p.more:
		case <-time.After(5 * time.Second):
			t.Fatalf("waited for %d notifications, have %d", n, have)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.got)
}

func TestCalendarPushChannels(t *testing.T) {
	clk := clock.NewFake(t0)
	f := newFake(t, fakegoogle.Options{Clock: clk})
	rcv := &pushReceiver{more: make(chan struct{}, 100)}
	hook := httptest.NewServer(rcv)
	defer hook.Close()
	svc := calendarFor(t, f, "ann@acme.test")
	ch, err := svc.Events.Watch("primary", &calendar.Channel{Id: "chan-1", Type: "web_hook", Address: hook.URL + "/hook", Token: "secret"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if ch.ResourceId == "" || ch.Expiration != t0.Add(7*24*time.Hour).UnixMilli() {
		t.Fatalf("channel %+v: want a resource id and a 7-day expiration", ch)
	}
	h := rcv.wait(t, 1)[0]
	if h.Get("X-Goog-Resource-State") != "sync" || h.Get("X-Goog-Channel-Token") != "secret" || h.Get("X-Goog-Channel-Id") != "chan-1" ||
		h.Get("X-Goog-Message-Number") != "1" || h.Get("X-Goog-Resource-Id") != ch.ResourceId {
		t.Errorf("first notification headers %v", h)
	}
	_, err = svc.Events.Watch("primary", &calendar.Channel{Id: "chan-1", Type: "web_hook", Address: hook.URL}).Do()
	apiErr(t, err, 400, "channelIdNotUnique")

	svc.Events.Insert("primary", timed("x", t0, time.Hour)).Do()
	h = rcv.wait(t, 2)[1]
	if h.Get("X-Goog-Resource-State") != "exists" || h.Get("X-Goog-Message-Number") != "2" {
		t.Errorf("change notification headers %v", h)
	}
	if err := svc.Channels.Stop(&calendar.Channel{Id: "chan-1", ResourceId: ch.ResourceId}).Do(); err != nil {
		t.Fatal(err)
	}
	apiErr(t, svc.Channels.Stop(&calendar.Channel{Id: "chan-1", ResourceId: ch.ResourceId}).Do(), 404, "notFound")
	svc.Events.Insert("primary", timed("y", t0, time.Hour)).Do()

	// An expired channel stops notifying.
	ch2, _ := svc.Events.Watch("primary", &calendar.Channel{Id: "chan-2", Type: "web_hook", Address: hook.URL,
		Expiration: t0.Add(time.Hour).UnixMilli()}).Do()
	rcv.wait(t, 3)
	clk.Advance(2 * time.Hour)
	svc = calendarFor(t, f, "ann@acme.test")
	svc.Events.Insert("primary", timed("z", t0, time.Hour)).Do()
	time.Sleep(100 * time.Millisecond)
	if got := rcv.wait(t, 3); len(got) != 3 {
		t.Errorf("%d notifications; a stopped and an expired channel (%s) sent more", len(got), ch2.Id)
	}
	if f.PushFailures() != 0 {
		t.Errorf("%d push failures", f.PushFailures())
	}
}

// Cancelled events are listed in Google's minimal shape (the Events
// resource, field "status"): a cancelled occurrence carries only id,
// recurringEventId and originalStartTime; a deleted event in an incremental
// sync without showDeleted only its id. events.get keeps the details.
func TestCalendarListsCancelledEventsInTheirMinimalShape(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := calendarFor(t, f, "ann@acme.test")
	start := t0.Add(24 * time.Hour)
	one, err := svc.Events.Insert("primary", timed("One-off", start, time.Hour)).Do()
	if err != nil {
		t.Fatal(err)
	}
	series := timed("Weekly", start.Add(2*time.Hour), time.Hour)
	series.Recurrence = []string{"RRULE:FREQ=WEEKLY;COUNT=3"}
	s, err := svc.Events.Insert("primary", series).Do()
	if err != nil {
		t.Fatal(err)
	}
	full, err := svc.Events.List("primary").Do()
	if err != nil {
		t.Fatal(err)
	}
	inst, err := svc.Events.Instances("primary", s.Id).Do()
	if err != nil || len(inst.Items) != 3 {
		t.Fatalf("instances: %v, %v", inst, err)
	}
	if err := svc.Events.Delete("primary", inst.Items[1].Id).Do(); err != nil {
		t.Fatal(err)
	}
	if err := svc.Events.Delete("primary", one.Id).Do(); err != nil {
		t.Fatal(err)
	}
	changes, err := svc.Events.List("primary").SyncToken(full.NextSyncToken).Do()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*calendar.Event{}
	for _, e := range changes.Items {
		byID[e.Id] = e
	}
	occ, del := byID[inst.Items[1].Id], byID[one.Id]
	if occ == nil || occ.Status != "cancelled" || occ.RecurringEventId != s.Id || occ.OriginalStartTime == nil ||
		occ.Summary != "" || occ.Start != nil || occ.End != nil {
		t.Errorf("cancelled occurrence listed as %+v, want only id, status, recurringEventId and originalStartTime", occ)
	}
	if del == nil || del.Status != "cancelled" || del.Summary != "" || del.Start != nil || del.RecurringEventId != "" {
		t.Errorf("deleted event listed as %+v, want only its id and status", del)
	}
	if got, err := svc.Events.Get("primary", one.Id).Do(); err != nil || got.Summary != "One-off" {
		t.Errorf("events.get of the deleted event: %+v, %v; want its details", got, err)
	}
	shown, err := svc.Events.List("primary").SyncToken(full.NextSyncToken).ShowDeleted(true).Do()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range shown.Items {
		if e.Id == one.Id && e.Summary != "One-off" {
			t.Errorf("with showDeleted the organizer's deleted event keeps its details: %+v", e)
		}
	}
}
