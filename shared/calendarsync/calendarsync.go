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
package calendarsync

import (
	// The zones of events' times, also where the runtime has no zoneinfo.
	_ "time/tzdata"

	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	calendar "google.golang.org/api/calendar/v3"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/direction"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/twoway"
	"github.com/crmsync/crmsync/shared/workspace"
)

// CRM is what calendar sync needs of the CRM.
type CRM interface {
	UserByEmail(ctx context.Context, email string) (crm.User, error)
	FindContacts(ctx context.Context, asUser, email string) ([]crm.Contact, error)
	Activity(ctx context.Context, id string) (crm.Activity, error)
	ListActivities(ctx context.Context, owner string) ([]crm.Activity, error)
	CreateActivity(ctx context.Context, w crm.Write, a crm.Activity) (crm.Activity, error)
	UpdateActivity(ctx context.Context, w crm.Write, a crm.Activity) (crm.Activity, error)
	DeleteActivity(ctx context.Context, w crm.Write, id string, version int64) (crm.Activity, error)
	Changes(ctx context.Context, c crm.Collection, scope crm.FeedScope, cursor string, limit int) (crm.ChangePage, error)
}

// Google gives a Calendar client acting as a user.
type Google interface {
	Calendar(ctx context.Context, email string) (*calendar.Service, error)
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
	Store  *store.Store
	CRM    CRM
	Google Google
	Log    *slog.Logger
	Clock  clock.Clock
	Holder string
	Retry  workspace.Retry
	// WebhookURL, when set, is where Google pushes calendar changes (the
	// CalendarPush function); each pass keeps a channel open to it.
	WebhookURL string
	// PageSize is the events.list page size; 0 means Google's largest
	// (2,500).
	PageSize int
}

// channelRenewal is how long before its expiry a channel is replaced.
const channelRenewal = 24 * time.Hour

const (
	kind         = "calendar"
	googleCursor = "calendar-sync"
	crmCursor    = "crm-activities"
)

// Result counts what a pass did.
type Result struct {
	CreatedGoogle, UpdatedGoogle, DeletedGoogle int
	CreatedCRM, UpdatedCRM, DeletedCRM          int
	Linked, Unlinked, Conflicts, Skipped        int
	FullGoogle                                  bool
	// Quiet says neither side had changed, so the pass read no more.
	Quiet         bool
	Guarded       string
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

type pass struct {
	e       *Engine
	user    store.User
	setup   store.CalendarSetup
	opts    options
	crmUser crm.User
	cal     *calendar.Service
	calID   string
	links   []store.Link
	events  map[string]*calendar.Event
	acts    map[string]crm.Activity
	result  Result
	// dryRun plans without writing (Preview).
	dryRun bool
}

// Pass syncs one user's calendar once.
func (e *Engine) Pass(ctx context.Context, email string) (Result, error) {
	u, err := e.Store.Users().Get(ctx, email)
	if failure.Is(err, failure.NotFound) {
		return Result{}, nil
	}
	if err != nil {
		return Result{}, err
	}
	popts, opts, err := planOptions(u.Calendar)
	if err != nil {
		return Result{}, err
	}
	if popts.Direction == twoway.Off || u.Connection.State != store.Connected || u.SyncState != store.Active || u.RightWithdrawn {
		return Result{}, nil
	}
	if !u.Granted(workspace.CalendarScopes()) {
		// The user unticked Calendar on Google's consent screen: nothing to
		// do until they give it (the status page asks them to).
		e.Log.Info("calendar: no access granted to Google Calendar; pass skipped", "user", u.ID)
		return Result{}, nil
	}
	ctx, _, end, err := e.Store.Leases().HoldPass(ctx, u.ID, kind, e.Holder, store.PassLeaseTTL)
	if err != nil {
		return Result{}, err
	}
	defer end()
	p := &pass{e: e, user: u, setup: u.Calendar, opts: opts, events: map[string]*calendar.Event{}, acts: map[string]crm.Activity{}}
	err = p.run(ctx, popts)
	status := store.PassStatus{At: e.Clock.Now(), OK: err == nil, Counts: map[string]int{
		"createdGoogle": p.result.CreatedGoogle, "updatedGoogle": p.result.UpdatedGoogle, "deletedGoogle": p.result.DeletedGoogle,
		"createdCRM": p.result.CreatedCRM, "updatedCRM": p.result.UpdatedCRM, "deletedCRM": p.result.DeletedCRM}}
	if err != nil {
		status.Error = err.Error()
	}
	if rerr := e.Store.Users().RecordPass(ctx, u.ID, kind, status); rerr != nil && err == nil {
		err = rerr
	}
	return p.result, err
}

// Preview plans a pass for the user without writing anything (the
// preview report shows it). A calendar that would be created is reported
// as empty.
func (e *Engine) Preview(ctx context.Context, email string) (twoway.Plan, error) {
	u, err := e.Store.Users().Get(ctx, email)
	if err != nil {
		return twoway.Plan{}, err
	}
	popts, opts, err := planOptions(u.Calendar)
	if err != nil {
		return twoway.Plan{}, err
	}
	if popts.Direction == twoway.Off {
		return twoway.Plan{}, nil
	}
	p := &pass{e: e, user: u, setup: u.Calendar, opts: opts, events: map[string]*calendar.Event{}, acts: map[string]crm.Activity{}, dryRun: true}
	plan, _, err := p.plan(ctx, popts)
	for i, a := range plan.Actions {
		plan.Actions[i].Name = p.name(a)
	}
	return plan, err
}

// name says which entry an action is about: its title and start.
func (p *pass) name(a twoway.Action) string {
	title, start, zone := a.Fields[fTitle], a.Fields[fStart], a.Fields[fZone]
	for _, id := range []struct {
		side twoway.Side
		id   string
	}{{a.Side, a.ID}, {a.Side.Other(), a.Source}, {twoway.A, a.Link.A}, {twoway.B, a.Link.B}} {
		if title != "" {
			break
		}
		if id.side == twoway.A {
			if ev, ok := p.events[id.id]; ok {
				title = ev.Summary
				if ev.Start != nil {
					start, zone = ev.Start.DateTime+ev.Start.Date, ev.Start.TimeZone
				}
			}
		} else if act, ok := p.acts[id.id]; ok {
			title, start, zone = act.Title, act.StartDate, act.TimeZone
			if !act.Start.IsZero() {
				start = act.Start.Format(time.RFC3339)
			}
		}
	}
	if title == "" {
		title = "(no title)"
	}
	if when := humanStart(start, zone); when != "" {
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

// positions are the cursors a pass read from and those it will store.
type positions struct {
	google, crm        store.Cursor
	nextToken, nextCRM string
}

// plan reads both sides and plans the pass.
func (p *pass) plan(ctx context.Context, popts twoway.Options) (twoway.Plan, positions, error) {
	e := p.e
	var pos positions
	var err error
	if p.crmUser, err = e.CRM.UserByEmail(ctx, p.user.Email); err != nil {
		return twoway.Plan{}, pos, err
	}
	if p.cal, err = e.Google.Calendar(ctx, p.user.Email); err != nil {
		return twoway.Plan{}, pos, err
	}
	if p.calID, err = p.calendar(ctx, popts.Direction); err != nil {
		return twoway.Plan{}, pos, err
	}
	if pos.google, err = e.Store.Cursors().Get(ctx, p.user.ID, googleCursor); err != nil {
		return twoway.Plan{}, pos, err
	}
	if pos.crm, err = e.Store.Cursors().Get(ctx, p.user.ID, crmCursor); err != nil {
		return twoway.Plan{}, pos, err
	}
	if pos.google.Value != "" && !strings.HasPrefix(pos.google.Value, p.calID+" ") {
		pos.google.Value = "" // another calendar was chosen: start over
	}
	var changedA []twoway.Record
	if p.calID != "" {
		if changedA, pos.nextToken, err = p.readGoogle(ctx, strings.TrimPrefix(pos.google.Value, p.calID+" ")); err != nil {
			return twoway.Plan{}, pos, err
		}
	}
	// Both sides' changes first: a pass that finds none on either side
	// (most scheduled passes) ends here, without reading the link table,
	// whose size is the user's whole synced calendar.
	var feed []crm.Change
	if pos.crm.Value != "" {
		if feed, pos.nextCRM, err = p.crmFeed(ctx, pos.crm.Value); err != nil {
			return twoway.Plan{}, pos, err
		}
	}
	if !p.result.FullGoogle && pos.crm.Value != "" && len(changedA) == 0 && len(feed) == 0 {
		p.result.Quiet = true
		return twoway.Plan{}, pos, nil
	}
	if p.links, err = e.Store.Links(kind).List(ctx, p.user.ID); err != nil {
		return twoway.Plan{}, pos, err
	}
	var changedB []twoway.Record
	if pos.crm.Value == "" {
		changedB, pos.nextCRM, err = p.readAllCRM(ctx)
	} else {
		changedB, err = p.crmRecords(ctx, feed)
	}
	if err != nil {
		return twoway.Plan{}, pos, err
	}
	p.completeCancelled(changedA)
	in := twoway.Input{ChangedA: changedA, ChangedB: changedB, SizeA: max(len(p.links), len(changedA)), SizeB: max(len(p.links), len(changedB))}
	for _, l := range p.links {
		in.Links = append(in.Links, twoway.Link{A: l.Google, B: l.CRM, AVersion: l.GoogleVersion, BVersion: l.CRMVersion, Base: l.Base})
	}
	popts.MaxDeleteShare = 1 // deletions of events and activities are the users' own, one by one
	return p.cascadeSeries(twoway.PlanSync(in, popts)), pos, nil
}

func (p *pass) run(ctx context.Context, popts twoway.Options) error {
	e := p.e
	plan, pos, err := p.plan(ctx, popts)
	if err != nil {
		return err
	}
	if err := p.apply(ctx, plan); err != nil {
		return err
	}
	if pos.nextToken != "" {
		if _, err := e.Store.Cursors().Advance(ctx, p.user.ID, pos.google, p.calID+" "+pos.nextToken); err != nil {
			return err
		}
	}
	if pos.nextCRM != "" && pos.nextCRM != pos.crm.Value {
		if _, err := e.Store.Cursors().Advance(ctx, p.user.ID, pos.crm, pos.nextCRM); err != nil {
			return err
		}
	}
	return p.ensureChannel(ctx)
}

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

func (p *pass) readGoogle(ctx context.Context, token string) ([]twoway.Record, string, error) {
	recs, next, err := p.listEvents(ctx, token)
	if failure.Is(err, failure.CursorExpired) {
		p.e.Log.Info("calendar: sync token no longer valid; full resync", "user", p.user.ID)
		recs, next, err = p.listEvents(ctx, "")
	}
	return recs, next, err
}

func (p *pass) listEvents(ctx context.Context, token string) ([]twoway.Record, string, error) {
	full := token == ""
	p.result.FullGoogle = full
	var recs []twoway.Record
	// Every page repeats the first page's request exactly (Google's
	// pagination guide): the window is computed once.
	timeMin := p.e.Clock.Now().Add(-FullWindow).Format(time.RFC3339)
	page := ""
	for {
		p.result.CalendarCalls++
		resp, err := workspace.Call(ctx, p.e.Retry, "calendar: events.list", func() (*calendar.Events, error) {
			c := p.cal.Events.List(p.calID).MaxResults(p.e.pageSize()).Context(ctx)
			if token != "" {
				c = c.SyncToken(token)
			} else {
				c = c.TimeMin(timeMin)
			}
			if page != "" {
				c = c.PageToken(page)
			}
			return c.Do()
		})
		if err != nil {
			return nil, "", err
		}
		for _, ev := range resp.Items {
			if p.skip(ev) {
				continue
			}
			contacts, err := p.guests(ctx, ev)
			if err != nil {
				return nil, "", err
			}
			p.events[ev.Id] = ev
			recs = append(recs, eventRecord(ev, p.opts, contacts))
		}
		if resp.NextPageToken == "" {
			// A full read does not report deletions, and linked events it
			// does not show (outside the window) are left alone.
			return recs, resp.NextSyncToken, nil
		}
		page = resp.NextPageToken
	}
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

// readAllCRM reads all the user's activities (a first read) and the feed
// cursor to store.
func (p *pass) readAllCRM(ctx context.Context) ([]twoway.Record, string, error) {
	end := ""
	for more := true; more; {
		page, err := p.e.CRM.Changes(ctx, crm.ActivitiesFeed, crm.FeedScope{Owner: p.crmUser.ID}, end, 1000)
		if err != nil {
			return nil, "", err
		}
		end, more = page.Cursor, page.More
	}
	all, err := p.e.CRM.ListActivities(ctx, p.crmUser.ID)
	if err != nil {
		return nil, "", err
	}
	var recs []twoway.Record
	for _, a := range all {
		if !p.skipActivity(a) {
			p.acts[a.ID] = a
			recs = append(recs, activityRecord(a, p.opts, p.googleSeries))
		}
	}
	return recs, end, nil
}

// crmFeed reads the user's activity changes since cursor and the cursor
// after them.
func (p *pass) crmFeed(ctx context.Context, cursor string) ([]crm.Change, string, error) {
	var changes []crm.Change
	for {
		page, err := p.e.CRM.Changes(ctx, crm.ActivitiesFeed, crm.FeedScope{Owner: p.crmUser.ID}, cursor, 1000)
		if err != nil {
			return nil, "", err
		}
		changes = append(changes, page.Changes...)
		cursor = page.Cursor
		if !page.More {
			return changes, cursor, nil
		}
	}
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
