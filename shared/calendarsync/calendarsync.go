// Package calendarsync is the calendar sync engine: one Google calendar
// of a user and the user's CRM activities, kept in step under the user's
// options ("Calendar Sync Options" of the product description), through
// the twoway planner. Google is side A, the CRM side B.
//
// A pass, under the user's lease: read the calendar's changes
// (events.list with the stored sync token, series as series: masters and
// their exceptions; without a token, or after 410 GONE, a full read of the
// window from FullWindow ago on), read the CRM's activity feed for the
// user, plan, apply, store the links, then save both cursors. Events we
// create carry the private extended property crmsyncActivity, so a full
// resync relinks them rather than duplicating. Birthday events Google
// derives from contacts are never synced; all-day and recurring entries
// and documents only with their options; guests become the activity's
// primary and additional contacts (Google → CRM only) with contact
// association on.
//
// The frame of a pass (who is due one, the lease, the cursors, the CRM
// feed, quiet passes, the recorded status, the dry run) is package
// syncpass's runner, shared with contact sync; this package is the
// calendar's side of it.
package calendarsync

import (
	// The zones of events' times, also where the runtime has no zoneinfo.
	_ "time/tzdata"

	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"
	"time"

	calendar "google.golang.org/api/calendar/v3"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/direction"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/syncpass"
	"github.com/crmsync/crmsync/shared/twoway"
	"github.com/crmsync/crmsync/shared/workspace"
)

// Google gives a Calendar client acting as a user.
type Google interface {
	Calendar(ctx context.Context, email string) (*calendar.Service, error)
}

// CRM is what calendar sync needs of the CRM.
type CRM interface {
	syncpass.CRM
	FindContacts(ctx context.Context, asUser, email string) ([]crm.Contact, error)
	Activity(ctx context.Context, id string) (crm.Activity, error)
	ListActivities(ctx context.Context, owner string) ([]crm.Activity, error)
	CreateActivity(ctx context.Context, w crm.Write, a crm.Activity) (crm.Activity, error)
	UpdateActivity(ctx context.Context, w crm.Write, a crm.Activity) (crm.Activity, error)
	DeleteActivity(ctx context.Context, w crm.Write, id string, version int64) (crm.Activity, error)
}

// pageSize is the events.list page size: Engine.PageSize, or Google's
// largest.
func (e *Engine) pageSize() int64 {
	if e.PageSize > 0 {
		return int64(e.PageSize)
	}
	return 2500
}

// FullWindow is how far back a full read of the calendar goes (the first
// sync, and a resync after Google invalidates the sync token).
const FullWindow = 90 * 24 * time.Hour

// Engine syncs users' calendars. Its fields are its dependencies.
type Engine struct {
	syncpass.Deps
	CRM    CRM
	Google Google
	// WebhookURL, when set, is where Google pushes calendar changes (the
	// CalendarPush function); each pass keeps a channel open to it.
	WebhookURL string
	// PageSize is the events.list page size; 0 means Google's largest
	// (2,500).
	PageSize int
}

// channelRenewal is how long before its expiry a channel is replaced.
const channelRenewal = 24 * time.Hour

// feature is what calendar sync syncs, and where its state is stored.
var feature = syncpass.Feature{Kind: "calendar", GoogleCursor: "calendar-sync", CRMCursor: "crm-activities",
	Product: "Google Calendar", Scopes: workspace.CalendarScopes, Feed: crm.ActivitiesFeed}

// Result counts what a pass did.
type Result struct {
	syncpass.Tally
	// Skipped counts entries left out (their series is not synced).
	Skipped int
	// CalendarCalls counts the Calendar API calls of the pass.
	CalendarCalls int
}

// options are the planner-independent options.
type options struct {
	recurring, allDay, documents, contacts bool
}

// planOptions turns the stored options into the planner's.
func planOptions(c store.CalendarSetup) (twoway.Options, options, error) {
	var o twoway.Options
	d, err := direction.Parse(c.Direction)
	if err != nil {
		return o, options{}, failure.E("calendarsync: options", failure.Invalid, err)
	}
	o.Direction = d.Flow()
	o.OnDeleteA, o.OnDeleteB = twoway.Propagate, twoway.Propagate
	// Contact association reads Google's guests; it never writes guests.
	o.OneWay = map[string]twoway.Side{fContacts: twoway.A}
	return o, options{recurring: c.Recurring, allDay: c.AllDay, documents: c.Documents,
		contacts: c.ContactAssociation && o.Direction != twoway.BToA}, nil
}

// The engine's side of a pass is what the runner drives.
var _ syncpass.Pass = (*pass)(nil)

// pass is one user's pass: the engine's side of a syncpass pass.
type pass struct {
	e       *Engine
	user    store.User
	setup   store.CalendarSetup
	popts   twoway.Options
	opts    options
	crmUser crm.User
	cal     *calendar.Service
	calID   string
	links   []store.Link
	events  map[string]*calendar.Event
	acts    map[string]crm.Activity
	// changedA are the Google records read this pass.
	changedA []twoway.Record
	// zone is the user's calendar's time zone, which a dry run names
	// times in ("" outside a dry run: each event's own).
	zone   string
	result Result
	// dryRun plans without writing (Preview).
	dryRun bool
}

// runner runs the engine's passes.
func (e *Engine) runner() *syncpass.Runner {
	return &syncpass.Runner{Deps: e.Deps, Feature: feature, CRM: e.CRM}
}

// newPass makes the user's pass; none when the user's options turn
// calendar sync off.
func (e *Engine) newPass(u store.User, dryRun bool) (syncpass.Pass, error) {
	popts, opts, err := planOptions(u.Calendar)
	if err != nil || popts.Direction == twoway.Off {
		return nil, err
	}
	return &pass{e: e, user: u, setup: u.Calendar, popts: popts, opts: opts, dryRun: dryRun,
		events: map[string]*calendar.Event{}, acts: map[string]crm.Activity{}}, nil
}

// Pass syncs one user's calendar once.
func (e *Engine) Pass(ctx context.Context, email string) (Result, error) {
	return syncpass.ResultOf[Result](e.runner().Pass(ctx, email, e.newPass))
}

// Preview plans a pass for the user without writing anything (the
// preview report shows it). A calendar that would be created is reported
// as empty.
func (e *Engine) Preview(ctx context.Context, email string) (twoway.Plan, error) {
	return e.runner().Preview(ctx, email, e.newPass)
}

// Named says whether the fields have a title.
func (p *pass) Named(f twoway.Fields) bool { return f[fTitle] != "" }

// Read gives the title, start and zone of an event or activity read.
func (p *pass) Read(side twoway.Side, id string) (twoway.Fields, bool) {
	if side == twoway.A {
		ev, ok := p.events[id]
		if !ok {
			return nil, false
		}
		f := twoway.Fields{fTitle: ev.Summary}
		if ev.Start != nil {
			f[fStart], f[fZone] = ev.Start.DateTime+ev.Start.Date, ev.Start.TimeZone
		}
		return f, true
	}
	act, ok := p.acts[id]
	if !ok {
		return nil, false
	}
	f := twoway.Fields{fTitle: act.Title, fStart: act.StartDate, fZone: act.TimeZone}
	if !act.Start.IsZero() {
		f[fStart] = act.Start.Format(time.RFC3339)
	}
	return f, true
}

// Name says which entry the fields are: its title and start.
func (p *pass) Name(f twoway.Fields) string {
	title := f[fTitle]
	if title == "" {
		title = "(no title)"
	}
	zone := f[fZone]
	if p.zone != "" && !strings.HasPrefix(f[fStart], "date:") {
		zone = p.zone
	}
	if when := humanStart(f[fStart], zone); when != "" {
		return title + " (" + when + ")"
	}
	return title
}

// humanStart says when an event starts as people read it: in the event's
// time zone ("Tue 24 Nov 2026 14:00 America/New_York"), or the day of an
// all-day event ("Tue 24 Nov 2026, all day"). Unreadable input is shown
// as it is.
func humanStart(start, zone string) string {
	if day, ok := strings.CutPrefix(start, "date:"); ok || (len(start) == 10 && strings.Count(start, "-") == 2) {
		if !ok {
			day = start
		}
		if d, err := time.Parse(time.DateOnly, day); err == nil {
			return d.Format("Mon 2 Jan 2006") + ", all day"
		}
		return day
	}
	t, err := time.Parse(time.RFC3339, start)
	if err != nil {
		return start
	}
	if loc, err := time.LoadLocation(zone); err == nil && zone != "" {
		return t.In(loc).Format("Mon 2 Jan 2006 15:04") + " " + zone
	}
	return t.UTC().Format("Mon 2 Jan 2006 15:04") + " UTC"
}

// Begin opens the user's Calendar and finds the synced calendar.
func (p *pass) Begin(ctx context.Context, crmUser crm.User) error {
	p.crmUser = crmUser
	var err error
	if p.cal, err = p.e.Google.Calendar(ctx, p.user.Email); err != nil {
		return err
	}
	if p.calID, err = p.calendar(ctx, p.popts.Direction); err != nil || !p.dryRun {
		return err
	}
	// The preview report says when things happen in the user's own time
	// zone, their Google Calendar's (the primary's for a calendar a pass
	// would create).
	id := p.calID
	if id == "" {
		id = "primary"
	}
	p.result.CalendarCalls++
	c, err := workspace.Call(ctx, p.e.Retry, "calendar: calendars.get", func() (*calendar.Calendar, error) {
		return p.cal.Calendars.Get(id).Context(ctx).Do()
	})
	if err != nil {
		return err
	}
	p.zone = c.TimeZone
	return nil
}

// Positions reads the stored sync token, which names its calendar: one
// of another calendar reads the chosen one whole.
func (p *pass) Positions(google, crm string) (string, string) {
	token, ok := strings.CutPrefix(google, p.calID+" ")
	if !ok {
		token = "" // another calendar was chosen: start over
	}
	return token, crm
}

// Stamp stores the sync token with its calendar's id.
func (p *pass) Stamp(token, from string) (string, string) {
	return p.calID + " " + token, from
}

// FeedScope is the user's own activities.
func (p *pass) FeedScope() crm.FeedScope { return crm.FeedScope{Owner: p.crmUser.ID} }

// ReadGoogle reads the calendar's changes (none for a calendar a dry run
// would create).
func (p *pass) ReadGoogle(ctx context.Context, token string) (int, string, bool, error) {
	if p.calID == "" {
		return 0, "", false, nil
	}
	recs, next, err := p.listEvents(ctx, token)
	p.changedA = recs
	return len(recs), next, p.result.FullGoogle, err
}

// Plan plans the pass from the links and the CRM's changes.
func (p *pass) Plan(ctx context.Context, links []store.Link, feed []crm.Change, whole bool) (twoway.Plan, error) {
	p.links = links
	var changedB []twoway.Record
	var err error
	if whole {
		changedB, err = p.readAllCRM(ctx)
	} else {
		changedB, err = p.crmRecords(ctx, feed)
	}
	if err != nil {
		return twoway.Plan{}, err
	}
	p.completeCancelled(p.changedA)
	in := twoway.Input{ChangedA: p.changedA, ChangedB: changedB, Links: syncpass.Links(links, nil),
		SizeA: max(len(links), len(p.changedA)), SizeB: max(len(links), len(changedB))}
	popts := p.popts
	popts.MaxDeleteShare = 1 // deletions of events and activities are the users' own, one by one
	return p.cascadeSeries(twoway.PlanSync(in, popts)), nil
}

// Apply carries out the plan; calendar sync has no mass-deletion guard.
func (p *pass) Apply(ctx context.Context, plan twoway.Plan) (string, error) {
	return "", p.apply(ctx, plan)
}

// Finish keeps the push channel open.
func (p *pass) Finish(ctx context.Context) error { return p.ensureChannel(ctx) }

// Tally is what the pass did.
func (p *pass) Tally() *syncpass.Tally { return &p.result.Tally }

// Result is what the pass did, as its engine's Pass returns it.
func (p *pass) Result() Result { return p.result }

// Counts are what the pass did, for its recorded status.
func (p *pass) Counts() map[string]int { return p.result.Counts() }

// ensureChannel keeps a push channel open on the synced calendar: it opens
// one when there is none, the calendar changed, or the channel runs out
// within a day (the old one is stopped).
func (p *pass) ensureChannel(ctx context.Context) error {
	e := p.e
	ch := p.user.Calendar.Channel
	if e.WebhookURL == "" || (ch.ID != "" && ch.CalendarID == p.calID && ch.Expiration.Sub(e.Clock.Now()) > channelRenewal) {
		return nil
	}
	if ch.ID != "" {
		p.result.CalendarCalls++
		if err := e.stopChannel(ctx, p.cal, ch); err != nil {
			e.Log.Warn("calendar: stopping the old push channel", "user", p.user.ID, "err", err)
		}
	}
	next := store.PushChannel{ID: "crmsync-" + randomHex(12), Token: randomHex(24), CalendarID: p.calID}
	address := e.WebhookURL + "?user=" + url.QueryEscape(p.user.ID)
	p.result.CalendarCalls++
	resp, err := workspace.Call(ctx, e.Retry, "calendar: events.watch", func() (*calendar.Channel, error) {
		return p.cal.Events.Watch(p.calID, &calendar.Channel{Id: next.ID, Type: "web_hook", Address: address, Token: next.Token}).Context(ctx).Do()
	})
	if err != nil {
		return err
	}
	next.ResourceID, next.Expiration = resp.ResourceId, time.UnixMilli(resp.Expiration)
	_, err = e.Store.Users().Update(ctx, p.user.ID, func(u *store.User) error {
		u.Calendar.Channel = next
		return nil
	})
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Notification is a Calendar push notification as the webhook received it.
type Notification struct {
	User, ChannelID, Token, State string
}

// CheckNotification says whether a push notification comes from the
// user's current channel (the token matches, in constant time). Channels
// of the past are not current.
func (e *Engine) CheckNotification(ctx context.Context, n Notification) (bool, error) {
	u, err := e.Store.Users().Get(ctx, n.User)
	if failure.Is(err, failure.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	ch := u.Calendar.Channel
	return ch.ID != "" && ch.ID == n.ChannelID && subtle.ConstantTimeCompare([]byte(ch.Token), []byte(n.Token)) == 1, nil
}

// calendar finds the synced calendar by name, making it when the CRM is a
// source and it is missing.
func (p *pass) calendar(ctx context.Context, d twoway.Direction) (string, error) {
	name := strings.TrimSpace(p.setup.CalendarName)
	if name == "" {
		return "primary", nil
	}
	p.result.CalendarCalls++
	list, err := workspace.Call(ctx, p.e.Retry, "calendar: calendarList.list", func() (*calendar.CalendarList, error) {
		return p.cal.CalendarList.List().Context(ctx).Do()
	})
	if err != nil {
		return "", err
	}
	for _, c := range list.Items {
		if strings.EqualFold(c.Summary, name) {
			return c.Id, nil
		}
	}
	if d == twoway.AToB {
		return "", failure.Errorf("calendarsync: calendar", failure.Permanent, "%s has no Google calendar named %q", p.user.Email, name)
	}
	if p.dryRun {
		return "", nil // the pass would create it, empty
	}
	p.result.CalendarCalls++
	c, err := workspace.Call(ctx, p.e.Retry, "calendar: calendars.insert", func() (*calendar.Calendar, error) {
		return p.cal.Calendars.Insert(&calendar.Calendar{Summary: name}).Context(ctx).Do()
	})
	if err != nil {
		return "", err
	}
	return c.Id, nil
}

// skip applies the options that leave entries out.
func (p *pass) skip(e *calendar.Event) bool {
	switch {
	case e.EventType == "birthday":
		return true
	case !p.opts.allDay && e.Start != nil && e.Start.Date != "":
		return true
	case !p.opts.recurring && (len(e.Recurrence) > 0 || e.RecurringEventId != ""):
		return true
	}
	return false
}

func (p *pass) skipActivity(a crm.Activity) bool {
	return (!p.opts.allDay && a.StartDate != "") || (!p.opts.recurring && (len(a.Recurrence) > 0 || a.SeriesID != ""))
}

func (p *pass) listEvents(ctx context.Context, token string) ([]twoway.Record, string, error) {
	full := token == ""
	p.result.FullGoogle = full
	var recs []twoway.Record
	// Every page repeats the first page's request exactly (Google's
	// pagination guide): the window is computed once.
	timeMin := p.e.Clock.Now().Add(-FullWindow).Format(time.RFC3339)
	next := ""
	err := workspace.EachPage(func(page string) (string, error) {
		p.result.CalendarCalls++
		resp, err := workspace.Call(ctx, p.e.Retry, "calendar: events.list", func() (*calendar.Events, error) {
			c := p.cal.Events.List(p.calID).MaxResults(p.e.pageSize()).Context(ctx)
			if token != "" {
				c = c.SyncToken(token)
			} else {
				c = c.TimeMin(timeMin)
			}
			return workspace.AtPage(c, page).Do()
		})
		if err != nil {
			return "", err
		}
		for _, ev := range resp.Items {
			if p.skip(ev) {
				continue
			}
			contacts, err := p.guests(ctx, ev)
			if err != nil {
				return "", err
			}
			p.events[ev.Id] = ev
			recs = append(recs, eventRecord(ev, p.opts, contacts))
		}
		// A full read does not report deletions, and linked events it
		// does not show (outside the window) are left alone.
		next = resp.NextSyncToken
		return resp.NextPageToken, nil
	})
	if err != nil {
		return nil, "", err
	}
	return recs, next, nil
}

// guests maps an event's guests to CRM contacts: the first guest with a
// contact is the primary one, the others additional.
func (p *pass) guests(ctx context.Context, ev *calendar.Event) ([]string, error) {
	if !p.opts.contacts {
		return nil, nil
	}
	var ids []string
	for _, g := range ev.Attendees {
		if g.Self || g.Resource || strings.EqualFold(g.Email, p.user.Email) {
			continue
		}
		cs, err := p.e.CRM.FindContacts(ctx, p.crmUser.ID, g.Email)
		if failure.Is(err, failure.Invalid) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(cs) > 0 && !slices.Contains(ids, cs[0].ID) {
			ids = append(ids, cs[0].ID)
		}
	}
	return ids, nil
}

func (p *pass) googleSeries(crmID string) string {
	for _, l := range p.links {
		if l.CRM == crmID {
			return l.Google
		}
	}
	return "crm:" + crmID // not linked yet: created in this pass, translated when applied
}

// readAllCRM reads all the user's activities (a first read).
func (p *pass) readAllCRM(ctx context.Context) ([]twoway.Record, error) {
	all, err := p.e.CRM.ListActivities(ctx, p.crmUser.ID)
	if err != nil {
		return nil, err
	}
	var recs []twoway.Record
	for _, a := range all {
		if !p.skipActivity(a) {
			p.acts[a.ID] = a
			recs = append(recs, activityRecord(a, p.opts, p.googleSeries))
		}
	}
	return recs, nil
}

// crmRecords reads the changed activities (the links loaded).
func (p *pass) crmRecords(ctx context.Context, changes []crm.Change) ([]twoway.Record, error) {
	var recs []twoway.Record
	seen := map[string]bool{}
	for _, ch := range changes {
		if seen[ch.ID] {
			continue
		}
		seen[ch.ID] = true
		a, err := p.e.CRM.Activity(ctx, ch.ID)
		if failure.Is(err, failure.NotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if p.skipActivity(a) {
			continue
		}
		p.acts[a.ID] = a
		recs = append(recs, activityRecord(a, p.opts, p.googleSeries))
	}
	return recs, nil
}

// Validate checks a user's calendar options as the settings page saves
// them.
func Validate(c store.CalendarSetup) error {
	_, _, err := planOptions(c)
	return err
}

// Disconnect stops the user's push channel (a setup deleted, Google
// disconnected) and forgets it.
func (e *Engine) Disconnect(ctx context.Context, email string) error {
	u, err := e.Store.Users().Get(ctx, email)
	if err != nil || u.Calendar.Channel.ID == "" {
		return err
	}
	cal, err := e.Google.Calendar(ctx, u.ID)
	if err != nil {
		return err
	}
	if err := e.stopChannel(ctx, cal, u.Calendar.Channel); err != nil && !failure.Is(err, failure.AuthRevoked) {
		return err
	}
	_, err = e.Store.Users().Update(ctx, u.ID, func(u *store.User) error {
		u.Calendar.Channel = store.PushChannel{}
		return nil
	})
	return err
}

// stopChannel stops a push channel; one Google no longer knows is stopped.
func (e *Engine) stopChannel(ctx context.Context, cal *calendar.Service, ch store.PushChannel) error {
	_, err := workspace.Call(ctx, e.Retry, "calendar: channels.stop", func() (any, error) {
		return nil, cal.Channels.Stop(&calendar.Channel{Id: ch.ID, ResourceId: ch.ResourceID}).Context(ctx).Do()
	})
	if failure.Is(err, failure.NotFound) {
		return nil
	}
	return err
}
