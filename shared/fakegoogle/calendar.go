package fakegoogle

import (
	"encoding/base32"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/teambition/rrule-go"
	calendar "google.golang.org/api/calendar/v3"
)

const calendarService = "calendar-json.googleapis.com"

var (
	calRead = googleScopes("calendar", "calendar.app.created", "calendar.events", "calendar.events.freebusy",
		"calendar.events.owned", "calendar.events.owned.readonly", "calendar.events.public.readonly",
		"calendar.events.readonly", "calendar.readonly")
	calWrite    = googleScopes("calendar", "calendar.app.created", "calendar.events", "calendar.events.owned")
	calListRead = googleScopes("calendar", "calendar.calendarlist", "calendar.calendarlist.readonly", "calendar.readonly")
	calGet      = googleScopes("calendar", "calendar.app.created", "calendar.calendars", "calendar.calendars.readonly", "calendar.readonly")
	calInsert   = googleScopes("calendar", "calendar.app.created", "calendar.calendars")
	calStop     = googleScopes("calendar", "calendar.acls", "calendar.acls.readonly", "calendar.app.created",
		"calendar.calendarlist", "calendar.calendarlist.readonly", "calendar.events", "calendar.events.freebusy",
		"calendar.events.owned", "calendar.events.owned.readonly", "calendar.events.public.readonly",
		"calendar.events.readonly", "calendar.readonly", "calendar.settings", "calendar.settings.readonly")
)

func (s *Server) routeCalendar() {
	c := func(method, path, id string, scopes []string, h func(*call) (any, error)) {
		s.handle(&route{httpMethod: method, pattern: "/calendar/v3/" + path, id: "calendar." + id,
			service: calendarService, units: 1, scopes: scopes, handle: h})
	}
	c("GET", "users/me/calendarList", "calendarList.list", calListRead, calendarListList)
	c("GET", "calendars/{calendarId}", "calendars.get", calGet, calendarsGet)
	c("POST", "calendars", "calendars.insert", calInsert, calendarsInsert)
	c("GET", "calendars/{calendarId}/events", "events.list", calRead, eventsList)
	c("POST", "calendars/{calendarId}/events", "events.insert", calWrite, eventsInsert)
	c("GET", "calendars/{calendarId}/events/{eventId}", "events.get", calRead, eventsGet)
	c("PATCH", "calendars/{calendarId}/events/{eventId}", "events.patch", calWrite, eventsPatch)
	c("PUT", "calendars/{calendarId}/events/{eventId}", "events.update", calWrite, eventsUpdate)
	c("DELETE", "calendars/{calendarId}/events/{eventId}", "events.delete", calWrite, eventsDelete)
	c("GET", "calendars/{calendarId}/events/{eventId}/instances", "events.instances", calRead, eventsInstances)
	c("POST", "calendars/{calendarId}/events/watch", "events.watch", calRead, eventsWatch)
	c("POST", "channels/stop", "channels.stop", calStop, channelsStop)
}

// expansionHorizon bounds the expansion of open-ended series when a list
// gives no timeMax; maxInstances bounds any one series.
const (
	expansionHorizon = 2 * 365 * 24 * time.Hour
	maxInstances     = 2500
)

type storedEvent struct {
	e   *calendar.Event
	seq int64
}

type calendarData struct {
	id, summary, description, timeZone string
	primary                            bool
	events                             map[string]*storedEvent
	order                              []string // event ids in creation order
	seq                                int64
	updated                            time.Time
}

// calendars is one user's Google Calendar.
type calendars struct {
	byID  map[string]*calendarData
	order []string
}

func newCalendars(email, timeZone string, now time.Time) *calendars {
	if timeZone == "" {
		timeZone = "UTC"
	}
	cs := &calendars{byID: map[string]*calendarData{}}
	cs.add(&calendarData{id: email, summary: email, timeZone: timeZone, primary: true, updated: now})
	return cs
}

func (cs *calendars) add(cd *calendarData) {
	cd.events = map[string]*storedEvent{}
	cs.byID[cd.id] = cd
	cs.order = append(cs.order, cd.id)
}

func (c *call) calendar() (*calendarData, *apiError) {
	id := c.param("calendarId")
	if id == "primary" {
		id = c.user.email
	}
	cd := c.user.cals.byID[id]
	if cd == nil {
		return nil, errNotFound()
	}
	return cd, nil
}

// validEventID reports whether id is a valid client-chosen event id:
// 5 to 1024 characters of base32hex (a-v, 0-9).
func validEventID(id string) bool {
	return len(id) >= 5 && len(id) <= 1024 && eventIDChars.MatchString(id)
}

var eventIDChars = regexp.MustCompile(`^[a-v0-9]+$`)

func (s *Server) newEventID() string {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(s.rng.UintN(256))
	}
	return strings.ToLower(base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// when is an EventDateTime parsed: the instant (midnight in the zone for
// all-day events) and whether it is all-day.
type when struct {
	t      time.Time
	allDay bool
}

func parseWhen(d *calendar.EventDateTime, field string, defaultZone string) (when, *apiError) {
	if d == nil || (d.Date == "" && d.DateTime == "") {
		return when{}, &apiError{Code: 400, Status: "INVALID_ARGUMENT", Reason: "required", Message: "Missing " + field + " time."}
	}
	zone := d.TimeZone
	if zone == "" {
		zone = defaultZone
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return when{}, errInvalidParam(field+".timeZone", "Invalid time zone definition for %s time.", field)
	}
	if d.Date != "" {
		if d.DateTime != "" {
			return when{}, errBadRequest("Only one of %s.date and %s.dateTime may be set.", field, field)
		}
		t, err := time.ParseInLocation("2006-01-02", d.Date, loc)
		if err != nil {
			return when{}, errInvalidParam(field+".date", "Invalid %s.date %q.", field, d.Date)
		}
		return when{t: t, allDay: true}, nil
	}
	t, err := time.Parse(time.RFC3339, d.DateTime)
	if err != nil {
		return when{}, errInvalidParam(field+".dateTime", "Invalid %s.dateTime %q.", field, d.DateTime)
	}
	return when{t: t.In(loc)}, nil
}

// checkTimes validates an event's start and end as Google does.
func (cd *calendarData) checkTimes(e *calendar.Event) (start, end when, _ *apiError) {
	start, err := parseWhen(e.Start, "start", cd.timeZone)
	if err != nil {
		return start, end, err
	}
	end, err = parseWhen(e.End, "end", cd.timeZone)
	if err != nil {
		return start, end, err
	}
	if start.allDay != end.allDay {
		return start, end, errBadRequest("Start and end times must either both be date or both be dateTime.")
	}
	if end.t.Before(start.t) || (start.allDay && !end.t.After(start.t)) {
		return start, end, &apiError{Code: 400, Status: "INVALID_ARGUMENT", Reason: "timeRangeEmpty", Message: "The specified time range is empty."}
	}
	if len(e.Recurrence) > 0 {
		if !start.allDay && e.Start.TimeZone == "" {
			return start, end, &apiError{Code: 400, Status: "INVALID_ARGUMENT", Reason: "required", Message: "Missing time zone definition for start time."}
		}
		if _, err := recurrenceSet(e, start); err != nil {
			return start, end, errInvalidParam("recurrence", "Invalid recurrence rule: %v", err)
		}
	}
	return start, end, nil
}

func recurrenceSet(e *calendar.Event, start when) (*rrule.Set, error) {
	var lines []string
	for _, l := range e.Recurrence {
		name := strings.ToUpper(l[:strings.IndexAny(l+":", ":;")])
		if !slices.Contains([]string{"RRULE", "EXRULE", "RDATE", "EXDATE"}, name) {
			return nil, fmt.Errorf("%q is not an RRULE, EXRULE, RDATE or EXDATE line", l)
		}
		if name == "EXRULE" {
			return nil, fmt.Errorf("EXRULE is not supported")
		}
		lines = append(lines, l)
	}
	set, err := rrule.StrSliceToRRuleSetInLoc(lines, start.t.Location())
	if err != nil {
		return nil, err
	}
	set.DTStart(start.t)
	return set, nil
}

// instanceSuffix names an instance by its original start, as Google does:
// "20261102T090000Z" for timed events, "20261102" for all-day ones.
func instanceSuffix(t time.Time, allDay bool) string {
	if allDay {
		return t.Format("20060102")
	}
	return t.UTC().Format("20060102T150405Z")
}

func dateTimeOf(t time.Time, allDay bool, zone string) *calendar.EventDateTime {
	if allDay {
		return &calendar.EventDateTime{Date: t.Format("2006-01-02")}
	}
	return &calendar.EventDateTime{DateTime: t.Format(time.RFC3339), TimeZone: zone}
}

func cloneEvent(e *calendar.Event) *calendar.Event { return cloneJSON(e) }

// occurrences lists a series' instance start times overlapping [from, to).
func (cd *calendarData) occurrences(master *calendar.Event, from, to time.Time) []time.Time {
	start, _ := parseWhen(master.Start, "start", cd.timeZone)
	end, _ := parseWhen(master.End, "end", cd.timeZone)
	set, err := recurrenceSet(master, start)
	if err != nil {
		return nil
	}
	dur := end.t.Sub(start.t)
	var out []time.Time
	next := set.Iterator()
	for n := 0; n < maxInstances; n++ {
		t, ok := next()
		if !ok || !t.Before(to) {
			break
		}
		if t.Add(dur).After(from) || (dur == 0 && !t.Before(from)) {
			out = append(out, t)
		}
	}
	return out
}

// instance builds the instance of master starting at t, applying a stored
// exception when there is one.
func (cd *calendarData) instance(master *calendar.Event, t time.Time) *calendar.Event {
	start, _ := parseWhen(master.Start, "start", cd.timeZone)
	end, _ := parseWhen(master.End, "end", cd.timeZone)
	id := master.Id + "_" + instanceSuffix(t, start.allDay)
	if ex := cd.events[id]; ex != nil {
		return ex.e
	}
	in := cloneEvent(master)
	in.Id, in.RecurringEventId, in.Recurrence = id, master.Id, nil
	in.OriginalStartTime = dateTimeOf(t, start.allDay, master.Start.TimeZone)
	in.Start = dateTimeOf(t, start.allDay, master.Start.TimeZone)
	if start.allDay {
		days := int(end.t.Sub(start.t).Hours()/24 + 0.5)
		in.End = dateTimeOf(t.AddDate(0, 0, days), true, "")
	} else {
		in.End = dateTimeOf(t.Add(end.t.Sub(start.t)), false, master.End.TimeZone)
		if in.End.TimeZone == "" {
			in.End.TimeZone = master.Start.TimeZone
		}
	}
	return in
}

// lookup finds an event or an instance of a series by id.
func (cd *calendarData) lookup(id string) (*calendar.Event, bool) {
	if se := cd.events[id]; se != nil {
		return se.e, true
	}
	mid, suffix, ok := cutLast(id, "_")
	if !ok {
		return nil, false
	}
	ms := cd.events[mid]
	if ms == nil || len(ms.e.Recurrence) == 0 {
		return nil, false
	}
	start, _ := parseWhen(ms.e.Start, "start", cd.timeZone)
	var t time.Time
	var err error
	if start.allDay {
		t, err = time.ParseInLocation("20060102", suffix, start.t.Location())
	} else {
		t, err = time.Parse("20060102T150405Z", suffix)
	}
	if err != nil {
		return nil, false
	}
	for _, o := range cd.occurrences(ms.e, t, t.Add(time.Second)) {
		if o.Equal(t) {
			return cd.instance(ms.e, o), true
		}
	}
	return nil, false
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// store saves e as a change: new etag, updated time and sequence number.
func (s *Server) storeEvent(acct *account, cd *calendarData, e *calendar.Event) {
	now := s.opts.Clock.Now()
	cd.seq++
	cd.updated = now
	e.Updated = now.UTC().Format("2006-01-02T15:04:05.000Z")
	e.Etag = strconv.Quote(strconv.FormatInt(now.UnixMicro()*10+cd.seq%10, 10))
	se := cd.events[e.Id]
	if se == nil {
		se = &storedEvent{}
		cd.events[e.Id] = se
		cd.order = append(cd.order, e.Id)
	}
	se.e, se.seq = e, cd.seq
	s.notifyChannelsLocked(acct.email, cd.id)
}

// prepare fills the fields Google sets on a new or replaced event.
func (s *Server) prepareEvent(acct *account, cd *calendarData, e *calendar.Event, supportsAttachments bool, old *calendar.Event) *apiError {
	if _, _, err := cd.checkTimes(e); err != nil {
		return err
	}
	if !supportsAttachments {
		e.Attachments = nil
		if old != nil {
			e.Attachments = old.Attachments
		}
	}
	if len(e.Attachments) > 25 {
		return errInvalidParam("attachments", "An event can have at most 25 attachments.")
	}
	for i, a := range e.Attachments {
		if a.FileUrl == "" {
			return errInvalidParam("attachments", "attachments[%d].fileUrl is required.", i)
		}
	}
	if e.Status == "" {
		e.Status = "confirmed"
	}
	if !slices.Contains([]string{"confirmed", "tentative", "cancelled"}, e.Status) {
		return errInvalidParam("status", "Invalid status %q.", e.Status)
	}
	if e.EventType == "" {
		e.EventType = "default"
	}
	for _, a := range e.Attendees {
		if a.ResponseStatus == "" {
			a.ResponseStatus = "needsAction"
		}
		if strings.EqualFold(a.Email, acct.email) {
			a.Self = true
		}
	}
	if e.Reminders == nil {
		e.Reminders = &calendar.EventReminders{UseDefault: true}
	}
	e.Kind = "calendar#event"
	e.HtmlLink = "https://www.google.com/calendar/event?eid=" + e.Id
	e.Creator = &calendar.EventCreator{Email: acct.email, Self: true}
	e.Organizer = &calendar.EventOrganizer{Email: cd.id, DisplayName: cd.summary, Self: true}
	if old != nil {
		e.Created, e.ICalUID, e.Sequence = old.Created, old.ICalUID, old.Sequence
		if !sameWhen(old.Start, e.Start) || !sameWhen(old.End, e.End) || !slices.Equal(old.Recurrence, e.Recurrence) {
			e.Sequence++
		}
	} else {
		e.Created = s.opts.Clock.Now().UTC().Format("2006-01-02T15:04:05.000Z")
		e.ICalUID = e.Id + "@google.com"
	}
	return nil
}

func sameWhen(a, b *calendar.EventDateTime) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Date == b.Date && a.DateTime == b.DateTime && a.TimeZone == b.TimeZone
}

func calendarListList(c *call) (any, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	out := &calendar.CalendarList{Kind: "calendar#calendarList", Etag: `"` + strconv.FormatInt(c.s.opts.Clock.Now().UnixMicro(), 10) + `"`}
	for _, id := range c.user.cals.order {
		cd := c.user.cals.byID[id]
		out.Items = append(out.Items, &calendar.CalendarListEntry{Kind: "calendar#calendarListEntry", Id: cd.id, Summary: cd.summary,
			Description: cd.description, TimeZone: cd.timeZone, AccessRole: "owner", Primary: cd.primary, Selected: true,
			Etag: `"` + strconv.FormatInt(cd.updated.UnixMicro(), 10) + `"`})
	}
	return out, nil
}

func renderCalendar(cd *calendarData) *calendar.Calendar {
	return &calendar.Calendar{Kind: "calendar#calendar", Id: cd.id, Summary: cd.summary, Description: cd.description,
		TimeZone: cd.timeZone, Etag: `"` + strconv.FormatInt(cd.updated.UnixMicro(), 10) + `"`}
}

func calendarsGet(c *call) (any, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	cd, err := c.calendar()
	if err != nil {
		return nil, err
	}
	return renderCalendar(cd), nil
}

func calendarsInsert(c *call) (any, error) {
	var in calendar.Calendar
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.Summary) == "" {
		return nil, &apiError{Code: 400, Status: "INVALID_ARGUMENT", Reason: "required", Message: "Missing title."}
	}
	zone := in.TimeZone
	if zone == "" {
		zone = c.user.cals.byID[c.user.email].timeZone
	}
	if _, err := time.LoadLocation(zone); err != nil {
		return nil, errInvalidParam("timeZone", "Invalid time zone %q.", zone)
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	cd := &calendarData{id: c.s.newID() + "@group.calendar.google.com", summary: in.Summary, description: in.Description,
		timeZone: zone, updated: c.s.opts.Clock.Now()}
	c.user.cals.add(cd)
	return renderCalendar(cd), nil
}

// eventQuery is an events.list or events.instances request.
type eventQuery struct {
	single, showDeleted bool
	timeMin, timeMax    time.Time
	updatedMin          time.Time
	q, iCalUID, orderBy string
	private, shared     []string
	eventTypes          []string
	since               *syncToken
	now                 time.Time
}

func parseTimeParam(c *call, name string) (time.Time, *apiError) {
	v := c.query(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, errInvalidParam(name, "Bad Request: %s must be an RFC3339 timestamp with a time zone offset.", name)
	}
	return t, nil
}

func (c *call) eventQuery() (*eventQuery, *apiError) {
	qv := c.r.URL.Query()
	q := &eventQuery{single: c.query("singleEvents") == "true", showDeleted: c.query("showDeleted") == "true",
		q: c.query("q"), iCalUID: c.query("iCalUID"), orderBy: c.query("orderBy"),
		private: qv["privateExtendedProperty"], shared: qv["sharedExtendedProperty"], eventTypes: qv["eventTypes"],
		now: c.s.opts.Clock.Now()}
	var err *apiError
	if q.timeMin, err = parseTimeParam(c, "timeMin"); err != nil {
		return nil, err
	}
	if q.timeMax, err = parseTimeParam(c, "timeMax"); err != nil {
		return nil, err
	}
	if q.updatedMin, err = parseTimeParam(c, "updatedMin"); err != nil {
		return nil, err
	}
	if !q.timeMin.IsZero() && !q.timeMax.IsZero() && !q.timeMax.After(q.timeMin) {
		return nil, &apiError{Code: 400, Status: "INVALID_ARGUMENT", Reason: "timeRangeEmpty", Message: "The specified time range is empty."}
	}
	switch q.orderBy {
	case "", "updated":
	case "startTime":
		if !q.single {
			return nil, errInvalidParam("orderBy", "The requested ordering is not available for the particular query.")
		}
	default:
		return nil, errInvalidParam("orderBy", "Invalid orderBy %q.", q.orderBy)
	}
	return q, nil
}

// matches applies the list filters other than time to an event.
func (q *eventQuery) matches(e *calendar.Event) bool {
	if q.iCalUID != "" && e.ICalUID != q.iCalUID {
		return false
	}
	if !q.updatedMin.IsZero() {
		if u, err := time.Parse(time.RFC3339, e.Updated); err == nil && u.Before(q.updatedMin) {
			return false
		}
	}
	if len(q.eventTypes) > 0 && !slices.Contains(q.eventTypes, e.EventType) {
		return false
	}
	props := func(want []string, have map[string]string) bool {
		for _, kv := range want {
			k, v, _ := strings.Cut(kv, "=")
			if have[k] != v {
				return false
			}
		}
		return true
	}
	var priv, shared map[string]string
	if e.ExtendedProperties != nil {
		priv, shared = e.ExtendedProperties.Private, e.ExtendedProperties.Shared
	}
	if !props(q.private, priv) || !props(q.shared, shared) {
		return false
	}
	if q.q != "" {
		hay := strings.ToLower(e.Summary + "\n" + e.Description + "\n" + e.Location)
		for _, a := range e.Attendees {
			hay += "\n" + strings.ToLower(a.Email+" "+a.DisplayName)
		}
		for _, w := range strings.Fields(strings.ToLower(q.q)) {
			if !strings.Contains(hay, w) {
				return false
			}
		}
	}
	return true
}

// overlaps applies timeMin (the event ends after it) and timeMax (it
// starts before it). A series overlaps when it starts before timeMax and
// has an instance after timeMin.
func (q *eventQuery) overlaps(cd *calendarData, e *calendar.Event) bool {
	start, err := parseWhen(e.Start, "start", cd.timeZone)
	if err != nil {
		return true
	}
	end, _ := parseWhen(e.End, "end", cd.timeZone)
	if !q.timeMax.IsZero() && !start.t.Before(q.timeMax) {
		return false
	}
	if q.timeMin.IsZero() {
		return true
	}
	if len(e.Recurrence) > 0 && e.RecurringEventId == "" {
		return len(cd.occurrences(e, q.timeMin, q.horizon())) > 0
	}
	return end.t.After(q.timeMin)
}

// horizon is where series expansion stops: timeMax, or expansionHorizon
// after now.
func (q *eventQuery) horizon() time.Time {
	if !q.timeMax.IsZero() {
		return q.timeMax
	}
	return q.now.Add(expansionHorizon)
}

// list computes an events.list result: the ids in order and the sequence
// for the sync token.
func (cd *calendarData) list(q *eventQuery) []string {
	type item struct {
		id      string
		start   time.Time
		updated string
	}
	var items []item
	add := func(e *calendar.Event) {
		st, _ := parseWhen(e.Start, "start", cd.timeZone)
		items = append(items, item{e.Id, st.t, e.Updated})
	}
	cancelledShown := func(e *calendar.Event) bool {
		if e.Status != "cancelled" {
			return true
		}
		// Cancelled instances of series show without showDeleted when
		// series are not expanded, as Google documents.
		return q.since != nil || q.showDeleted || (!q.single && e.RecurringEventId != "")
	}
	to := q.horizon()
	for _, id := range cd.order {
		se := cd.events[id]
		e := se.e
		if q.since != nil && se.seq <= q.since.seq {
			continue
		}
		if !q.matches(e) || !cancelledShown(e) {
			continue
		}
		switch {
		case q.single && len(e.Recurrence) > 0 && e.Status != "cancelled":
			for _, t := range cd.occurrences(e, q.timeMin, to) {
				in := cd.instance(e, t)
				if cancelledShown(in) && q.matches(in) && q.overlaps(cd, in) {
					add(in)
				}
			}
		case q.single && e.RecurringEventId != "":
			// Exceptions show as the instances the series expansion yields,
			// except in incremental results where the exception itself changed.
			if q.since != nil && q.overlaps(cd, e) {
				add(e)
			}
		default:
			if q.since != nil || q.overlaps(cd, e) {
				add(e)
			}
		}
	}
	switch q.orderBy {
	case "startTime":
		sort.SliceStable(items, func(i, j int) bool { return items[i].start.Before(items[j].start) })
	case "updated":
		sort.SliceStable(items, func(i, j int) bool { return items[i].updated < items[j].updated })
	}
	ids := make([]string, 0, len(items))
	seen := map[string]bool{}
	for _, it := range items {
		if !seen[it.id] {
			seen[it.id] = true
			ids = append(ids, it.id)
		}
	}
	return ids
}

func (c *call) renderEvents(cd *calendarData, q *eventQuery, ids []string) []*calendar.Event {
	out := make([]*calendar.Event, 0, len(ids))
	for _, id := range ids {
		if e, ok := cd.lookup(id); ok {
			out = append(out, listedShape(e, q))
		}
	}
	return out
}

// listedShape is a listed event as Google lists it. A cancelled event
// comes in its minimal shape (the Events resource, field "status",
// https://developers.google.com/calendar/api/v3/reference/events):
// "Cancelled exceptions are only guaranteed to have values for the id,
// recurringEventId and originalStartTime fields populated", and "Deleted
// events are only guaranteed to have the id field populated": the
// organizer's calendar keeps their details, but "incremental sync requests
// with showDeleted set to false will not return these details". The fake
// gives no more than what is guaranteed.
func listedShape(e *calendar.Event, q *eventQuery) *calendar.Event {
	if e.Status != "cancelled" {
		return e
	}
	min := &calendar.Event{Kind: e.Kind, Etag: e.Etag, Id: e.Id, Status: e.Status}
	switch {
	case e.RecurringEventId != "":
		min.RecurringEventId, min.OriginalStartTime = e.RecurringEventId, e.OriginalStartTime
	case q.since != nil && !q.showDeleted:
	default:
		return e
	}
	return min
}

func (c *call) eventsPage(cd *calendarData, q *eventQuery, scope string, compute func() []string) (any, error) {
	size, err := c.pageSize("maxResults", 250, 2500)
	if err != nil {
		return nil, err
	}
	qv := c.r.URL.Query()
	qv.Del("pageToken")
	pg, aerr := c.s.pageLocked(c.user.email, scope, qv.Encode(), c.query("pageToken"), size, func() ([]string, int64) {
		return compute(), cd.seq
	})
	if aerr != nil {
		return nil, aerr
	}
	resp := &calendar.Events{Kind: "calendar#events", Summary: cd.summary, TimeZone: cd.timeZone, AccessRole: "owner",
		Updated: cd.updated.UTC().Format("2006-01-02T15:04:05.000Z"), Etag: `"` + strconv.FormatInt(cd.updated.UnixMicro(), 10) + `"`,
		NextPageToken: pg.nextToken, Items: c.renderEvents(cd, q, pg.ids), DefaultReminders: []*calendar.EventReminder{}}
	if pg.nextToken == "" && scope == "events:"+cd.id {
		resp.NextSyncToken = c.s.issueSyncTokenLocked(c.user.email, cd.id, "", pg.syncSeq)
	}
	return resp, nil
}

// syncForbidden are the events.list parameters Google refuses with syncToken.
var syncForbidden = []string{"iCalUID", "orderBy", "privateExtendedProperty", "q", "sharedExtendedProperty", "timeMin", "timeMax", "updatedMin"}

func eventsList(c *call) (any, error) {
	q, aerr := c.eventQuery()
	if aerr != nil {
		return nil, aerr
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	cd, aerr := c.calendar()
	if aerr != nil {
		return nil, aerr
	}
	if tok := c.query("syncToken"); tok != "" {
		for _, p := range syncForbidden {
			if c.r.URL.Query().Has(p) {
				return nil, errInvalidParam(p, "The %s parameter cannot be used with syncToken.", p)
			}
		}
		q.since = c.s.syncTokenLocked(tok, c.user.email, cd.id, 0)
		if q.since == nil {
			return nil, &apiError{Code: 410, Reason: "fullSyncRequired", Domain: "calendar",
				Message: "Sync token is no longer valid, a full sync is required."}
		}
	}
	return c.eventsPage(cd, q, "events:"+cd.id, func() []string { return cd.list(q) })
}

func eventsInstances(c *call) (any, error) {
	q, aerr := c.eventQuery()
	if aerr != nil {
		return nil, aerr
	}
	q.single = true
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	cd, aerr := c.calendar()
	if aerr != nil {
		return nil, aerr
	}
	se := cd.events[c.param("eventId")]
	if se == nil {
		return nil, errNotFound()
	}
	var origStart time.Time
	if v := c.query("originalStart"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return nil, errInvalidParam("originalStart", "Invalid originalStart %q.", v)
		}
		origStart = t
	}
	return c.eventsPage(cd, q, "instances:"+cd.id+"/"+se.e.Id, func() []string {
		var ids []string
		if len(se.e.Recurrence) == 0 || se.e.Status == "cancelled" {
			return ids
		}
		for _, t := range cd.occurrences(se.e, q.timeMin, q.horizon()) {
			if !origStart.IsZero() && !t.Equal(origStart) {
				continue
			}
			in := cd.instance(se.e, t)
			if in.Status != "cancelled" || q.showDeleted {
				ids = append(ids, in.Id)
			}
		}
		return ids
	})
}

// onEvent adapts fn to a route over the event (or instance) named by the
// path, run under the server lock.
func onEvent(fn func(c *call, cd *calendarData, e *calendar.Event) (any, error)) func(*call) (any, error) {
	return func(c *call) (any, error) {
		c.s.mu.Lock()
		defer c.s.mu.Unlock()
		cd, aerr := c.calendar()
		if aerr != nil {
			return nil, aerr
		}
		e, ok := cd.lookup(c.param("eventId"))
		if !ok {
			return nil, errNotFound()
		}
		return fn(c, cd, e)
	}
}

var eventsGet = onEvent(func(_ *call, _ *calendarData, e *calendar.Event) (any, error) { return e, nil })

func eventsInsert(c *call) (any, error) {
	var e calendar.Event
	if err := c.decode(&e); err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	cd, aerr := c.calendar()
	if aerr != nil {
		return nil, aerr
	}
	if e.Id == "" {
		e.Id = c.s.newEventID()
	} else if !validEventID(e.Id) {
		return nil, errInvalidParam("id", "Invalid resource id value.")
	} else if _, exists := cd.lookup(e.Id); exists {
		return nil, &apiError{Code: 409, Status: "ALREADY_EXISTS", Reason: "duplicate", Message: "The requested identifier already exists."}
	}
	e.RecurringEventId, e.OriginalStartTime = "", nil
	if aerr := c.s.prepareEvent(c.user, cd, &e, c.query("supportsAttachments") == "true", nil); aerr != nil {
		return nil, aerr
	}
	c.s.storeEvent(c.user, cd, &e)
	return &e, nil
}

// replaceEvent stores next in place of the event named by the path, making
// an exception when it names an instance of a series.
func (c *call) replaceEvent(build func(old *calendar.Event) (*calendar.Event, *apiError)) (any, error) {
	return onEvent(func(c *call, cd *calendarData, old *calendar.Event) (any, error) {
		return c.replaceLocked(cd, old, build)
	})(c)
}

func (c *call) replaceLocked(cd *calendarData, old *calendar.Event, build func(old *calendar.Event) (*calendar.Event, *apiError)) (any, error) {
	next, aerr := build(old)
	if aerr != nil {
		return nil, aerr
	}
	next.Id, next.RecurringEventId, next.OriginalStartTime = old.Id, old.RecurringEventId, old.OriginalStartTime
	if next.RecurringEventId != "" {
		next.Recurrence = nil
	}
	if aerr := c.s.prepareEvent(c.user, cd, next, c.query("supportsAttachments") == "true", old); aerr != nil {
		return nil, aerr
	}
	c.s.storeEvent(c.user, cd, next)
	return next, nil
}

func eventsUpdate(c *call) (any, error) {
	var in calendar.Event
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	return c.replaceEvent(func(*calendar.Event) (*calendar.Event, *apiError) { return &in, nil })
}

func eventsPatch(c *call) (any, error) {
	var patch map[string]any
	if err := c.decode(&patch); err != nil {
		return nil, err
	}
	return c.replaceEvent(func(old *calendar.Event) (*calendar.Event, *apiError) {
		var cur map[string]any
		b, _ := json.Marshal(old)
		json.Unmarshal(b, &cur)
		mergePatch(cur, patch)
		b, _ = json.Marshal(cur)
		next := &calendar.Event{}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(next); err != nil {
			return nil, errBadRequest("Invalid JSON payload received. %v", err)
		}
		return next, nil
	})
}

// mergePatch applies Google's patch semantics: objects merge recursively,
// arrays and scalars replace, null clears.
func mergePatch(dst, patch map[string]any) {
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(dst, k)
		case map[string]any:
			if dv, ok := dst[k].(map[string]any); ok {
				mergePatch(dv, pv)
				continue
			}
			dst[k] = pv
		default:
			dst[k] = pv
		}
	}
}

var eventsDelete = onEvent(func(c *call, cd *calendarData, e *calendar.Event) (any, error) {
	if e.Status == "cancelled" {
		return nil, &apiError{Code: 410, Status: "", Reason: "deleted", Message: "Resource has been deleted"}
	}
	gone := cloneEvent(e)
	gone.Status = "cancelled"
	c.s.storeEvent(c.user, cd, gone)
	if len(e.Recurrence) > 0 {
		for _, se := range cd.events {
			if se.e.RecurringEventId == e.Id && se.e.Status != "cancelled" {
				ex := cloneEvent(se.e)
				ex.Status = "cancelled"
				c.s.storeEvent(c.user, cd, ex)
			}
		}
	}
	return nil, nil
})

// AddCalendar adds a secondary calendar to the user's Google Calendar and
// returns its id.
func (s *Server) AddCalendar(email, summary string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	acct := s.users[normalizeEmail(email)]
	if acct == nil {
		return "", fmt.Errorf("fakegoogle: no user %s", email)
	}
	cd := &calendarData{id: s.newID() + "@group.calendar.google.com", summary: summary,
		timeZone: acct.cals.byID[acct.email].timeZone, updated: s.opts.Clock.Now()}
	acct.cals.add(cd)
	return cd.id, nil
}

// AddEvent stores e in the user's calendar ("primary" or an id) as Google
// would, without API checks on the event type, so tests and the sandbox
// can seed events clients cannot create (birthdays). It returns the id.
func (s *Server) AddEvent(email, calendarID string, e *calendar.Event) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	acct := s.users[normalizeEmail(email)]
	if acct == nil {
		return "", fmt.Errorf("fakegoogle: no user %s", email)
	}
	if calendarID == "primary" {
		calendarID = acct.email
	}
	cd := acct.cals.byID[calendarID]
	if cd == nil {
		return "", fmt.Errorf("fakegoogle: user %s has no calendar %s", email, calendarID)
	}
	e = cloneEvent(e)
	if e.Id == "" {
		e.Id = s.newEventID()
	}
	if aerr := s.prepareEvent(acct, cd, e, true, nil); aerr != nil {
		return "", aerr
	}
	s.storeEvent(acct, cd, e)
	return e.Id, nil
}
