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
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	people "google.golang.org/api/people/v1"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/direction"
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
	// Duplicates counts new contacts not copied because their address is
	// a contact already synced (another user's copy, or one made before):
	// they are reported to be merged.
	Duplicates int
	// Paused counts pairs that stopped syncing because one side left its
	// scope (a label or set taken away); both records stay.
	Paused int
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
	d, err := direction.Parse(c.Direction)
	if err != nil {
		return o, fmt.Errorf("contactsync: %w", err)
	}
	o.Direction = d.Flow()
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
	outside []twoway.Record
	// rebaseline says the synced scope (label, set, types) changed since
	// the cursors were stored: both sides are read whole, pairs outside
	// the new scope are unlinked, and linked people in it are labeled.
	rebaseline bool
	// relabel are linked people outside the synced label that the new
	// scope covers: they get the label after the pass.
	relabel []string
	// paused are the pairs one of whose sides left its scope, by Google
	// id (pausedCRM maps their CRM ids to it); unpause are those to forget
	// (a side was deleted) and restored those that sync again this pass.
	paused    map[string]store.Link
	pausedCRM map[string]string
	unpause   []store.Link
	restored  []store.Link
	// alone are Google contacts kept when their CRM contact was deleted,
	// by Google id; aloneNow are markers to store (a paused pair whose CRM
	// side was deleted).
	alone    map[string]store.Link
	aloneNow []store.Link
	// wasPaused are the pairs a re-baseline made active again: a side of
	// one found deleted was deleted while it did not sync, so the deletion
	// does not carry over (the other side is kept alone, or forgotten).
	wasPaused map[string]bool
	// retired are active links this pass takes out (by Google id): their
	// stored documents are removed (unpause) or replaced (aloneNow).
	retired  map[string]bool
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
	if opts.Direction == twoway.Off || u.Connection.State != store.Connected || u.SyncState != store.Active || u.RightWithdrawn {
		return Result{}, nil
	}
	if !u.Granted(workspace.PeopleScopes()) {
		// The user unticked Contacts on Google's consent screen: nothing to
		// do until they give it (the status page asks them to).
		e.Log.Info("contacts: no access granted to Google Contacts; pass skipped", "user", u.ID)
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
		"createdCRM": res.CreatedCRM, "updatedCRM": res.UpdatedCRM, "deletedCRM": res.DeletedCRM,
		"duplicates": res.Duplicates, "paused": res.Paused}}
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
	// A new label: the contacts already synced that it will cover.
	for _, id := range p.relabel {
		if l := p.linkOfGoogle(id); l != nil && !slices.ContainsFunc(plan.Actions, func(a twoway.Action) bool { return a.Link.A == id }) {
			plan.Actions = append(plan.Actions, twoway.Action{Op: twoway.LinkOp, Link: twoway.Link{A: l.Google, B: l.CRM},
				Why: "gets the label " + p.setup.Group + " in Google"})
		}
	}
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
	// The cursors were stored under a synced scope; another scope reads
	// both sides whole (a re-baseline).
	scope := scopeKey(p.setup)
	googleToken, sameG := cutScope(cur.google.Value, scope)
	crmFrom, sameC := cutScope(cur.crm.Value, scope)
	if (cur.google.Value != "" && !sameG) || (cur.crm.Value != "" && !sameC) {
		p.rebaseline, googleToken, crmFrom = true, "", ""
	}
	// Both sides' changes first: a pass that finds none on either side
	// (most scheduled passes) ends here, without reading the link table,
	// whose size is the user's whole synced address book.
	persons, nextToken, err := p.fetchPeople(ctx, googleToken)
	if err != nil {
		return twoway.Plan{}, cur, err
	}
	var feed []crm.Change
	nextCursor := ""
	if crmFrom != "" {
		if feed, nextCursor, err = p.crmFeed(ctx, crmFrom); err != nil {
			return twoway.Plan{}, cur, err
		}
	}
	if !p.result.FullGoogle && crmFrom != "" && len(persons) == 0 && len(feed) == 0 {
		p.result.Quiet = true
		cur.nextToken, cur.nextCRM = nextToken, nextCursor
		return twoway.Plan{}, cur, nil
	}
	stored, err := e.Store.Links(kind).List(ctx, p.user.ID)
	if err != nil {
		return twoway.Plan{}, cur, err
	}
	p.splitLinks(stored)
	if p.setup.Group != "" {
		if p.group, err = p.ensureGroup(ctx, p.setup.Group); err != nil {
			return twoway.Plan{}, cur, err
		}
	}
	changedA, sizeA := p.peopleRecords(persons)
	var changedB []twoway.Record
	var sizeB int
	if crmFrom == "" {
		changedB, sizeB, nextCursor, err = p.readAllCRM(ctx)
	} else {
		changedB, sizeB, err = p.crmRecords(ctx, feed)
	}
	if err != nil {
		return twoway.Plan{}, cur, err
	}
	if changedA, changedB, err = p.otherSidesOfRestored(ctx, changedA, changedB); err != nil {
		return twoway.Plan{}, cur, err
	}
	cur.nextToken, cur.nextCRM = nextToken, nextCursor
	p.links = slices.DeleteFunc(p.links, func(l store.Link) bool { return p.retired[l.Google] })
	// A Google contact kept alone is not copied back to the CRM, in this
	// pass or a later one, edited or not (only a new CRM contact with its
	// address pairs with it again: aloneCandidates). Filtered before the
	// planner's input is made: DeleteFunc shortens in place.
	changedA = slices.DeleteFunc(changedA, func(r twoway.Record) bool {
		_, stored := p.alone[r.ID]
		return stored || slices.ContainsFunc(p.aloneNow, func(l store.Link) bool { return l.Google == r.ID })
	})
	in := twoway.Input{ChangedA: changedA, ChangedB: changedB, SizeA: sizeA, SizeB: sizeB}
	for _, l := range p.links {
		in.Links = append(in.Links, twoway.Link{A: l.Google, B: l.CRM, AVersion: l.GoogleVersion, BVersion: l.CRMVersion, Base: l.Base,
			Keys: split(l.Base[fEmails])})
	}
	if err := p.unlinkedCandidates(ctx, &in); err != nil {
		return twoway.Plan{}, cur, err
	}
	in.UnlinkedA = p.outside
	if err := p.aloneCandidates(ctx, &in); err != nil {
		return twoway.Plan{}, cur, err
	}
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
	scope := scopeKey(p.setup)
	if nextToken != "" {
		if _, err := e.Store.Cursors().Advance(ctx, p.user.ID, gCur, scope+nextToken); err != nil {
			return p.result, err
		}
	}
	if nextCursor != "" && scope+nextCursor != cCur.Value {
		if _, err := e.Store.Cursors().Advance(ctx, p.user.ID, cCur, scope+nextCursor); err != nil {
			return p.result, err
		}
	}
	return p.result, nil
}

// splitLinks sets the pass's active links and its paused pairs. A
// re-baseline takes every pair as active: the new scope decides again.
func (p *pass) splitLinks(stored []store.Link) {
	p.paused, p.pausedCRM, p.alone, p.wasPaused, p.retired = map[string]store.Link{}, map[string]string{}, map[string]store.Link{}, map[string]bool{}, map[string]bool{}
	for _, l := range stored {
		if l.Left == store.LeftAlone {
			p.alone[l.Google] = l
			continue
		}
		if l.Left == "" || p.rebaseline {
			if l.Left != "" {
				p.wasPaused[l.Google] = true
			}
			l.Left = ""
			p.links = append(p.links, l)
			continue
		}
		p.paused[l.Google], p.pausedCRM[l.CRM] = l, l.Google
	}
}

// restore makes a paused pair active again for this pass: the side that
// came back counts as changed, and the other side is read too
// (otherSidesOfRestored), so the two merge field by field.
func (p *pass) restore(pl store.Link) {
	delete(p.paused, pl.Google)
	delete(p.pausedCRM, pl.CRM)
	if pl.Left == store.LeftGoogle {
		pl.GoogleVersion = ""
	} else {
		pl.CRMVersion = ""
	}
	p.restored = append(p.restored, pl)
	pl.Left = ""
	p.links = append(p.links, pl)
}

// forget drops a paused pair whose side was deleted: it was not synced,
// so nothing else is deleted. A Google contact that stays is remembered
// as alone.
func (p *pass) forget(pl store.Link, googleStays bool) {
	delete(p.paused, pl.Google)
	delete(p.pausedCRM, pl.CRM)
	if googleStays {
		pl.Left = store.LeftAlone
		p.aloneNow = append(p.aloneNow, pl)
		return
	}
	p.unpause = append(p.unpause, pl)
}

// aloneCandidates offers, for each new CRM contact, a Google contact of
// the user's that was kept alone with the same address (its CRM contact
// was deleted while the user kept it): the planner links the two instead
// of making a second Google copy. A pair paused because its CRM contact
// left the user's scope is such a contact too once that CRM contact is
// gone: the user's CRM feed, read for their scope only, never said so.
func (p *pass) aloneCandidates(ctx context.Context, in *twoway.Input) error {
	if len(p.alone) == 0 && len(p.paused) == 0 {
		return nil
	}
	byKey, pausedByKey := map[string]string{}, map[string]string{}
	for id, l := range p.alone {
		for _, k := range split(l.Base[fEmails]) {
			byKey[k] = id
		}
	}
	for id, l := range p.paused {
		if l.Left != store.LeftCRM {
			continue
		}
		for _, k := range split(l.Base[fEmails]) {
			pausedByKey[k] = id
		}
	}
	offered := map[string]bool{}
	for _, r := range in.ChangedB {
		if r.Deleted || r.Left || p.linkOfCRM(r.ID) != nil {
			continue
		}
		for _, k := range r.Keys {
			id, ok := byKey[k]
			if !ok {
				var err error
				if id, ok, err = p.pausedAndGone(ctx, pausedByKey[k], r.ID); err != nil {
					return err
				}
			}
			if !ok || offered[id] {
				continue
			}
			offered[id] = true
			person, ok := p.persons[id]
			if !ok {
				p.result.PeopleCalls++
				got, err := workspace.Call(ctx, p.e.Retry, "people: people.get", func() (*people.Person, error) {
					return p.ppl.People.Get(id).PersonFields(personFields).Context(ctx).Do()
				})
				if failure.Is(err, failure.NotFound) {
					p.unpause = append(p.unpause, p.alone[id])
					continue
				}
				if err != nil {
					return err
				}
				person = got
			}
			if !p.inGroup(person) || slices.ContainsFunc(in.ChangedA, func(a twoway.Record) bool { return a.ID == id }) {
				continue
			}
			p.persons[id] = person
			in.UnlinkedA = append(in.UnlinkedA, personRecord(person, false, p.setup.BirthDates))
		}
	}
	return nil
}

// pausedAndGone reports whether the paused pair of Google contact id (""
// for none) has lost its CRM contact, so the Google contact may pair with
// the new CRM contact crmID instead. The pair is then no longer paused in
// this pass; if nothing pairs with it, its stored state is unchanged.
func (p *pass) pausedAndGone(ctx context.Context, id, crmID string) (string, bool, error) {
	pl, ok := p.paused[id]
	if id == "" || !ok || pl.CRM == crmID {
		return "", false, nil
	}
	c, err := p.e.CRM.Contact(ctx, p.crmUser.ID, pl.CRM)
	switch {
	case failure.Is(err, failure.NotFound):
	case err != nil:
		return "", false, err
	case !c.Deleted:
		return "", false, nil // still there, out of scope: not this one
	}
	delete(p.paused, id)
	delete(p.pausedCRM, pl.CRM)
	p.alone[id] = pl // as a pair whose CRM contact was deleted while it was kept
	return id, true, nil
}

// otherSidesOfRestored reads the side of each restored pair that did not
// come back, when this pass has not read it, so a restored pair merges
// with what that side has now.
func (p *pass) otherSidesOfRestored(ctx context.Context, changedA, changedB []twoway.Record) ([]twoway.Record, []twoway.Record, error) {
	has := func(recs []twoway.Record, id string) bool {
		return slices.ContainsFunc(recs, func(r twoway.Record) bool { return r.ID == id })
	}
	for _, pl := range p.restored {
		switch pl.Left {
		case store.LeftGoogle:
			if has(changedB, pl.CRM) {
				continue
			}
			c, err := p.e.CRM.Contact(ctx, p.crmUser.ID, pl.CRM)
			switch {
			case failure.Is(err, failure.NotFound):
				changedB = append(changedB, twoway.Record{ID: pl.CRM, Deleted: true})
			case err != nil:
				return nil, nil, err
			default:
				p.contacts[c.ID] = c
				r := contactRecord(c, c.Deleted, p.setup.BirthDates)
				r.Left = !c.Deleted && !p.inScope(c)
				changedB = append(changedB, r)
			}
		case store.LeftCRM:
			if has(changedA, pl.Google) {
				continue
			}
			p.result.PeopleCalls++
			person, err := workspace.Call(ctx, p.e.Retry, "people: people.get", func() (*people.Person, error) {
				return p.ppl.People.Get(pl.Google).PersonFields(personFields).Context(ctx).Do()
			})
			switch {
			case failure.Is(err, failure.NotFound):
				changedA = append(changedA, twoway.Record{ID: pl.Google, Deleted: true})
			case err != nil:
				return nil, nil, err
			default:
				p.persons[person.ResourceName] = person
				r := personRecord(person, false, p.setup.BirthDates)
				r.Left = !p.inGroup(person)
				changedA = append(changedA, r)
			}
		}
	}
	return changedA, changedB, nil
}

// scopeKey names the synced scope (label, set, types) that the stored
// cursors were read under; it prefixes both cursors' values.
func scopeKey(c store.ContactsSetup) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%t\x00%t", strings.ToLower(c.Group), c.SetID, c.IncludeAdvisors, c.IncludeDependents)
	return fmt.Sprintf("scope-%x ", h.Sum64())
}

// cutScope returns a stored cursor's position and whether it was stored
// under scope.
func cutScope(stored, scope string) (string, bool) {
	return strings.CutPrefix(stored, scope)
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
		if pl, ok := p.paused[person.ResourceName]; ok {
			seen[person.ResourceName] = true
			switch {
			case deleted:
				p.forget(pl, false) // a paused pair's side is gone: only the pause is
				continue
			case pl.Left == store.LeftGoogle && p.inGroup(person):
				p.restore(pl) // back in the synced label: the pair syncs again
			default:
				continue // still paused
			}
		}
		left := false
		if !deleted && !p.inGroup(person) {
			switch {
			case p.linkOfGoogle(person.ResourceName) == nil:
				// Outside the synced label: not synced, but a CRM
				// contact with the same address links to it (and puts
				// it in the label) rather than making a second one.
				p.outside = append(p.outside, personRecord(person, false, p.setup.BirthDates))
				continue
			case p.rebaseline:
				// The label is new to the sync: a linked person whose
				// CRM contact the scope covers gets it.
				p.relabel = append(p.relabel, person.ResourceName)
			default:
				left = true // the user took it out of the synced label: it stops syncing
			}
		}
		p.persons[person.ResourceName] = person
		seen[person.ResourceName] = true
		r := personRecord(person, deleted, p.setup.BirthDates)
		r.Left = left
		recs = append(recs, r)
	}
	if full {
		// A full read does not report deletions: linked people it did not
		// see are gone.
		for _, l := range p.links {
			switch {
			case seen[l.Google]:
			case p.wasPaused[l.Google]:
				// Deleted while its pair did not sync: nothing else goes.
				p.retired[l.Google] = true
				p.unpause = append(p.unpause, l)
			default:
				recs = append(recs, twoway.Record{ID: l.Google, Deleted: true})
			}
		}
		for id, pl := range p.paused {
			if !seen[id] {
				p.forget(pl, false)
			}
		}
		for id, l := range p.alone {
			if !seen[id] {
				p.unpause = append(p.unpause, l)
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
		if !p.inScope(c) {
			continue
		}
		if g, ok := p.pausedCRM[c.ID]; ok {
			pl := p.paused[g]
			if pl.Left != store.LeftCRM {
				continue // paused on the Google side
			}
			p.restore(pl) // back in the synced scope
		}
		p.contacts[c.ID] = c
		seen[c.ID] = true
		recs = append(recs, contactRecord(c, false, p.setup.BirthDates))
	}
	for _, l := range p.links {
		if seen[l.CRM] {
			continue
		}
		// Not in the synced scope's listing: deleted, or out of the scope.
		c, err := p.e.CRM.Contact(ctx, p.crmUser.ID, l.CRM)
		switch {
		case (failure.Is(err, failure.NotFound) || (err == nil && c.Deleted)) && p.wasPaused[l.Google]:
			// Deleted while its pair did not sync: the Google contact
			// stays, remembered as alone.
			p.retired[l.Google] = true
			l.Left = store.LeftAlone
			p.aloneNow = append(p.aloneNow, l)
		case failure.Is(err, failure.NotFound) || (err == nil && c.Deleted):
			recs = append(recs, twoway.Record{ID: l.CRM, Deleted: true})
		case err != nil:
			return nil, 0, "", err
		default:
			recs = append(recs, twoway.Record{ID: l.CRM, Version: strconv.FormatInt(c.Version, 10), Left: true})
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
		notFound := failure.Is(err, failure.NotFound)
		if err != nil && !notFound {
			return nil, 0, err
		}
		if g, ok := p.pausedCRM[ch.ID]; ok {
			pl := p.paused[g]
			switch {
			case notFound || c.Deleted:
				p.forget(pl, true)
				continue
			case pl.Left == store.LeftCRM && p.inScope(c):
				p.restore(pl) // back in the synced set or types
			default:
				continue // still paused
			}
		}
		if notFound {
			recs = append(recs, twoway.Record{ID: ch.ID, Deleted: true})
			continue
		}
		in := p.inScope(c)
		if !in && p.linkOfCRM(c.ID) == nil {
			continue
		}
		p.contacts[c.ID] = c
		r := contactRecord(c, c.Deleted, p.setup.BirthDates)
		r.Left = !in && !c.Deleted // out of the set or types: it stops syncing
		recs = append(recs, r)
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
		blocked, duplicate := false, false
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
					duplicate = true // the user has this person in Google already
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
		if duplicate && !slices.ContainsFunc(in.UnlinkedB, func(b twoway.Record) bool {
			return slices.ContainsFunc(b.Keys, func(k string) bool { return slices.Contains(r.Keys, k) })
		}) {
			p.e.Log.Warn("contacts: a new Google contact has the address of a contact already synced; not copied", "user", p.user.ID, "person", r.ID)
			p.result.Duplicates++
			continue
		}
		keep = append(keep, r)
	}
	in.ChangedA = keep
	return nil
}
