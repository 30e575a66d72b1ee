// Package contactsync is the contact sync engine: one user's Google
// Contacts (People API) and CRM contacts, kept in step under the user's
// options ("Contact Sync Options" of the product description).
//
// A pass, under the user's lease: read Google's changes (connections.list
// with the stored sync token; a full read without one or when it expired),
// read the CRM's changes from its change feed (a full listing the first
// time), reduce both to twoway records, plan with the twoway planner,
// apply the plan (batchCreateContacts and batchUpdateContacts of up to
// 200 with etags, batchDeleteContacts; CRM writes with versions and
// idempotency keys), store the links, then save both cursors. Google is
// side A and the CRM side B. Birth dates flow from the CRM only.
package contactsync

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	people "google.golang.org/api/people/v1"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/twoway"
	"github.com/crmsync/crmsync/shared/workspace"
)

// CRM is what contact sync needs of the CRM.
type CRM interface {
	UserByEmail(ctx context.Context, email string) (crm.User, error)
	FindContacts(ctx context.Context, asUser, email string) ([]crm.Contact, error)
	Contact(ctx context.Context, asUser, id string) (crm.Contact, error)
	ListContacts(ctx context.Context, asUser string, q crm.ContactQuery) ([]crm.Contact, error)
	CreateContact(ctx context.Context, w crm.Write, c crm.Contact) (crm.Contact, error)
	UpdateContact(ctx context.Context, w crm.Write, c crm.Contact) (crm.Contact, error)
	DeleteContact(ctx context.Context, w crm.Write, id string, version int64) (crm.Contact, error)
	RemoveFromSet(ctx context.Context, w crm.Write, setID, contactID string) (crm.Contact, error)
	Changes(ctx context.Context, c crm.Collection, scope crm.FeedScope, cursor string, limit int) (crm.ChangePage, error)
}

// Google gives a People client acting as a user.
type Google interface {
	People(ctx context.Context, email string) (*people.Service, error)
}

// Engine syncs users' contacts. Its fields are its dependencies.
type Engine struct {
	Store  *store.Store
	CRM    CRM
	Google Google
	Log    *slog.Logger
	Clock  clock.Clock
	Holder string
	Retry  workspace.Retry
}

const (
	kind         = "contacts"
	googleCursor = "people-sync"
	crmCursor    = "crm-contacts"
	personFields = "names,emailAddresses,phoneNumbers,birthdays,memberships,metadata"
)

// Result counts what a pass did.
type Result struct {
	CreatedGoogle, UpdatedGoogle, DeletedGoogle int
	CreatedCRM, UpdatedCRM, DeletedCRM          int
	Linked, Unlinked, Detached, Conflicts       int
	// Skipped counts Google contacts not copied because their address
	// belongs to a CRM contact outside the synced scope.
	Skipped             int
	FullGoogle, FullCRM bool
	// Quiet says neither side had changed, so the pass read no more.
	Quiet bool
	// Guarded says why the pass stopped before writing anything.
	Guarded string
	// PeopleCalls counts the People API calls of the pass.
	PeopleCalls int
}

// Options turns the stored options into the planner's.
func Options(c store.ContactsSetup) (twoway.Options, error) {
	var o twoway.Options
	switch c.Direction {
	case "", "off":
		o.Direction = twoway.Off
	case "crm-to-google":
		o.Direction = twoway.BToA
	case "google-to-crm":
		o.Direction = twoway.AToB
	case "both":
		o.Direction = twoway.Both
	default:
		return o, fmt.Errorf("contactsync: direction %q is not off, crm-to-google, google-to-crm or both", c.Direction)
	}
	switch c.OnGoogleDelete {
	case "", "delete":
		o.OnDeleteA = twoway.Propagate
	case "keep":
		o.OnDeleteA = twoway.Keep
	case "remove-from-set":
		if c.SetID == "" {
			return o, fmt.Errorf("contactsync: \"remove from set\" needs a synced set")
		}
		o.OnDeleteA = twoway.Detach
	default:
		return o, fmt.Errorf("contactsync: deletion option %q is not delete, keep or remove-from-set", c.OnGoogleDelete)
	}
	o.OnDeleteB = twoway.Propagate
	o.OneWay = map[string]twoway.Side{"birthday": twoway.B}
	o.MaxDeleteShare = c.MaxDeleteShare
	return o, nil
}

// AttentionPrefix starts the user's attention message when the
// mass-deletion guard stops a pass; the settings page offers to confirm.
const AttentionPrefix = "Contact sync stopped: "

// pass is one user's pass.
type pass struct {
	e       *Engine
	user    store.User
	setup   store.ContactsSetup
	crmUser crm.User
	ppl     *people.Service
	group   string // contact group resource name, or ""
	result  Result
	links   []store.Link
	dryRun  bool
	// outside are Google people outside the synced label, read this pass.
	outside  []twoway.Record
	persons  map[string]*people.Person // read this pass, by resource name
	contacts map[string]crm.Contact    // read this pass, by id
}

// Pass syncs one user's contacts once.
func (e *Engine) Pass(ctx context.Context, email string) (Result, error) {
	u, err := e.Store.Users().Get(ctx, email)
	if failure.Is(err, failure.NotFound) {
		return Result{}, nil
	}
	if err != nil {
		return Result{}, err
	}
	opts, err := Options(u.Contacts)
	if err != nil {
		return Result{}, failure.E("contactsync: options", failure.Invalid, err)
	}
	if opts.Direction == twoway.Off || u.Connection.State != store.Connected || u.SyncState != store.Active {
		return Result{}, nil
	}
	ctx, _, end, err := e.Store.Leases().HoldPass(ctx, u.ID, kind, e.Holder, store.PassLeaseTTL)
	if err != nil {
		return Result{}, err
	}
	defer end()
	p := &pass{e: e, user: u, setup: u.Contacts, persons: map[string]*people.Person{}, contacts: map[string]crm.Contact{}}
	res, err := p.run(ctx, opts)
	now := e.Clock.Now()
	status := store.PassStatus{At: now, OK: err == nil && res.Guarded == "", Counts: map[string]int{
		"createdGoogle": res.CreatedGoogle, "updatedGoogle": res.UpdatedGoogle, "deletedGoogle": res.DeletedGoogle,
		"createdCRM": res.CreatedCRM, "updatedCRM": res.UpdatedCRM, "deletedCRM": res.DeletedCRM}}
	if err != nil {
		status.Error = err.Error()
	}
	if res.Guarded != "" {
		status.Error = res.Guarded
	}
	if rerr := e.Store.Users().RecordPass(ctx, u.ID, kind, status); rerr != nil && err == nil {
		err = rerr
	}
	return res, err
}

// Preview plans a pass for the user without writing anything (the preview
// report shows it): what would be created, changed and deleted where.
func (e *Engine) Preview(ctx context.Context, email string) (twoway.Plan, error) {
	u, err := e.Store.Users().Get(ctx, email)
	if err != nil {
		return twoway.Plan{}, err
	}
	opts, err := Options(u.Contacts)
	if err != nil {
		return twoway.Plan{}, failure.E("contactsync: options", failure.Invalid, err)
	}
	if opts.Direction == twoway.Off {
		return twoway.Plan{}, nil
	}
	p := &pass{e: e, user: u, setup: u.Contacts, persons: map[string]*people.Person{}, contacts: map[string]crm.Contact{}, dryRun: true}
	plan, _, err := p.plan(ctx, opts)
	for i, a := range plan.Actions {
		plan.Actions[i].Name = p.name(a)
	}
	return plan, err
}

// name says who an action is about, from its fields or the records read.
func (p *pass) name(a twoway.Action) string {
	f := a.Fields
	for _, id := range []struct {
		side twoway.Side
		id   string
	}{{a.Side, a.ID}, {a.Side.Other(), a.Source}, {twoway.A, a.Link.A}, {twoway.B, a.Link.B}} {
		if f[fGiven] != "" || f[fFamily] != "" || f[fEmails] != "" {
			break
		}
		if id.side == twoway.A {
			if ps, ok := p.persons[id.id]; ok {
				f = personRecord(ps, false, false).Fields
			}
		} else if c, ok := p.contacts[id.id]; ok {
			f = twoway.Fields{fGiven: c.FirstName, fFamily: c.LastName, fEmails: canonEmails(c.Emails)}
		}
	}
	name := strings.TrimSpace(f[fGiven] + " " + f[fFamily])
	if e := f[fEmails]; e != "" {
		first, _, _ := strings.Cut(e, ",")
		if name == "" {
			return first
		}
		return name + " <" + first + ">"
	}
	if name == "" {
		return "(no name)"
	}
	return name
}

// cursors are the positions a pass read from and will store.
type cursors struct {
	google, crm        store.Cursor
	nextToken, nextCRM string
}

// plan reads both sides and plans the pass.
func (p *pass) plan(ctx context.Context, opts twoway.Options) (twoway.Plan, cursors, error) {
	e := p.e
	var cur cursors
	var err error
	if p.crmUser, err = e.CRM.UserByEmail(ctx, p.user.Email); err != nil {
		return twoway.Plan{}, cur, err
	}
	if p.ppl, err = e.Google.People(ctx, p.user.Email); err != nil {
		return twoway.Plan{}, cur, err
	}
	if cur.google, err = e.Store.Cursors().Get(ctx, p.user.ID, googleCursor); err != nil {
		return twoway.Plan{}, cur, err
	}
	if cur.crm, err = e.Store.Cursors().Get(ctx, p.user.ID, crmCursor); err != nil {
		return twoway.Plan{}, cur, err
	}
	// Both sides' changes first: a pass that finds none on either side
	// (most scheduled passes) ends here, without reading the link table,
	// whose size is the user's whole synced address book.
	persons, nextToken, err := p.fetchPeople(ctx, cur.google.Value)
	if err != nil {
		return twoway.Plan{}, cur, err
	}
	var feed []crm.Change
	nextCursor := ""
	if cur.crm.Value != "" {
		if feed, nextCursor, err = p.crmFeed(ctx, cur.crm.Value); err != nil {
			return twoway.Plan{}, cur, err
		}
	}
	if !p.result.FullGoogle && cur.crm.Value != "" && len(persons) == 0 && len(feed) == 0 {
		p.result.Quiet = true
		cur.nextToken, cur.nextCRM = nextToken, nextCursor
		return twoway.Plan{}, cur, nil
	}
	if p.links, err = e.Store.Links(kind).List(ctx, p.user.ID); err != nil {
		return twoway.Plan{}, cur, err
	}
	if p.setup.Group != "" {
		if p.group, err = p.ensureGroup(ctx, p.setup.Group); err != nil {
			return twoway.Plan{}, cur, err
		}
	}
	changedA, sizeA := p.peopleRecords(persons)
	var changedB []twoway.Record
	var sizeB int
	if cur.crm.Value == "" {
		changedB, sizeB, nextCursor, err = p.readAllCRM(ctx)
	} else {
		changedB, sizeB, err = p.crmRecords(ctx, feed)
	}
	if err != nil {
		return twoway.Plan{}, cur, err
	}
	cur.nextToken, cur.nextCRM = nextToken, nextCursor
	in := twoway.Input{ChangedA: changedA, ChangedB: changedB, SizeA: sizeA, SizeB: sizeB}
	for _, l := range p.links {
		in.Links = append(in.Links, twoway.Link{A: l.Google, B: l.CRM, AVersion: l.GoogleVersion, BVersion: l.CRMVersion, Base: l.Base})
	}
	if err := p.unlinkedCandidates(ctx, &in); err != nil {
		return twoway.Plan{}, cur, err
	}
	in.UnlinkedA = p.outside
	return twoway.PlanSync(in, opts), cur, nil
}

func (p *pass) run(ctx context.Context, opts twoway.Options) (Result, error) {
	e := p.e
	plan, cur, err := p.plan(ctx, opts)
	if err != nil {
		return p.result, err
	}
	gCur, cCur, nextToken, nextCursor := cur.google, cur.crm, cur.nextToken, cur.nextCRM
	if plan.Guarded != "" && !p.setup.ConfirmedDeletes {
		p.result.Guarded = plan.Guarded
		e.Log.Warn("contacts: mass deletion stopped; waiting for the user", "user", p.user.ID, "why", plan.Guarded)
		_, err := e.Store.Users().Update(ctx, p.user.ID, func(u *store.User) error {
			u.Attention = AttentionPrefix + plan.Guarded + "."
			return nil
		})
		return p.result, err
	}
	if err := p.apply(ctx, plan); err != nil {
		return p.result, err
	}
	if p.setup.ConfirmedDeletes {
		if _, err := e.Store.Users().Update(ctx, p.user.ID, func(u *store.User) error {
			u.Contacts.ConfirmedDeletes, u.Attention = false, ""
			return nil
		}); err != nil {
			return p.result, err
		}
	}
	if nextToken != "" {
		if _, err := e.Store.Cursors().Advance(ctx, p.user.ID, gCur, nextToken); err != nil {
			return p.result, err
		}
	}
	if nextCursor != "" && nextCursor != cCur.Value {
		if _, err := e.Store.Cursors().Advance(ctx, p.user.ID, cCur, nextCursor); err != nil {
			return p.result, err
		}
	}
	return p.result, nil
}

// ensureGroup finds or makes the contact label and returns its resource name.
func (p *pass) ensureGroup(ctx context.Context, name string) (string, error) {
	p.result.PeopleCalls++
	list, err := workspace.Call(ctx, p.e.Retry, "people: contactGroups.list", func() (*people.ListContactGroupsResponse, error) {
		return p.ppl.ContactGroups.List().PageSize(1000).Context(ctx).Do()
	})
	if err != nil {
		return "", err
	}
	for _, g := range list.ContactGroups {
		if strings.EqualFold(g.Name, name) {
			return g.ResourceName, nil
		}
	}
	if p.dryRun {
		return "contactGroups/(to be created)", nil // nobody is in it yet
	}
	p.result.PeopleCalls++
	g, err := workspace.Call(ctx, p.e.Retry, "people: contactGroups.create", func() (*people.ContactGroup, error) {
		return p.ppl.ContactGroups.Create(&people.CreateContactGroupRequest{ContactGroup: &people.ContactGroup{Name: name}}).Context(ctx).Do()
	})
	if err != nil {
		return "", err
	}
	return g.ResourceName, nil
}

// readGoogle returns the changed people (all on a full read), the size of
// the synced address book and the next sync token.
// fetchPeople reads the people changed since token (all of them when
// token is "" or Google no longer knows it) and the sync token to store.
func (p *pass) fetchPeople(ctx context.Context, token string) ([]*people.Person, string, error) {
	persons, next, err := p.listPeople(ctx, token)
	if failure.Is(err, failure.CursorExpired) {
		p.e.Log.Info("contacts: People sync token expired; full read", "user", p.user.ID)
		persons, next, err = p.listPeople(ctx, "")
	}
	return persons, next, err
}

func (p *pass) listPeople(ctx context.Context, token string) ([]*people.Person, string, error) {
	p.result.FullGoogle = token == ""
	var persons []*people.Person
	page := ""
	for {
		p.result.PeopleCalls++
		resp, err := workspace.Call(ctx, p.e.Retry, "people: connections.list", func() (*people.ListConnectionsResponse, error) {
			c := p.ppl.People.Connections.List("people/me").PersonFields(personFields).RequestSyncToken(true).PageSize(1000).Context(ctx)
			if token != "" {
				c = c.SyncToken(token)
			}
			if page != "" {
				c = c.PageToken(page)
			}
			return c.Do()
		})
		if err != nil {
			return nil, "", err
		}
		persons = append(persons, resp.Connections...)
		if resp.NextPageToken == "" {
			return persons, resp.NextSyncToken, nil
		}
		page = resp.NextPageToken
	}
}

// peopleRecords turns the people read into records (the links loaded)
// and returns them with the size of the synced Google scope.
func (p *pass) peopleRecords(persons []*people.Person) ([]twoway.Record, int) {
	full := p.result.FullGoogle
	var recs []twoway.Record
	seen := map[string]bool{}
	for _, person := range persons {
		deleted := person.Metadata != nil && person.Metadata.Deleted
		if !deleted && !p.inGroup(person) {
			if p.linkOfGoogle(person.ResourceName) == nil {
				// Outside the synced label: not synced, but a CRM
				// contact with the same address links to it (and puts
				// it in the label) rather than making a second one.
				p.outside = append(p.outside, personRecord(person, false, p.setup.BirthDates))
				continue
			}
			deleted = true // left the synced label: out of the sync
		}
		p.persons[person.ResourceName] = person
		seen[person.ResourceName] = true
		recs = append(recs, personRecord(person, deleted, p.setup.BirthDates))
	}
	if full {
		// A full read does not report deletions: linked people it did not
		// see are gone.
		for _, l := range p.links {
			if !seen[l.Google] {
				recs = append(recs, twoway.Record{ID: l.Google, Deleted: true})
			}
		}
	}
	size := 0
	for _, r := range recs {
		if !r.Deleted {
			size++
		}
	}
	if !full {
		size = max(size, len(p.links))
	}
	return recs, size
}

func (p *pass) inGroup(person *people.Person) bool {
	if p.group == "" {
		return true
	}
	for _, m := range person.Memberships {
		if g := m.ContactGroupMembership; g != nil && g.ContactGroupResourceName == p.group {
			return true
		}
	}
	return false
}

func (p *pass) linkOfGoogle(id string) *store.Link {
	for i := range p.links {
		if p.links[i].Google == id {
			return &p.links[i]
		}
	}
	return nil
}

func (p *pass) linkOfCRM(id string) *store.Link {
	for i := range p.links {
		if p.links[i].CRM == id {
			return &p.links[i]
		}
	}
	return nil
}

// inScope applies the CRM-side options: the set and the types.
func (p *pass) inScope(c crm.Contact) bool {
	if c.Deleted || c.ID == p.crmUser.ContactID { // the user's own record is not a contact of theirs
		return false
	}
	if p.setup.SetID != "" && !slices.Contains(c.Sets, p.setup.SetID) {
		return false
	}
	switch c.Type {
	case crm.TypeAdvisor:
		return p.setup.IncludeAdvisors
	case crm.TypeDependent:
		return p.setup.IncludeDependents
	}
	return true
}

// readAllCRM reads the whole synced CRM scope (a first read): its records,
// its size and the feed cursor to store.
func (p *pass) readAllCRM(ctx context.Context) ([]twoway.Record, int, string, error) {
	p.result.FullCRM = true
	end, err := p.feedEnd(ctx, "")
	if err != nil {
		return nil, 0, "", err
	}
	all, err := p.e.CRM.ListContacts(ctx, p.crmUser.ID, crm.ContactQuery{SetID: p.setup.SetID})
	if err != nil {
		return nil, 0, "", err
	}
	var recs []twoway.Record
	seen := map[string]bool{}
	for _, c := range all {
		if p.inScope(c) {
			p.contacts[c.ID] = c
			seen[c.ID] = true
			recs = append(recs, contactRecord(c, false, p.setup.BirthDates))
		}
	}
	for _, l := range p.links {
		if !seen[l.CRM] {
			recs = append(recs, twoway.Record{ID: l.CRM, Deleted: true})
		}
	}
	return recs, len(seen), end, nil
}

// crmFeed reads the synced scope's CRM changes since cursor and the
// cursor after them.
func (p *pass) crmFeed(ctx context.Context, cursor string) ([]crm.Change, string, error) {
	var changes []crm.Change
	for {
		page, err := p.e.CRM.Changes(ctx, crm.ContactsFeed, crm.FeedScope{Set: p.setup.SetID}, cursor, 1000)
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

// crmRecords turns the CRM's changes into records of the changed contacts
// (the links loaded: the pass's own writes are left out) and returns them
// with the size of the synced CRM scope.
func (p *pass) crmRecords(ctx context.Context, changes []crm.Change) ([]twoway.Record, int, error) {
	var recs []twoway.Record
	seen := map[string]bool{}
	for _, ch := range changes {
		if seen[ch.ID] {
			continue
		}
		if l := p.linkOfCRM(ch.ID); l != nil && l.CRMVersion == strconv.FormatInt(ch.Version, 10) {
			continue // our own write, or one we already have
		}
		seen[ch.ID] = true
		c, err := p.e.CRM.Contact(ctx, p.crmUser.ID, ch.ID)
		switch {
		case failure.Is(err, failure.NotFound):
			recs = append(recs, twoway.Record{ID: ch.ID, Deleted: true})
			continue
		case err != nil:
			return nil, 0, err
		}
		in := p.inScope(c)
		if !in && p.linkOfCRM(c.ID) == nil {
			continue
		}
		p.contacts[c.ID] = c
		recs = append(recs, contactRecord(c, !in, p.setup.BirthDates))
	}
	return recs, max(len(p.links), len(recs)), nil
}

// feedEnd reads the contact feed to its end and returns the cursor there.
func (p *pass) feedEnd(ctx context.Context, cursor string) (string, error) {
	for {
		page, err := p.e.CRM.Changes(ctx, crm.ContactsFeed, crm.FeedScope{Set: p.setup.SetID}, cursor, 1000)
		if err != nil {
			return "", err
		}
		cursor = page.Cursor
		if !page.More {
			return cursor, nil
		}
	}
}

// unlinkedCandidates finds, for each new Google person, unlinked CRM
// contacts with the same address, so the planner links instead of
// duplicating. A person whose address belongs to a CRM contact outside the
// synced scope (another type, not in the set) is left out of this pass:
// copying it would duplicate that contact.
func (p *pass) unlinkedCandidates(ctx context.Context, in *twoway.Input) error {
	var keep []twoway.Record
	for _, r := range in.ChangedA {
		if r.Deleted || p.linkOfGoogle(r.ID) != nil {
			keep = append(keep, r)
			continue
		}
		blocked := false
		for _, addr := range r.Keys {
			cs, err := p.e.CRM.FindContacts(ctx, p.crmUser.ID, addr)
			if failure.Is(err, failure.Invalid) {
				continue
			}
			if err != nil {
				return err
			}
			for _, c := range cs {
				switch {
				case p.linkOfCRM(c.ID) != nil:
				case p.inScope(c):
					p.contacts[c.ID] = c
					in.UnlinkedB = append(in.UnlinkedB, contactRecord(c, false, p.setup.BirthDates))
				default:
					blocked = true
				}
			}
		}
		if blocked {
			p.e.Log.Info("contacts: a Google contact matches a CRM contact outside the synced scope; not copied", "user", p.user.ID, "person", r.ID)
			p.result.Skipped++
			continue
		}
		keep = append(keep, r)
	}
	in.ChangedA = keep
	return nil
}
