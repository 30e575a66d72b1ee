package contactsync

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	people "google.golang.org/api/people/v1"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/twoway"
	"github.com/crmsync/crmsync/shared/workspace"
)

// The mapped fields, in canonical form so both sides compare equal.
const (
	fGiven    = "given"
	fFamily   = "family"
	fEmails   = "emails"
	fPhones   = "phones"
	fBirthday = "birthday"
)

func canonEmails(es []string) string {
	var out []string
	for _, e := range es {
		e = strings.ToLower(strings.TrimSpace(e))
		if e != "" && !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

func canonPhones(ps []string) string {
	var out []string
	for _, p := range ps {
		if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return strings.Join(out, ",")
}

func split(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

func set(f twoway.Fields, k, v string) {
	if v != "" {
		f[k] = v
	}
}

// personRecord reduces a Google contact.
func personRecord(p *people.Person, deleted, birthdays bool) twoway.Record {
	r := twoway.Record{ID: p.ResourceName, Version: p.Etag, Deleted: deleted, Fields: twoway.Fields{}}
	if p.Metadata != nil && len(p.Metadata.Sources) > 0 {
		r.Modified, _ = time.Parse(time.RFC3339Nano, p.Metadata.Sources[0].UpdateTime)
	}
	if len(p.Names) > 0 {
		set(r.Fields, fGiven, p.Names[0].GivenName)
		set(r.Fields, fFamily, p.Names[0].FamilyName)
	}
	var emails, phones []string
	for _, e := range p.EmailAddresses {
		emails = append(emails, e.Value)
	}
	for _, ph := range p.PhoneNumbers {
		phones = append(phones, ph.Value)
	}
	set(r.Fields, fEmails, canonEmails(emails))
	set(r.Fields, fPhones, canonPhones(phones))
	if birthdays && len(p.Birthdays) > 0 && p.Birthdays[0].Date != nil && p.Birthdays[0].Date.Year > 0 {
		d := p.Birthdays[0].Date
		set(r.Fields, fBirthday, fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day))
	}
	r.Keys = split(r.Fields[fEmails])
	return r
}

// contactRecord reduces a CRM contact.
func contactRecord(c crm.Contact, deleted, birthdays bool) twoway.Record {
	r := twoway.Record{ID: c.ID, Version: strconv.FormatInt(c.Version, 10), Modified: c.Updated, Deleted: deleted, Fields: twoway.Fields{}}
	set(r.Fields, fGiven, c.FirstName)
	set(r.Fields, fFamily, c.LastName)
	set(r.Fields, fEmails, canonEmails(c.Emails))
	set(r.Fields, fPhones, canonPhones(c.Phones))
	if birthdays {
		set(r.Fields, fBirthday, c.BirthDate)
	}
	r.Keys = split(r.Fields[fEmails])
	return r
}

// toPerson is a Google contact with the fields (and the synced label on
// creation).
func (p *pass) toPerson(f twoway.Fields, etag string) *people.Person {
	out := &people.Person{Etag: etag, Names: []*people.Name{{GivenName: f[fGiven], FamilyName: f[fFamily]}}}
	for _, e := range split(f[fEmails]) {
		out.EmailAddresses = append(out.EmailAddresses, &people.EmailAddress{Value: e})
	}
	for _, ph := range split(f[fPhones]) {
		out.PhoneNumbers = append(out.PhoneNumbers, &people.PhoneNumber{Value: ph})
	}
	if b := f[fBirthday]; b != "" {
		if t, err := time.Parse(time.DateOnly, b); err == nil {
			out.Birthdays = []*people.Birthday{{Date: &people.Date{Year: int64(t.Year()), Month: int64(t.Month()), Day: int64(t.Day())}}}
		}
	}
	if etag == "" && p.group != "" {
		out.Memberships = []*people.Membership{{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: p.group}}}
	}
	return out
}

// toContact sets the fields on a CRM contact.
func toContact(c crm.Contact, f twoway.Fields) crm.Contact {
	c.FirstName, c.LastName = f[fGiven], f[fFamily]
	c.Emails, c.Phones = split(f[fEmails]), split(f[fPhones])
	if b, ok := f[fBirthday]; ok {
		c.BirthDate = b
	}
	return c
}

const batch = 200

// apply carries the plan out and stores the links it makes and drops.
func (p *pass) apply(ctx context.Context, plan twoway.Plan) error {
	var puts, drops []store.Link
	keep := func(l twoway.Link) {
		puts = append(puts, store.Link{Google: l.A, CRM: l.B, GoogleVersion: l.AVersion, CRMVersion: l.BVersion, Base: l.Base})
	}
	drop := func(l twoway.Link) { drops = append(drops, store.Link{Google: l.A, CRM: l.B}) }
	var written twoway.Written
	remember := written.Record
	var createA, updateA []twoway.Action
	var deleteA []string
	w := crm.Write{AsUser: p.crmUser.ID, Origin: crm.Origin}
	for _, a := range plan.Actions {
		p.e.Log.Debug("contacts: action", "user", p.user.ID, "op", int(a.Op), "side", a.Side.String(), "id", a.ID, "google", a.Link.A, "crm", a.Link.B,
			"patch", strings.Join(a.Patch, ","), "why", a.Why)
		switch {
		case a.Op == twoway.Create && a.Side == twoway.A:
			createA = append(createA, a)
		case a.Op == twoway.Update && a.Side == twoway.A:
			updateA = append(updateA, a)
		case a.Op == twoway.Delete && a.Side == twoway.A:
			deleteA = append(deleteA, a.ID)
			drop(a.Link)
			p.result.DeletedGoogle++
		case a.Op == twoway.Create && a.Side == twoway.B:
			// One CRM contact per person across the firm: the new
			// contact's addresses are claimed first; a contact another
			// user's pass made for them meanwhile is linked instead.
			holder := "contacts:" + p.user.ID + ":" + a.Source
			addrs := split(a.Fields[fEmails])
			if len(addrs) > 0 {
				existing, err := p.claim(ctx, addrs, holder)
				if err != nil {
					return err
				}
				if existing != "" {
					adopted, err := p.adopt(ctx, a, existing, remember, drop)
					if err != nil {
						return err
					}
					if adopted {
						continue
					}
				}
			}
			c := toContact(crm.Contact{Type: crm.ContactType(p.createType())}, a.Fields)
			if p.setup.SetID != "" {
				c.Sets = []string{p.setup.SetID}
			}
			w.IdempotencyKey = holder
			made, err := p.e.CRM.CreateContact(ctx, w, c)
			w.IdempotencyKey = ""
			if failure.Is(err, failure.Invalid) {
				p.e.Log.Warn("contacts: the CRM refused a Google contact", "user", p.user.ID, "person", a.Source, "err", err)
				if len(addrs) > 0 {
					if err := p.e.Store.Claims().Release(ctx, p.user.TenantID, addrs, holder); err != nil {
						return err
					}
				}
				continue
			}
			if err != nil {
				return err
			}
			if len(addrs) > 0 {
				if err := p.e.Store.Claims().Settle(ctx, p.user.TenantID, addrs, holder, made.ID); err != nil {
					return err
				}
			}
			remember(a.Link.Wrote(twoway.B, made.ID, strconv.FormatInt(made.Version, 10)), twoway.B)
			p.result.CreatedCRM++
		case a.Op == twoway.Update && a.Side == twoway.B:
			cur, ok := p.contacts[a.ID]
			if !ok {
				c, err := p.e.CRM.Contact(ctx, p.crmUser.ID, a.ID)
				if err != nil {
					return err
				}
				cur = c
			}
			next := p.patched(cur, a)
			next.Version = a.IfVersionOr(cur.Version)
			made, err := p.e.CRM.UpdateContact(ctx, w, next)
			if err := p.result.SettleCRMUpdate(a, made.Version, err, remember, failure.Conflict); err != nil {
				return err
			}
		case a.Op == twoway.Delete && a.Side == twoway.B:
			done, err := p.deleteCRM(ctx, a)
			if err != nil {
				return err
			}
			if !done {
				p.result.Conflicts++
				continue
			}
			drop(a.Link)
			p.result.DeletedCRM++
		case a.Op == twoway.DetachOp:
			if _, err := p.e.CRM.RemoveFromSet(ctx, w, p.setup.SetID, a.ID); err != nil && !failure.Is(err, failure.NotFound) {
				return err
			}
			drop(a.Link)
			p.result.Detached++
		case a.Op == twoway.LinkOp:
			remember(a.Link, 0)
			p.result.Linked++
		case a.Op == twoway.Unlink && a.Side != 0:
			// One side left its scope: the pair is paused, both kept.
			l := store.Link{Google: a.Link.A, CRM: a.Link.B, GoogleVersion: a.Link.AVersion, CRMVersion: a.Link.BVersion, Base: a.Link.Base, Left: store.LeftGoogle}
			if a.Side == twoway.B {
				l.Left = store.LeftCRM
			}
			puts = append(puts, l)
			p.result.Paused++
		case a.Op == twoway.Unlink && a.Kept == twoway.A:
			// The CRM contact is gone and the user keeps the Google one:
			// remembered, so the person arriving again links to it.
			puts = append(puts, store.Link{Google: a.Link.A, CRM: a.Link.B, Base: a.Link.Base, Left: store.LeftAlone})
			p.result.Unlinked++
		case a.Op == twoway.Unlink:
			drop(a.Link)
			p.result.Unlinked++
		case a.Op == twoway.Duplicate:
			p.e.Log.Warn("contacts: a new contact has the address of one already synced; not copied", "user", p.user.ID, "side", a.Side.String(), "id", a.ID, "linkedGoogle", a.Link.A, "linkedCRM", a.Link.B)
			p.result.Duplicates++
		}
	}
	if err := p.createGoogle(ctx, createA, remember); err != nil {
		return err
	}
	if err := p.updateGoogle(ctx, updateA, remember, drop); err != nil {
		return err
	}
	for start := 0; start < len(deleteA); start += 500 {
		ids := deleteA[start:min(start+500, len(deleteA))]
		p.result.PeopleCalls++
		if _, err := workspace.Call(ctx, p.e.Retry, "people: batchDeleteContacts", func() (any, error) {
			return p.ppl.People.BatchDeleteContacts(&people.BatchDeleteContactsRequest{ResourceNames: ids}).Context(ctx).Do()
		}); err != nil && !failure.Is(err, failure.NotFound) {
			return err
		}
	}
	var join []string
	for _, l := range written.Links() {
		keep(l)
		if slices.ContainsFunc(p.outside, func(r twoway.Record) bool { return r.ID == l.A }) {
			join = append(join, l.A)
		}
	}
	drops = append(drops, p.unpause...)
	puts = append(puts, p.aloneNow...)
	// A pair a re-baseline made active again syncs from now on: its stored
	// document loses the pause even when nothing else changed for it.
	// (Otherwise the next pass takes it as paused again, and a deletion on
	// one side would not carry over.)
	touched := map[string]bool{}
	for _, l := range slices.Concat(puts, drops) {
		touched[l.Google] = true
	}
	for _, l := range p.links {
		if p.wasPaused[l.Google] && !p.retired[l.Google] && !touched[l.Google] {
			l.Left = ""
			puts = append(puts, l)
		}
	}
	for _, id := range p.relabel {
		if !slices.ContainsFunc(drops, func(l store.Link) bool { return l.Google == id }) && !slices.Contains(join, id) {
			join = append(join, id)
		}
	}
	if err := p.joinGroup(ctx, join); err != nil {
		return err
	}
	return p.e.Store.Links(feature.Kind).Apply(ctx, p.user.ID, puts, drops)
}

// joinGroup puts linked people who were outside the synced label into it.
func (p *pass) joinGroup(ctx context.Context, names []string) error {
	slices.Sort(names)
	for start := 0; start < len(names); start += 1000 {
		chunk := names[start:min(start+1000, len(names))]
		p.result.PeopleCalls++
		_, err := workspace.Call(ctx, p.e.Retry, "people: contactGroups.members.modify", func() (*people.ModifyContactGroupMembersResponse, error) {
			return p.ppl.ContactGroups.Members.Modify(p.group, &people.ModifyContactGroupMembersRequest{ResourceNamesToAdd: chunk}).Context(ctx).Do()
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *pass) createType() string {
	if p.setup.CreateType == "advisor" {
		return string(crm.TypeAdvisor)
	}
	return string(crm.TypeContact)
}

// createGoogle makes new Google contacts in batches of 200.
func (p *pass) createGoogle(ctx context.Context, acts []twoway.Action, remember func(twoway.Link, twoway.Side)) error {
	for start := 0; start < len(acts); start += batch {
		chunk := acts[start:min(start+batch, len(acts))]
		req := &people.BatchCreateContactsRequest{ReadMask: "metadata"}
		for _, a := range chunk {
			req.Contacts = append(req.Contacts, &people.ContactToCreate{ContactPerson: p.toPerson(a.Fields, "")})
		}
		p.result.PeopleCalls++
		resp, err := workspace.Call(ctx, p.e.Retry, "people: batchCreateContacts", func() (*people.BatchCreateContactsResponse, error) {
			return p.ppl.People.BatchCreateContacts(req).Context(ctx).Do()
		})
		if err != nil {
			return err
		}
		for i, made := range resp.CreatedPeople {
			if made.Person == nil || i >= len(chunk) {
				continue
			}
			l := chunk[i].Link
			l.A, l.AVersion = made.Person.ResourceName, made.Person.Etag
			remember(l, twoway.A)
			p.result.CreatedGoogle++
		}
	}
	return nil
}

// updateMask is the person fields contact sync writes.
const updateMask = "names,emailAddresses,phoneNumbers,birthdays"

// personFieldOf is the person field that holds a mapped field.
var personFieldOf = map[string]string{fGiven: "names", fFamily: "names", fEmails: "emailAddresses", fPhones: "phoneNumbers", fBirthday: "birthdays"}

// maskOf is the update mask of an update's patch: only the person fields
// it changes, so the contact's other fields stay as they are now.
func maskOf(a twoway.Action) string {
	if a.Patch == nil {
		return updateMask
	}
	var fields []string
	for _, k := range a.Patch {
		if f, ok := personFieldOf[k]; ok && !slices.Contains(fields, f) {
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		return updateMask
	}
	slices.Sort(fields)
	return strings.Join(fields, ",")
}

// patched is what a CRM contact becomes under an update: its fields now,
// with the update's patch.
func (p *pass) patched(cur crm.Contact, a twoway.Action) crm.Contact {
	if a.Patch == nil {
		return toContact(cur, a.Fields)
	}
	f := contactRecord(cur, false, p.setup.BirthDates).Fields
	for _, k := range a.Patch {
		if v, ok := a.Fields[k]; ok {
			f[k] = v
		} else {
			delete(f, k)
		}
	}
	return toContact(cur, f)
}

// updatePerson writes one planned update of a Google contact, with its etag.
func (p *pass) updatePerson(ctx context.Context, a twoway.Action) (*people.Person, error) {
	person := p.toPerson(a.Fields, a.IfVersion)
	p.result.PeopleCalls++
	return workspace.Call(ctx, p.e.Retry, "people: updateContact", func() (*people.Person, error) {
		return p.ppl.People.UpdateContact(a.ID, person).UpdatePersonFields(maskOf(a)).PersonFields("metadata").Context(ctx).Do()
	})
}

// updateGoogle writes changed Google contacts in batches of 200 with their
// etags, one batch per update mask. A batch refused for a stale etag is
// written one by one, and the stale contacts are left for the next pass,
// which re-reads and re-plans.
func (p *pass) updateGoogle(ctx context.Context, acts []twoway.Action, remember func(twoway.Link, twoway.Side), drop func(twoway.Link)) error {
	byMask := map[string][]twoway.Action{}
	var masks []string
	for _, a := range acts {
		m := maskOf(a)
		if _, ok := byMask[m]; !ok {
			masks = append(masks, m)
		}
		byMask[m] = append(byMask[m], a)
	}
	for _, m := range masks {
		if err := p.updateGoogleMasked(ctx, m, byMask[m], remember, drop); err != nil {
			return err
		}
	}
	return nil
}

func (p *pass) updateGoogleMasked(ctx context.Context, mask string, acts []twoway.Action, remember func(twoway.Link, twoway.Side), drop func(twoway.Link)) error {
	for start := 0; start < len(acts); start += batch {
		chunk := acts[start:min(start+batch, len(acts))]
		req := &people.BatchUpdateContactsRequest{Contacts: map[string]people.Person{}, UpdateMask: mask, ReadMask: "metadata"}
		for _, a := range chunk {
			req.Contacts[a.ID] = *p.toPerson(a.Fields, a.IfVersion)
		}
		p.result.PeopleCalls++
		resp, err := workspace.Call(ctx, p.e.Retry, "people: batchUpdateContacts", func() (*people.BatchUpdateContactsResponse, error) {
			return p.ppl.People.BatchUpdateContacts(req).Context(ctx).Do()
		})
		if err == nil {
			for _, a := range chunk {
				if r, ok := resp.UpdateResult[a.ID]; ok && r.Person != nil {
					remember(a.Link.Wrote(twoway.A, "", r.Person.Etag), twoway.A)
					p.result.UpdatedGoogle++
				}
			}
			continue
		}
		if !failure.Is(err, failure.Invalid) && !failure.Is(err, failure.Conflict) && !failure.Is(err, failure.NotFound) {
			return err
		}
		for _, a := range chunk {
			made, err := p.updatePerson(ctx, a)
			switch {
			case failure.Is(err, failure.Invalid):
				// Changed in Google since it was read: re-read, re-plan,
				// retry once.
				p.result.Conflicts++
				if err := p.retryStale(ctx, a, remember, drop); err != nil {
					return err
				}
				continue
			case failure.Is(err, failure.NotFound):
				// Deleted in Google since it was read: a deletion this pass
				// learns late, applied as the user's options say.
				if err := p.lateGoogleDeletion(ctx, a.Link, remember, drop); err != nil {
					return err
				}
				continue
			case err != nil:
				return err
			}
			remember(a.Link.Wrote(twoway.A, "", made.Etag), twoway.A)
			p.result.UpdatedGoogle++
		}
	}
	return nil
}

// retryStale handles a Google update refused for a stale etag: it reads
// the person again, plans that one link again with the fresh person and
// the CRM side as this pass saw it, and applies the result once. A second
// refusal is left for the next pass.
func (p *pass) retryStale(ctx context.Context, a twoway.Action, remember func(twoway.Link, twoway.Side), drop func(twoway.Link)) error {
	p.result.PeopleCalls++
	fresh, err := workspace.Call(ctx, p.e.Retry, "people: people.get", func() (*people.Person, error) {
		return p.ppl.People.Get(a.ID).PersonFields(personFields).Context(ctx).Do()
	})
	if failure.Is(err, failure.NotFound) {
		return p.lateGoogleDeletion(ctx, a.Link, remember, drop)
	}
	if err != nil {
		return err
	}
	prev := p.linkOfGoogle(a.ID)
	if prev == nil {
		return nil
	}
	in := twoway.Input{Links: []twoway.Link{{A: prev.Google, B: prev.CRM, AVersion: prev.GoogleVersion, BVersion: prev.CRMVersion, Base: prev.Base}},
		ChangedA: []twoway.Record{personRecord(fresh, false, p.setup.BirthDates)}}
	if c, ok := p.contacts[prev.CRM]; ok {
		in.ChangedB = []twoway.Record{contactRecord(c, false, p.setup.BirthDates)}
	}
	opts, err := Options(p.setup)
	if err != nil {
		return err
	}
	return p.applyPair(ctx, twoway.PlanSync(in, opts), remember, drop)
}

// lateGoogleDeletion applies a deletion in Google that the pass learned
// only when writing to the person: as the options say for a deletion
// (delete, keep, or remove from the set in the CRM).
func (p *pass) lateGoogleDeletion(ctx context.Context, l twoway.Link, remember func(twoway.Link, twoway.Side), drop func(twoway.Link)) error {
	opts, err := Options(p.setup)
	if err != nil {
		return err
	}
	p.e.Log.Info("contacts: a Google contact was deleted while the pass wrote to it", "user", p.user.ID, "person", l.A)
	plan := twoway.PlanSync(twoway.Input{Links: []twoway.Link{l}, ChangedA: []twoway.Record{{ID: l.A, Deleted: true}}}, opts)
	return p.applyPair(ctx, plan, remember, drop)
}

// deleteCRM deletes a CRM contact for a deletion in Google. A deletion
// wins over an edit made meanwhile (another user's pass merging a
// rename): a refusal for a changed version is retried with the version
// the contact has now. It reports false when the contact kept changing.
func (p *pass) deleteCRM(ctx context.Context, a twoway.Action) (bool, error) {
	w := crm.Write{AsUser: p.crmUser.ID, Origin: crm.Origin}
	ver, _ := strconv.ParseInt(a.IfVersion, 10, 64)
	for range 3 {
		_, err := p.e.CRM.DeleteContact(ctx, w, a.ID, ver)
		switch {
		case err == nil, failure.Is(err, failure.NotFound):
			return true, nil
		case !failure.Is(err, failure.Conflict):
			return false, err
		}
		cur, err := p.e.CRM.Contact(ctx, p.crmUser.ID, a.ID)
		if failure.Is(err, failure.NotFound) || (err == nil && cur.Deleted) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		ver = cur.Version
	}
	return false, nil
}

// applyPair applies the plan of one pair planned again within the pass
// (a stale etag, a contact another user's pass made): updates on either
// side and the link. A refusal on the way is left for the next pass.
func (p *pass) applyPair(ctx context.Context, plan twoway.Plan, remember func(twoway.Link, twoway.Side), drop func(twoway.Link)) error {
	for _, act := range plan.Actions {
		switch {
		case act.Op == twoway.Update && act.Side == twoway.A:
			made, err := p.updatePerson(ctx, act)
			if failure.Is(err, failure.Invalid) || failure.Is(err, failure.NotFound) {
				return nil // changed again: the next pass
			}
			if err != nil {
				return err
			}
			remember(act.Link.Wrote(twoway.A, "", made.Etag), twoway.A)
			p.result.UpdatedGoogle++
		case act.Op == twoway.Update && act.Side == twoway.B:
			cur, ok := p.contacts[act.ID]
			if !ok {
				continue
			}
			next := p.patched(cur, act)
			next.Version = act.IfVersionOr(next.Version)
			made, err := p.e.CRM.UpdateContact(ctx, crm.Write{AsUser: p.crmUser.ID, Origin: crm.Origin}, next)
			if err := p.result.SettleCRMUpdate(act, made.Version, err, remember, failure.Conflict); err != nil {
				return err
			}
		case act.Op == twoway.LinkOp:
			remember(act.Link, 0)
		case act.Op == twoway.Delete && act.Side == twoway.B:
			done, err := p.deleteCRM(ctx, act)
			if err != nil {
				return err
			}
			if done {
				drop(act.Link)
				p.result.DeletedCRM++
			}
		case act.Op == twoway.DetachOp:
			if _, err := p.e.CRM.RemoveFromSet(ctx, crm.Write{AsUser: p.crmUser.ID, Origin: crm.Origin}, p.setup.SetID, act.ID); err != nil && !failure.Is(err, failure.NotFound) {
				return err
			}
			drop(act.Link)
			p.result.Detached++
		case act.Op == twoway.Unlink:
			drop(act.Link)
			p.result.Unlinked++
		}
	}
	return nil
}

// claimWaitInPass is how long a pass waits for another user's pass that
// holds an address claim to make its contact; then the pass fails as
// Transient and runs again later.
const claimWaitInPass = 15 * time.Second

// claim takes the firm-wide claims of a new contact's addresses for
// holder. It returns "" when this pass is to create the contact, or the id
// of the contact another pass made for them.
func (p *pass) claim(ctx context.Context, addrs []string, holder string) (string, error) {
	const op = "contacts: address claim"
	deadline := p.e.Clock.Now().Add(claimWaitInPass)
	for {
		other, taken, err := p.e.Store.Claims().Take(ctx, p.user.TenantID, addrs, holder)
		if err != nil {
			return "", err
		}
		if taken {
			return "", nil
		}
		if other.CRM != "" {
			return other.CRM, nil
		}
		if !p.e.Clock.Now().Before(deadline) {
			return "", failure.Errorf(op, failure.Transient, "another user's pass is creating the CRM contact of %s; this pass runs again later", other.Address)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// adopt links a new Google contact to the CRM contact another user's pass
// made for the same person, merging the two as a first sync does. It
// reports false when that contact cannot be used (gone, or outside what
// this user syncs), so the caller creates one.
func (p *pass) adopt(ctx context.Context, a twoway.Action, crmID string, remember func(twoway.Link, twoway.Side), drop func(twoway.Link)) (bool, error) {
	c, err := p.e.CRM.Contact(ctx, p.crmUser.ID, crmID)
	if failure.Is(err, failure.NotFound) || failure.Is(err, failure.Forbidden) || (err == nil && c.Deleted) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	w := crm.Write{AsUser: p.crmUser.ID, Origin: crm.Origin}
	if !p.inScope(c) && p.setup.SetID != "" && !slices.Contains(c.Sets, p.setup.SetID) {
		c.Sets = append(c.Sets, p.setup.SetID)
		if c, err = p.e.CRM.UpdateContact(ctx, w, c); err != nil {
			return false, err
		}
	}
	if !p.inScope(c) {
		return false, nil
	}
	person, ok := p.persons[a.Source]
	if !ok {
		return false, nil
	}
	p.contacts[c.ID] = c
	opts, err := Options(p.setup)
	if err != nil {
		return false, err
	}
	plan := twoway.PlanSync(twoway.Input{ChangedA: []twoway.Record{personRecord(person, false, p.setup.BirthDates)},
		UnlinkedB: []twoway.Record{contactRecord(c, false, p.setup.BirthDates)}}, opts)
	if err := p.applyPair(ctx, plan, remember, drop); err != nil {
		return false, err
	}
	p.e.Log.Info("contacts: linked to the CRM contact another user's pass made for the same address", "user", p.user.ID, "person", a.Source, "contact", c.ID)
	p.result.Linked++
	return true, nil
}
