package contactsync_test

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	people "google.golang.org/api/people/v1"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/seeded"
	"github.com/crmsync/crmsync/shared/store"
)

// The label and the set a user may choose in the randomized run.
const (
	randomLabel = "Clients"
	randomSet   = "Newsletter"
)

// randomRun is one seed's run: three users sharing one CRM, random edits
// on both sides between rounds, option changes between rounds, every
// user's passes at once. After each round it checks the documented rules:
// no duplicates anywhere, nothing gone that nobody deleted, each two-way
// user's Google agreeing with the CRM, and a pass with no edits writing
// nothing.
type randomRun struct {
	t    *testing.T
	f    *firm
	rng  *rand.Rand
	next int // numbers fresh addresses and names
	// gone are addresses somebody deleted or changed away this round: they
	// may vanish everywhere. changedAway are addresses the CRM changed
	// away in any round: a paused pair takes the change when it syncs
	// again, rounds later.
	gone        map[string]bool
	changedAway map[string]bool
	// touched are addresses edited in the CRM this round: a user adding
	// such a person in Google at the same moment makes a duplicate of
	// their own, which the product reports but cannot undo.
	touched map[string]bool
	// keptApart are, per user, addresses whose copy may legitimately differ
	// from the CRM: deleted in the user's Google with "do not delete from
	// the CRM", or changed while the user synced one way only.
	keptApart map[string]map[string]bool
	story     *seeded.Story
}

// A randomized convergence run through the engine against the fake
// Google, the reference CRM and the Firestore emulator (package seeded
// says how to replay a seed).
func TestRandomizedTwoWayConvergence(t *testing.T) {
	seeded.Run(t, 6, func(t *testing.T, rng *rand.Rand, story *seeded.Story) {
		r := &randomRun{t: t, rng: rng, story: story, keptApart: map[string]map[string]bool{}, changedAway: map[string]bool{}}
		r.run(6)
	})
}

func (r *randomRun) logf(format string, args ...any) { r.story.Printf(format, args...) }

func (r *randomRun) fresh() string {
	r.next++
	return fmt.Sprintf("p%d@r.test", r.next)
}

func (r *randomRun) name() string {
	r.next++
	return fmt.Sprintf("N%d", r.next)
}

func (r *randomRun) run(rounds int) {
	users := []string{"ann@firm.test", "bob@firm.test", "cat@firm.test"}
	seed := refcrm.Dataset{Sets: []string{randomSet}}
	for i := range 4 {
		c := refcrm.ImportContact{Key: r.fresh(), FirstName: r.name(), LastName: "Seed", Emails: []string{fmt.Sprintf("p%d@r.test", r.next-1)}}
		if i%2 == 0 {
			c.Sets = []string{randomSet}
		}
		seed.Contacts = append(seed.Contacts, c)
	}
	r.f = newFirm(r.t, users, store.ContactsSetup{Direction: "both", OnGoogleDelete: "delete"}, seed)
	r.f.engine.Log = slog.New(slog.NewTextHandler(&r.story.Trace, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, u := range users {
		r.keptApart[u] = map[string]bool{}
	}
	r.settle("the first sync")
	for round := range rounds {
		r.gone, r.touched = map[string]bool{}, map[string]bool{}
		before := r.snapshot()
		if round > 0 && round < rounds-1 {
			r.changeOptions()
		}
		if round == rounds-1 {
			// The last round syncs both ways everywhere, so every user is
			// checked against the CRM.
			for _, u := range users {
				r.setOption(u, func(c *store.ContactsSetup) { c.Direction = "both" })
			}
		}
		for range 3 + r.rng.IntN(5) {
			r.edit()
		}
		r.settle(fmt.Sprint("round ", round))
		r.checkNothingLost(before)
	}
}

// settle runs every user's passes at once until a round of them finds
// nothing to do, then checks the rules.
func (r *randomRun) settle(what string) {
	r.t.Helper()
	for i := range 6 {
		res := r.f.passAll()
		quiet := true
		for u, x := range res {
			if !x.Quiet {
				quiet = false
				r.logf("  %s pass %d of %s: %+v", what, i, u, x)
			}
			if i >= 4 && !x.Quiet {
				r.logf("%s: pass %d of %s still changes: %+v", what, i, u, x)
			}
		}
		if quiet {
			r.checkNoDuplicates(what)
			r.checkAgreement(what)
			return
		}
	}
	r.t.Fatalf("%s: passes did not settle in 6 rounds (a pass with no edits must write nothing)", what)
}

func (r *randomRun) setup(u string) store.ContactsSetup {
	got, err := r.f.Store.Users().Get(r.f.Ctx, u)
	if err != nil {
		r.t.Fatal(err)
	}
	return got.Contacts
}

func (r *randomRun) setOption(u string, change func(*store.ContactsSetup)) {
	if _, err := r.f.Store.Users().Update(r.f.Ctx, u, func(x *store.User) error { change(&x.Contacts); return nil }); err != nil {
		r.t.Fatal(err)
	}
}

// changeOptions changes one user's direction, deletion mode or label.
func (r *randomRun) changeOptions() {
	u := r.f.users[r.rng.IntN(len(r.f.users))]
	switch r.rng.IntN(4) {
	case 0:
		d := []string{"both", "google-to-crm", "crm-to-google"}[r.rng.IntN(3)]
		r.logf("options: %s syncs %s", u, d)
		r.setOption(u, func(c *store.ContactsSetup) { c.Direction = d })
	case 1:
		modes := []string{"delete", "keep"}
		if r.setup(u).SetID != "" {
			modes = append(modes, "remove-from-set")
		}
		m := modes[r.rng.IntN(len(modes))]
		r.logf("options: %s's Google deletions: %s", u, m)
		r.setOption(u, func(c *store.ContactsSetup) { c.OnGoogleDelete = m })
	case 2:
		g := ""
		if r.setup(u).Group == "" {
			g = randomLabel
		}
		r.logf("options: %s's label %q", u, g)
		r.setOption(u, func(c *store.ContactsSetup) { c.Group = g })
	case 3:
		set := ""
		if r.setup(u).SetID == "" {
			set = r.f.ids.Sets[randomSet]
		}
		r.logf("options: %s syncs the set %q", u, set)
		r.setOption(u, func(c *store.ContactsSetup) {
			c.SetID = set
			if set == "" && c.OnGoogleDelete == "remove-from-set" {
				c.OnGoogleDelete = "delete"
			}
		})
	}
}

// flows says whether changes on from reach user u's other side.
func (r *randomRun) flows(u, from string) bool {
	d := r.setup(u).Direction
	return d == "both" || (from == "google" && d == "google-to-crm") || (from == "crm" && d == "crm-to-google")
}

// edited notes that address a was edited on side from by user (or by the
// CRM when user is ""): users who do not take that edit keep theirs.
func (r *randomRun) edited(user, from, a string) {
	if from == "crm" {
		r.touched[a] = true
	}
	for _, u := range r.f.users {
		switch {
		case from == "google" && u == user && !r.flows(u, "google"):
			r.keptApart[u][a] = true
		case from == "google" && u != user && (!r.flows(user, "google") || !r.flows(u, "crm")):
			r.keptApart[u][a] = true
		case from == "crm" && !r.flows(u, "crm"):
			r.keptApart[u][a] = true
		}
	}
}

// hasPerson says whether a user's Google contact is paired with the CRM
// contact crmID, synced or paused.
func (r *randomRun) hasPerson(u, crmID string) bool {
	links, err := r.f.Store.Links("contacts").List(r.f.Ctx, u)
	if err != nil {
		r.t.Fatal(err)
	}
	return slices.ContainsFunc(links, func(l store.Link) bool { return l.CRM == crmID && l.Left != store.LeftAlone })
}

// linkedCRMAddresses are the addresses of the CRM contact a user's Google
// contact is linked to.
func (r *randomRun) linkedCRMAddresses(u, person string) []string {
	links, err := r.f.Store.Links("contacts").List(r.f.Ctx, u)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, l := range links {
		if l.Google != person || l.Left != "" {
			continue
		}
		c, err := r.f.CRM.Contact(r.f.Ctx, "", l.CRM)
		if err != nil {
			return nil
		}
		var out []string
		for _, e := range c.Emails {
			out = append(out, strings.ToLower(e))
		}
		return out
	}
	return nil
}

// deleted notes that address a was deleted (or changed away) in the CRM:
// it may vanish everywhere this round, and users who do not take the CRM's
// changes keep their copy.
func (r *randomRun) deleted(a string) {
	r.gone[a], r.touched[a] = true, true
	for _, u := range r.f.users {
		if !r.flows(u, "crm") {
			r.keptApart[u][a] = true
		}
	}
}

// labeled says whether a Google contact has a label of the user's own.
func labeled(p *people.Person) bool {
	for _, m := range p.Memberships {
		if g := m.ContactGroupMembership; g != nil && g.ContactGroupResourceName != "contactGroups/myContacts" {
			return true
		}
	}
	return false
}

// person is one of a user's Google contacts.
type person struct {
	p    *people.Person
	addr string
}

func (r *randomRun) persons(u string) []person {
	var out []person
	for a, ps := range r.f.googleOf(u) {
		out = append(out, person{ps[0], a})
	}
	slices.SortFunc(out, func(x, y person) int { return strings.Compare(x.addr, y.addr) })
	return out
}

// crmLive is the CRM's contacts in address order, so a seed picks the
// same contacts on every replay (the CRM's ids are random).
func (r *randomRun) crmLive() []crm.Contact {
	all, err := r.f.CRM.ListContacts(r.f.Ctx, "", crm.ContactQuery{})
	if err != nil {
		r.t.Fatal(err)
	}
	first := func(c crm.Contact) string {
		if len(c.Emails) == 0 {
			return ""
		}
		return strings.ToLower(c.Emails[0])
	}
	slices.SortFunc(all, func(x, y crm.Contact) int { return strings.Compare(first(x), first(y)) })
	return all
}

// edit makes one random edit on one side.
func (r *randomRun) edit() {
	f := r.f
	u := f.users[r.rng.IntN(len(f.users))]
	ps := r.persons(u)
	cs := r.crmLive()
	switch op := r.rng.IntN(9); {
	case op == 0: // a new Google contact, fresh or another user's person
		addr := r.fresh()
		if cs := r.crmLive(); len(cs) > 0 && r.rng.IntN(2) == 0 {
			c := cs[r.rng.IntN(len(cs))]
			addr = strings.ToLower(c.Emails[0])
			if r.touched[addr] || r.hasPerson(u, c.ID) {
				return // the user has this person already (perhaps under an older address)
			}
			if set := r.setup(u).SetID; set != "" && !slices.Contains(c.Sets, set) {
				// The person is a CRM contact outside the user's set: the
				// Google contact is not copied (it would duplicate them).
				r.keptApart[u][addr] = true
			}
		}
		if slices.ContainsFunc(ps, func(p person) bool { return p.addr == addr }) {
			return
		}
		var groups []string
		if r.setup(u).Group != "" {
			groups = []string{r.setup(u).Group}
		}
		name := r.name()
		r.logf("google %s: create %s %s", u, name, addr)
		if _, err := f.Google.AddContact(fakegoogle.SeedContact{User: u, Given: name, Family: "New", Emails: []string{addr}, Groups: groups}); err != nil {
			r.t.Fatal(err)
		}
		r.edited(u, "google", addr)
	case op <= 2 && len(ps) > 0: // rename in Google
		p := ps[r.rng.IntN(len(ps))]
		name := r.name()
		r.logf("google %s: rename %s to %s", u, p.addr, name)
		p.p.Names[0].GivenName = name
		if _, err := f.ppl[u].People.UpdateContact(p.p.ResourceName, p.p).UpdatePersonFields("names").Do(); err != nil {
			r.t.Fatal(err)
		}
		r.edited(u, "google", p.addr)
	case op == 3 && len(ps) > 0: // delete in Google
		p := ps[r.rng.IntN(len(ps))]
		r.logf("google %s: delete %s (%s)", u, p.addr, r.setup(u).OnGoogleDelete)
		if _, err := f.ppl[u].People.DeleteContact(p.p.ResourceName).Do(); err != nil {
			r.t.Fatal(err)
		}
		if m := r.setup(u).OnGoogleDelete; m == "keep" || m == "remove-from-set" || !r.flows(u, "google") {
			r.keptApart[u][p.addr] = true
			for _, a := range r.linkedCRMAddresses(u, p.p.ResourceName) {
				r.keptApart[u][a] = true // the same person, whatever the CRM calls them now
			}
		} else {
			r.deleted(p.addr)
			// The same person in the CRM, whose address may have changed
			// there meanwhile, goes too.
			for _, a := range r.linkedCRMAddresses(u, p.p.ResourceName) {
				r.deleted(a)
			}
		}
	case op == 4: // a new CRM contact
		addr := r.fresh()
		name := r.name()
		r.logf("crm: create %s %s", name, addr)
		c := crm.Contact{Type: crm.TypeContact, FirstName: name, LastName: "Crm", Emails: []string{addr}}
		if r.rng.IntN(2) == 0 {
			c.Sets = []string{f.ids.Sets[randomSet]}
		}
		if _, err := f.CRM.CreateContact(f.Ctx, crm.Write{}, c); err != nil {
			r.t.Fatal(err)
		}
		r.edited("", "crm", addr)
	case op <= 6 && len(cs) > 0: // rename in the CRM, sometimes against a Google rename
		c := cs[r.rng.IntN(len(cs))]
		c.FirstName = r.name()
		addr := strings.ToLower(c.Emails[0])
		r.logf("crm: rename %s to %s", addr, c.FirstName)
		if _, err := f.CRM.UpdateContact(f.Ctx, crm.Write{}, c); err != nil {
			r.t.Fatal(err)
		}
		r.edited("", "crm", addr)
		if i := slices.IndexFunc(ps, func(p person) bool { return p.addr == addr }); i >= 0 && r.rng.IntN(2) == 0 {
			p := ps[i]
			p.p.Names[0].FamilyName = r.name()
			r.logf("google %s: conflicting edit of %s: family %s", u, addr, p.p.Names[0].FamilyName)
			if _, err := f.ppl[u].People.UpdateContact(p.p.ResourceName, p.p).UpdatePersonFields("names").Do(); err != nil {
				r.t.Fatal(err)
			}
			r.edited(u, "google", addr)
		}
	case op == 7 && len(cs) > 0: // delete in the CRM
		c := cs[r.rng.IntN(len(cs))]
		addr := strings.ToLower(c.Emails[0])
		r.logf("crm: delete %s", addr)
		if _, err := f.CRM.DeleteContact(f.Ctx, crm.Write{}, c.ID, c.Version); err != nil {
			r.t.Fatal(err)
		}
		r.deleted(addr)
	case op == 8 && len(cs) > 0: // a CRM contact's address changes
		c := cs[r.rng.IntN(len(cs))]
		old := strings.ToLower(c.Emails[0])
		c.Emails = []string{r.fresh()}
		r.logf("crm: %s's address becomes %s", old, c.Emails[0])
		if _, err := f.CRM.UpdateContact(f.Ctx, crm.Write{}, c); err != nil {
			r.t.Fatal(err)
		}
		r.deleted(old)
		r.changedAway[old] = true
		r.edited("", "crm", c.Emails[0])
		for _, u := range f.users {
			if r.keptApart[u][old] || !r.flows(u, "crm") {
				r.keptApart[u][c.Emails[0]] = true
			}
		}
	}
}

// snapshot is every address present: in the CRM and in each Google.
func (r *randomRun) snapshot() map[string]map[string]bool {
	out := map[string]map[string]bool{"crm": {}}
	for _, c := range r.crmLive() {
		for _, e := range c.Emails {
			out["crm"][strings.ToLower(e)] = true
		}
	}
	for _, u := range r.f.users {
		out[u] = map[string]bool{}
		for a := range r.f.googleOf(u) {
			out[u][a] = true
		}
	}
	return out
}

// checkNothingLost: what was there before the round is still there, but
// for what somebody deleted or changed away.
func (r *randomRun) checkNothingLost(before map[string]map[string]bool) {
	r.t.Helper()
	after := r.snapshot()
	for where, addrs := range before {
		for a := range addrs {
			if !after[where][a] && !r.gone[a] && !r.changedAway[a] && !(where != "crm" && r.keptApart[where][a]) {
				r.t.Errorf("%s lost %s, which nobody deleted", where, a)
			}
		}
	}
}

func (r *randomRun) checkNoDuplicates(what string) {
	r.t.Helper()
	for a, cs := range r.f.crmContacts() {
		if len(cs) > 1 {
			r.t.Errorf("%s: the CRM has %d contacts for %s", what, len(cs), a)
		}
	}
	for _, u := range r.f.users {
		for a, ps := range r.f.googleOf(u) {
			if len(ps) > 1 {
				r.t.Errorf("%s: %s's Google has %d contacts for %s", what, u, len(ps), a)
			}
		}
	}
}

// checkAgreement: for each user who syncs both ways, every CRM contact has
// one Google copy with the same name, and every synced Google contact is
// in the CRM (but for what the user keeps apart).
func (r *randomRun) checkAgreement(what string) {
	r.t.Helper()
	crmBy := map[string]crm.Contact{}
	for _, c := range r.crmLive() {
		crmBy[strings.ToLower(c.Emails[0])] = c
	}
	for _, u := range r.f.users {
		s := r.setup(u)
		if s.Direction != "both" {
			continue
		}
		google := r.f.googleOf(u)
		for a, c := range crmBy {
			if r.keptApart[u][a] || (s.SetID != "" && !slices.Contains(c.Sets, s.SetID)) {
				continue // kept apart, or outside the synced set
			}
			ps := google[a]
			if len(ps) != 1 {
				r.t.Errorf("%s: %s's Google has %d copies of the CRM's %s", what, u, len(ps), a)
				continue
			}
			if n := ps[0].Names[0]; n.GivenName != c.FirstName || n.FamilyName != c.LastName {
				r.t.Errorf("%s: %s's copy of %s is %q %q, the CRM has %q %q", what, u, a, n.GivenName, n.FamilyName, c.FirstName, c.LastName)
			}
		}
		links, err := r.f.Store.Links("contacts").List(r.f.Ctx, u)
		if err != nil {
			r.t.Fatal(err)
		}
		notSyncing := map[string]bool{} // paused pairs, and contacts kept alone
		for _, l := range links {
			if l.Left != "" {
				notSyncing[l.Google] = true
			}
		}
		for a, ps := range google {
			if s.Group != "" && !labeled(ps[0]) {
				continue // outside the synced label
			}
			if notSyncing[ps[0].ResourceName] {
				continue // its pair is paused (one side left its scope): both keep their own
			}
			if _, ok := crmBy[a]; !ok && !r.keptApart[u][a] {
				r.t.Errorf("%s: %s's Google contact %s is not in the CRM", what, u, a)
			}
		}
	}
}
