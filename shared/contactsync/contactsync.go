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
//
// The frame of a pass (who is due one, the lease, the cursors, the CRM
// feed, quiet passes, the recorded status, the dry run) is package
// syncpass's runner, shared with calendar sync; this package is the
// contacts' side of it.
package contactsync

import (
	"context"
	"slices"
	"strconv"
	"strings"

	people "google.golang.org/api/people/v1"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/syncpass"
	"github.com/crmsync/crmsync/shared/twoway"
	"github.com/crmsync/crmsync/shared/workspace"
)

const personFields = "names,emailAddresses,phoneNumbers,birthdays,memberships,metadata"

// The engine's side of a pass is what the runner drives.
var _ syncpass.Pass = (*pass)(nil)

// pass is one user's pass: the engine's side of a syncpass pass.
type pass struct {
	e     *Engine
	user  store.User
	setup store.ContactsSetup
	opts  twoway.Options
	// read are the Google people read this pass, in Google's order.
	read    []*people.Person
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

// newPass makes the user's pass; none when the user's options turn
// contact sync off.
func (e *Engine) newPass(u store.User, dryRun bool) (syncpass.Pass, error) {
	opts, err := Options(u.Contacts)
	if err != nil {
		return nil, failure.E("contactsync: options", failure.Invalid, err)
	}
	if opts.Direction == twoway.Off {
		return nil, nil
	}
	return &pass{e: e, user: u, setup: u.Contacts, opts: opts, dryRun: dryRun,
		persons: map[string]*people.Person{}, contacts: map[string]crm.Contact{}}, nil
}

// Named says whether the fields have a name or an address.
func (p *pass) Named(f twoway.Fields) bool {
	return f[fGiven] != "" || f[fFamily] != "" || f[fEmails] != ""
}

// Read gives the fields of a person or CRM contact read.
func (p *pass) Read(side twoway.Side, id string) (twoway.Fields, bool) {
	if side == twoway.A {
		if ps, ok := p.persons[id]; ok {
			return personRecord(ps, false, false).Fields, true
		}
		return nil, false
	}
	if c, ok := p.contacts[id]; ok {
		return twoway.Fields{fGiven: c.FirstName, fFamily: c.LastName, fEmails: canonEmails(c.Emails)}, true
	}
	return nil, false
}

// Name says who the fields are: name and first address.
func (p *pass) Name(f twoway.Fields) string {
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

// Begin opens the user's People client.
func (p *pass) Begin(ctx context.Context, crmUser crm.User) error {
	p.crmUser = crmUser
	var err error
	p.ppl, err = p.e.Google.People(ctx, p.user.Email)
	return err
}

// Positions reads the stored cursors, which name the synced scope they
// were read under; another scope reads both sides whole (a re-baseline).
func (p *pass) Positions(google, crm string) (string, string) {
	scope := scopeKey(p.setup)
	token, sameG := strings.CutPrefix(google, scope)
	from, sameC := strings.CutPrefix(crm, scope)
	if (google != "" && !sameG) || (crm != "" && !sameC) {
		p.rebaseline = true
		return "", ""
	}
	return token, from
}

// Stamp stores both positions with the synced scope's name.
func (p *pass) Stamp(token, from string) (string, string) {
	scope := scopeKey(p.setup)
	return scope + token, scope + from
}

// FeedScope is the synced set, or all the CRM's contacts.
func (p *pass) FeedScope() crm.FeedScope { return crm.FeedScope{Set: p.setup.SetID} }

// ReadGoogle reads the people changed since token (all of them when
// token is "").
func (p *pass) ReadGoogle(ctx context.Context, token string) (int, string, bool, error) {
	persons, next, err := p.listPeople(ctx, token)
	p.read = persons
	return len(persons), next, p.result.FullGoogle, err
}

// Plan plans the pass from the stored links and the CRM's changes.
func (p *pass) Plan(ctx context.Context, stored []store.Link, feed []crm.Change, whole bool) (twoway.Plan, error) {
	p.splitLinks(stored)
	var err error
	if p.setup.Group != "" {
		if p.group, err = p.ensureGroup(ctx, p.setup.Group); err != nil {
			return twoway.Plan{}, err
		}
	}
	changedA, sizeA := p.peopleRecords(p.read)
	var changedB []twoway.Record
	var sizeB int
	if whole {
		changedB, sizeB, err = p.readAllCRM(ctx)
	} else {
		changedB, sizeB, err = p.crmRecords(ctx, feed)
	}
	if err != nil {
		return twoway.Plan{}, err
	}
	if changedA, changedB, err = p.otherSidesOfRestored(ctx, changedA, changedB); err != nil {
		return twoway.Plan{}, err
	}
	p.links = slices.DeleteFunc(p.links, func(l store.Link) bool { return p.retired[l.Google] })
	// A Google contact kept alone is not copied back to the CRM, in this
	// pass or a later one, edited or not (only a new CRM contact with its
	// address pairs with it again: aloneCandidates). Filtered before the
	// planner's input is made: DeleteFunc shortens in place.
	changedA = slices.DeleteFunc(changedA, func(r twoway.Record) bool {
		_, stored := p.alone[r.ID]
		return stored || slices.ContainsFunc(p.aloneNow, func(l store.Link) bool { return l.Google == r.ID })
	})
	in := twoway.Input{ChangedA: changedA, ChangedB: changedB, SizeA: sizeA, SizeB: sizeB,
		Links: syncpass.Links(p.links, func(l store.Link) []string { return split(l.Base[fEmails]) })}
	if err := p.unlinkedCandidates(ctx, &in); err != nil {
		return twoway.Plan{}, err
	}
	in.UnlinkedA = p.outside
	if err := p.aloneCandidates(ctx, &in); err != nil {
		return twoway.Plan{}, err
	}
	plan := twoway.PlanSync(in, p.opts)
	if p.dryRun {
		// A new label: the preview shows the contacts already synced that
		// it will cover.
		for _, id := range p.relabel {
			if l := p.linkOfGoogle(id); l != nil && !slices.ContainsFunc(plan.Actions, func(a twoway.Action) bool { return a.Link.A == id }) {
				plan.Actions = append(plan.Actions, twoway.Action{Op: twoway.LinkOp, Link: twoway.Link{A: l.Google, B: l.CRM},
					Why: "gets the label " + p.setup.Group + " in Google"})
			}
		}
	}
	return plan, nil
}

// Apply carries out the plan, unless the mass-deletion guard stops it and
// the user has not confirmed: then the user's attention says why.
func (p *pass) Apply(ctx context.Context, plan twoway.Plan) (string, error) {
	e := p.e
	if plan.Guarded != "" && !p.setup.ConfirmedDeletes {
		e.Log.Warn("contacts: mass deletion stopped; waiting for the user", "user", p.user.ID, "why", plan.Guarded)
		_, err := e.Store.Users().Update(ctx, p.user.ID, func(u *store.User) error {
			u.Attention = AttentionPrefix + plan.Guarded + "."
			return nil
		})
		return plan.Guarded, err
	}
	if err := p.apply(ctx, plan); err != nil {
		return "", err
	}
	if p.setup.ConfirmedDeletes {
		if _, err := e.Store.Users().Update(ctx, p.user.ID, func(u *store.User) error {
			u.Contacts.ConfirmedDeletes, u.Attention = false, ""
			return nil
		}); err != nil {
			return "", err
		}
	}
	return "", nil
}

// Finish has nothing to do after the cursors: contact sync has no push
// channel.
func (p *pass) Finish(context.Context) error { return nil }

// Tally is what the pass did.
func (p *pass) Tally() *syncpass.Tally { return &p.result.Tally }

// Result is what the pass did, as its engine's Pass returns it.
func (p *pass) Result() Result { return p.result }

// Counts are what the pass did, for its recorded status.
func (p *pass) Counts() map[string]int {
	c := p.result.Counts()
	c["duplicates"], c["paused"] = p.result.Duplicates, p.result.Paused
	return c
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

func (p *pass) listPeople(ctx context.Context, token string) ([]*people.Person, string, error) {
	p.result.FullGoogle = token == ""
	var persons []*people.Person
	next := ""
	err := workspace.EachPage(func(page string) (string, error) {
		p.result.PeopleCalls++
		resp, err := workspace.Call(ctx, p.e.Retry, "people: connections.list", func() (*people.ListConnectionsResponse, error) {
			c := p.ppl.People.Connections.List("people/me").PersonFields(personFields).RequestSyncToken(true).PageSize(1000).Context(ctx)
			if token != "" {
				c = c.SyncToken(token)
			}
			return workspace.AtPage(c, page).Do()
		})
		if err != nil {
			return "", err
		}
		persons = append(persons, resp.Connections...)
		next = resp.NextSyncToken
		return resp.NextPageToken, nil
	})
	if err != nil {
		return nil, "", err
	}
	return persons, next, nil
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

// readAllCRM reads the whole synced CRM scope (a first read): its records
// and its size.
func (p *pass) readAllCRM(ctx context.Context) ([]twoway.Record, int, error) {
	p.result.FullCRM = true
	all, err := p.e.CRM.ListContacts(ctx, p.crmUser.ID, crm.ContactQuery{SetID: p.setup.SetID})
	if err != nil {
		return nil, 0, err
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
			return nil, 0, err
		default:
			recs = append(recs, twoway.Record{ID: l.CRM, Version: strconv.FormatInt(c.Version, 10), Left: true})
		}
	}
	return recs, len(seen), nil
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
