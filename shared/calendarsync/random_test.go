package calendarsync_test

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	calendar "google.golang.org/api/calendar/v3"

	"github.com/crmsync/crmsync/shared/calendarsync"
	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/seeded"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/syncpass/syncpasstest"
)

// calRun is one seed's randomized calendar run: three users of one firm
// (one CRM), each syncing their own calendar, random edits on both sides
// (timed, all-day, weekly series across the next change of daylight
// saving time, moved and cancelled occurrences, deleted series), one-way
// periods, every user's passes at once. After each round: no duplicates,
// nothing gone that nobody deleted, each two-way user's calendar agreeing
// with their CRM activities, and a pass with no edits writing nothing.
type calRun struct {
	*syncpasstest.World
	t      *testing.T
	rng    *rand.Rand
	engine *calendarsync.Engine
	users  []string
	cal    map[string]*calendar.Service
	next   int
	// gone are entries (by key) somebody deleted this round; keptApart,
	// per user, entries whose sides may differ (edited during a one-way
	// period).
	gone      map[string]bool
	keptApart map[string]map[string]bool
	story     *seeded.Story
}

// A randomized convergence run of calendar sync (package seeded says how
// to replay a seed).
func TestRandomizedCalendarConvergence(t *testing.T) {
	seeded.Run(t, 5, func(t *testing.T, rng *rand.Rand, story *seeded.Story) {
		r := &calRun{t: t, rng: rng, story: story, keptApart: map[string]map[string]bool{}}
		r.start()
		for round := range 5 {
			r.gone = map[string]bool{}
			before := r.snapshot()
			switch {
			case round == 4:
				for _, u := range r.users {
					r.setDirection(u, "both")
				}
			case round > 0 && r.rng.IntN(2) == 0:
				u := r.users[r.rng.IntN(len(r.users))]
				r.setDirection(u, []string{"both", "google-to-crm", "crm-to-google"}[r.rng.IntN(3)])
			}
			for range 3 + r.rng.IntN(5) {
				r.edit()
			}
			r.settle(fmt.Sprint("round ", round))
			r.checkNothingLost(before)
		}
	})
}

func (r *calRun) logf(format string, args ...any) { r.story.Printf(format, args...) }

func (r *calRun) start() {
	t := r.t
	r.users = []string{"ann@firm.test", "bob@firm.test", "cat@firm.test"}
	r.World = syncpasstest.New(t, "random", fakegoogle.Options{})
	var ds refcrm.Dataset
	for _, u := range r.users {
		r.Google.AddUser(fakegoogle.User{Email: u, TimeZone: "America/New_York"})
		ds.Users = append(ds.Users, refcrm.ImportUser{Key: "u-" + u, Email: u, IntegrationEnabled: true})
	}
	r.Import(t, ds)
	r.cal = map[string]*calendar.Service{}
	for _, u := range r.users {
		r.AddSyncingUser(t, store.User{Email: u, Calendar: store.CalendarSetup{Direction: "both", Recurring: true, AllDay: true}})
		r.cal[u], _ = r.Factory.Calendar(r.Ctx, u)
		r.keptApart[u] = map[string]bool{}
	}
	deps := r.Deps("random")
	deps.Log = slog.New(slog.NewTextHandler(&r.story.Trace, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r.engine = &calendarsync.Engine{Deps: deps, CRM: r.CRM, Google: r.Factory}
	r.settle("the first sync")
}

func (r *calRun) setDirection(u, d string) {
	r.logf("options: %s syncs %s", u, d)
	if _, err := r.Store.Users().Update(r.Ctx, u, func(x *store.User) error { x.Calendar.Direction = d; return nil }); err != nil {
		r.t.Fatal(err)
	}
}

func (r *calRun) direction(u string) string {
	x, err := r.Store.Users().Get(r.Ctx, u)
	if err != nil {
		r.t.Fatal(err)
	}
	return x.Calendar.Direction
}

// edited notes that entry k of user u changed on side from: under a
// direction that does not carry it, the sides may differ from now on.
func (r *calRun) edited(u, from, k string) {
	d := r.direction(u)
	if d != "both" && !(from == "google" && d == "google-to-crm") && !(from == "crm" && d == "crm-to-google") {
		r.keptApart[u][k] = true
	}
}

func (r *calRun) settle(what string) {
	r.t.Helper()
	for i := range 6 {
		var mu sync.Mutex
		var wg sync.WaitGroup
		quiet := true
		for _, u := range r.users {
			wg.Go(func() {
				res, err := r.engine.Pass(r.Ctx, u)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					r.t.Errorf("%s: pass of %s: %v", what, u, err)
				}
				if !res.Quiet {
					quiet = false
					r.logf("  %s pass %d of %s: %+v", what, i, u, res)
				}
			})
		}
		wg.Wait()
		if r.t.Failed() {
			r.t.FailNow()
		}
		if quiet {
			r.check(what)
			return
		}
	}
	r.t.Fatalf("%s: passes did not settle in 6 rounds (a pass with no edits must write nothing)", what)
}

// entry is a calendar entry as both sides compare it: a series or single
// entry by its title, an exception by its series' title and original
// start.
type entry struct {
	key, start, end, recurrence string
	cancelled                   bool
}

func canonical(dt *calendar.EventDateTime) string {
	if dt == nil {
		return ""
	}
	if dt.Date != "" {
		return dt.Date
	}
	t, err := time.Parse(time.RFC3339, dt.DateTime)
	if err != nil {
		return dt.DateTime
	}
	return t.UTC().Format(time.RFC3339)
}

// googleEntries lists a user's calendar: series, single events and
// exceptions (cancelled occurrences in Google's minimal shape).
func (r *calRun) googleEntries(u string) map[string][]entry {
	r.t.Helper()
	var items []*calendar.Event
	page := ""
	for {
		c := r.cal[u].Events.List("primary").MaxResults(2500)
		if page != "" {
			c = c.PageToken(page)
		}
		resp, err := c.Do()
		if err != nil {
			r.t.Fatal(err)
		}
		items = append(items, resp.Items...)
		if page = resp.NextPageToken; page == "" {
			break
		}
	}
	title := map[string]string{}
	for _, e := range items {
		if e.RecurringEventId == "" {
			title[e.Id] = e.Summary
		}
	}
	out := map[string][]entry{}
	for _, e := range items {
		var x entry
		if e.RecurringEventId != "" {
			if _, ok := title[e.RecurringEventId]; !ok {
				continue // an occurrence of a deleted series: gone with it
			}
			x = entry{key: title[e.RecurringEventId] + " @" + canonical(e.OriginalStartTime), cancelled: e.Status == "cancelled"}
		} else {
			x = entry{key: e.Summary, recurrence: strings.Join(e.Recurrence, "\n")}
		}
		if !x.cancelled {
			x.start, x.end = canonical(e.Start), canonical(e.End)
		}
		out[x.key] = append(out[x.key], x)
	}
	return out
}

// crmEntries lists a user's CRM activities the same way.
func (r *calRun) crmEntries(u string) map[string][]entry {
	r.t.Helper()
	acts, err := r.CRM.ListActivities(r.Ctx, "u-"+u)
	if err != nil {
		r.t.Fatal(err)
	}
	title := map[string]string{}
	for _, a := range acts {
		title[a.ID] = a.Title
	}
	out := map[string][]entry{}
	for _, a := range acts {
		var x entry
		if a.SeriesID != "" {
			series, ok := title[a.SeriesID]
			if !ok {
				series = "(an exception of a deleted series)"
			}
			orig := a.OriginalStart
			if t, err := time.Parse(time.RFC3339, orig); err == nil {
				orig = t.UTC().Format(time.RFC3339)
			}
			x = entry{key: series + " @" + strings.TrimPrefix(orig, "date:"), cancelled: a.Cancelled}
		} else {
			x = entry{key: a.Title, recurrence: strings.Join(a.Recurrence, "\n")}
		}
		if !x.cancelled {
			if a.StartDate != "" {
				x.start, x.end = a.StartDate, a.EndDate
			} else {
				x.start, x.end = a.Start.UTC().Format(time.RFC3339), a.End.UTC().Format(time.RFC3339)
			}
		}
		out[x.key] = append(out[x.key], x)
	}
	return out
}

func (r *calRun) check(what string) {
	r.t.Helper()
	for _, u := range r.users {
		g, c := r.googleEntries(u), r.crmEntries(u)
		for k, xs := range g {
			if len(xs) > 1 {
				r.t.Errorf("%s: %s's calendar has %d entries %q", what, u, len(xs), k)
			}
		}
		for k, xs := range c {
			if len(xs) > 1 {
				r.t.Errorf("%s: %s's CRM has %d activities %q", what, u, len(xs), k)
			}
		}
		if r.direction(u) != "both" {
			continue
		}
		for k, xs := range c {
			if r.keptApart[u][seriesOf(k)] {
				continue
			}
			if gx, ok := g[k]; !ok {
				r.t.Errorf("%s: %s's CRM activity %q is not in their calendar", what, u, k)
			} else if gx[0] != xs[0] {
				r.t.Errorf("%s: %s's %q is %+v in the calendar and %+v in the CRM", what, u, k, gx[0], xs[0])
			}
		}
		for k := range g {
			if _, ok := c[k]; !ok && !r.keptApart[u][seriesOf(k)] {
				r.t.Errorf("%s: %s's calendar entry %q is not in the CRM", what, u, k)
			}
		}
	}
}

// seriesOf is the entry a key belongs to (an exception's series).
func seriesOf(k string) string {
	s, _, _ := strings.Cut(k, " @")
	return s
}

func (r *calRun) snapshot() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, u := range r.users {
		out["google "+u], out["crm "+u] = map[string]bool{}, map[string]bool{}
		for k := range r.googleEntries(u) {
			out["google "+u][k] = true
		}
		for k := range r.crmEntries(u) {
			out["crm "+u][k] = true
		}
	}
	return out
}

func (r *calRun) checkNothingLost(before map[string]map[string]bool) {
	r.t.Helper()
	after := r.snapshot()
	for where, keys := range before {
		u := where[strings.Index(where, " ")+1:]
		for k := range keys {
			if !after[where][k] && !r.gone[seriesOf(k)] && !r.keptApart[u][seriesOf(k)] {
				r.t.Errorf("%s lost %q, which nobody deleted", where, k)
			}
		}
	}
}

func (r *calRun) title() string {
	r.next++
	return fmt.Sprintf("E%d", r.next)
}

// when is a random time in the next four months (so series and moves
// cross the next change of daylight saving time in New York) at a whole
// hour of the working day, New York time.
func (r *calRun) when() time.Time {
	d := time.Now().In(ny).AddDate(0, 0, r.rng.IntN(120))
	return time.Date(d.Year(), d.Month(), d.Day(), 8+r.rng.IntN(9), 0, 0, 0, ny)
}

// googleTop are a user's series and single events.
func (r *calRun) googleTop(u string) []*calendar.Event {
	resp, err := r.cal[u].Events.List("primary").MaxResults(2500).Do()
	if err != nil {
		r.t.Fatal(err)
	}
	var out []*calendar.Event
	for _, e := range resp.Items {
		if e.RecurringEventId == "" && e.Status != "cancelled" {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b *calendar.Event) int { return strings.Compare(a.Id, b.Id) })
	return out
}

func (r *calRun) edit() {
	u := r.users[r.rng.IntN(len(r.users))]
	c := r.cal[u]
	top := r.googleTop(u)
	acts, err := r.CRM.ListActivities(r.Ctx, "u-"+u)
	if err != nil {
		r.t.Fatal(err)
	}
	acts = slices.DeleteFunc(acts, func(a crm.Activity) bool { return a.SeriesID != "" })
	check := func(_ any, err error) {
		if err != nil {
			r.t.Fatal(err)
		}
	}
	switch op := r.rng.IntN(10); {
	case op == 0: // a timed event
		title, start := r.title(), r.when()
		r.logf("google %s: event %s at %s", u, title, start.Format(time.RFC3339))
		check(c.Events.Insert("primary", event(title, start, 1+r.rng.IntN(2))).Do())
		r.edited(u, "google", title)
	case op == 1: // an all-day event
		title, d := r.title(), r.when()
		r.logf("google %s: all-day %s on %s", u, title, d.Format(time.DateOnly))
		check(c.Events.Insert("primary", &calendar.Event{Summary: title, Start: &calendar.EventDateTime{Date: d.Format(time.DateOnly)},
			End: &calendar.EventDateTime{Date: d.AddDate(0, 0, 1+r.rng.IntN(2)).Format(time.DateOnly)}}).Do())
		r.edited(u, "google", title)
	case op == 2: // a weekly series
		title, start := r.title(), r.when()
		ev := event(title, start, 1)
		ev.Recurrence = []string{fmt.Sprintf("RRULE:FREQ=WEEKLY;COUNT=%d", 4+r.rng.IntN(4))}
		r.logf("google %s: weekly %s from %s", u, title, start.Format(time.RFC3339))
		check(c.Events.Insert("primary", ev).Do())
		r.edited(u, "google", title)
	case op == 3 && len(top) > 0: // rename or move in Google
		e := top[r.rng.IntN(len(top))]
		patch := &calendar.Event{Summary: e.Summary}
		if e.Start.DateTime != "" && len(e.Recurrence) == 0 && r.rng.IntN(2) == 0 {
			s, _ := time.Parse(time.RFC3339, e.Start.DateTime)
			en, _ := time.Parse(time.RFC3339, e.End.DateTime)
			days := r.rng.IntN(40)
			patch.Start = &calendar.EventDateTime{DateTime: s.AddDate(0, 0, days).In(ny).Format(time.RFC3339), TimeZone: "America/New_York"}
			patch.End = &calendar.EventDateTime{DateTime: en.AddDate(0, 0, days).In(ny).Format(time.RFC3339), TimeZone: "America/New_York"}
			r.logf("google %s: %s moves %d days", u, e.Summary, days)
		} else {
			patch.Location = "Room " + strconv.Itoa(r.rng.IntN(9))
			r.logf("google %s: %s gets location %s", u, e.Summary, patch.Location)
		}
		check(c.Events.Patch("primary", e.Id, patch).Do())
		r.edited(u, "google", e.Summary)
	case op == 4 && len(top) > 0: // delete in Google (a series with its exceptions)
		e := top[r.rng.IntN(len(top))]
		r.logf("google %s: delete %s", u, e.Summary)
		check(nil, c.Events.Delete("primary", e.Id).Do())
		r.deleted(u, "google", e.Summary)
	case op == 5 || op == 6: // cancel or move one occurrence of a series
		var series []*calendar.Event
		for _, e := range top {
			if len(e.Recurrence) > 0 {
				series = append(series, e)
			}
		}
		if len(series) == 0 {
			return
		}
		s := series[r.rng.IntN(len(series))]
		inst, err := c.Events.Instances("primary", s.Id).Do()
		if err != nil || len(inst.Items) < 2 {
			return
		}
		in := inst.Items[1+r.rng.IntN(len(inst.Items)-1)]
		if op == 5 {
			r.logf("google %s: cancel the occurrence of %s at %s", u, s.Summary, in.OriginalStartTime.DateTime)
			check(nil, c.Events.Delete("primary", in.Id).Do())
		} else {
			st, _ := time.Parse(time.RFC3339, in.Start.DateTime)
			en, _ := time.Parse(time.RFC3339, in.End.DateTime)
			r.logf("google %s: move the occurrence of %s at %s by 2 hours", u, s.Summary, in.OriginalStartTime.DateTime)
			check(c.Events.Patch("primary", in.Id, &calendar.Event{
				Start: &calendar.EventDateTime{DateTime: st.Add(2 * time.Hour).Format(time.RFC3339), TimeZone: "America/New_York"},
				End:   &calendar.EventDateTime{DateTime: en.Add(2 * time.Hour).Format(time.RFC3339), TimeZone: "America/New_York"}}).Do())
		}
		r.edited(u, "google", s.Summary)
	case op == 7: // a CRM activity
		title, start := r.title(), r.when()
		a := crm.Activity{Owner: "u-" + u, Title: title, Start: start, End: start.Add(time.Hour), TimeZone: "America/New_York"}
		if r.rng.IntN(3) == 0 {
			a = crm.Activity{Owner: "u-" + u, Title: title, StartDate: start.Format(time.DateOnly), EndDate: start.AddDate(0, 0, 1).Format(time.DateOnly)}
		}
		r.logf("crm %s: activity %s", u, title)
		check(r.CRM.CreateActivity(r.Ctx, crm.Write{}, a))
		r.edited(u, "crm", title)
	case op == 8 && len(acts) > 0: // move or rename in the CRM
		a := acts[r.rng.IntN(len(acts))]
		if a.StartDate == "" && len(a.Recurrence) == 0 {
			days := 1 + r.rng.IntN(30)
			a.Start, a.End = a.Start.AddDate(0, 0, days), a.End.AddDate(0, 0, days)
			r.logf("crm %s: %s moves %d days", u, a.Title, days)
		} else {
			a.Notes = "note " + strconv.Itoa(r.rng.IntN(99))
			r.logf("crm %s: %s gets %s", u, a.Title, a.Notes)
		}
		check(r.CRM.UpdateActivity(r.Ctx, crm.Write{}, a))
		r.edited(u, "crm", a.Title)
	case op == 9 && len(acts) > 0: // delete in the CRM
		a := acts[r.rng.IntN(len(acts))]
		r.logf("crm %s: delete %s", u, a.Title)
		check(r.CRM.DeleteActivity(r.Ctx, crm.Write{}, a.ID, a.Version))
		r.deleted(u, "crm", a.Title)
	}
}

// deleted notes a deletion of entry k on side from: it may vanish on
// both sides, and under a direction that does not carry it, the other
// side keeps it.
func (r *calRun) deleted(u, from, k string) {
	r.gone[k] = true
	r.edited(u, from, k)
}
