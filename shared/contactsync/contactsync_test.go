package contactsync_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	people "google.golang.org/api/people/v1"

	"github.com/crmsync/crmsync/shared/contactsync"
	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/syncpass/syncpasstest"
	"github.com/crmsync/crmsync/shared/twoway"
)

const ann = "ann@firm.test"

// world is Ann's Google Contacts and her firm's CRM.
type world struct {
	*syncpasstest.World
	t      *testing.T
	ids    refcrm.Imported
	engine *contactsync.Engine
	// pass runs one pass of Ann's and fails the test on its error.
	pass func() contactsync.Result
	ppl  *people.Service
}

func newWorld(t *testing.T, setup store.ContactsSetup, googleContacts []fakegoogle.SeedContact) *world {
	t.Helper()
	sw := syncpasstest.New(t, "test", fakegoogle.Options{})
	sw.Google.AddUser(fakegoogle.User{Email: ann})
	for _, c := range googleContacts {
		c.User = ann
		if _, err := sw.Google.AddContact(c); err != nil {
			t.Fatal(err)
		}
	}
	ids := sw.Import(t, refcrm.Dataset{
		Sets: []string{"Sync"},
		Contacts: []refcrm.ImportContact{
			{Key: "ann", Type: crm.TypeAdvisor, FirstName: "Ann", Emails: []string{ann}},
			{Key: "carol", FirstName: "Carol", LastName: "Client", Emails: []string{"carol@client.test"}, BirthDate: "1968-04-12", Sets: []string{"Sync"}},
			{Key: "dan", FirstName: "Dan", LastName: "Dee", Emails: []string{"dan@client.test"}, Phones: []string{"+1 555 0101"}},
			{Key: "kid", Type: crm.TypeDependent, FirstName: "Kim", LastName: "Kid", Emails: []string{"kim@client.test"}},
			{Key: "adv", Type: crm.TypeAdvisor, FirstName: "Al", LastName: "Advisor", Emails: []string{"al@partner.test"}},
		},
		Users: []refcrm.ImportUser{{Key: "u-ann", Email: ann, IntegrationEnabled: true, Contact: "ann"}},
	})
	if setup.SetID == "Sync" {
		setup.SetID = ids.Sets["Sync"]
	}
	sw.AddSyncingUser(t, store.User{Email: ann, Contacts: setup})
	w := &world{World: sw, t: t, ids: ids,
		engine: &contactsync.Engine{Deps: sw.Deps("test"), CRM: sw.CRM, Google: sw.Factory}}
	w.pass = func() contactsync.Result { return syncpasstest.MustPass(t, sw.Ctx, w.engine.Pass, ann) }
	w.ppl, _ = sw.Factory.People(sw.Ctx, ann)
	return w
}

// googleByEmail lists Ann's Google contacts: address → person.
func (w *world) googleByEmail() map[string]*people.Person {
	w.t.Helper()
	resp, err := w.ppl.People.Connections.List("people/me").PersonFields("names,emailAddresses,phoneNumbers,birthdays,memberships").PageSize(1000).Do()
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]*people.Person{}
	for _, p := range resp.Connections {
		for _, e := range p.EmailAddresses {
			addr := strings.ToLower(e.Value)
			if out[addr] != nil {
				w.t.Errorf("Google has %s twice", addr)
			}
			out[addr] = p
		}
	}
	return out
}

// crmByEmail lists the CRM's live contacts: address → contacts.
func (w *world) crmByEmail() map[string][]crm.Contact {
	w.t.Helper()
	all, err := w.CRM.ListContacts(w.Ctx, "", crm.ContactQuery{})
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string][]crm.Contact{}
	for _, c := range all {
		for _, e := range c.Emails {
			out[e] = append(out[e], c)
		}
	}
	return out
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

var gina = fakegoogle.SeedContact{Given: "Gina", Family: "Google", Emails: []string{"gina@else.test"}}
var carolInGoogle = fakegoogle.SeedContact{Given: "Carol", Family: "Client", Emails: []string{"Carol@Client.test"}, Phones: []string{"+1 555 0100"}}

func TestInitialTwoWaySyncDoesNotDuplicate(t *testing.T) {
	w := newWorld(t, store.ContactsSetup{Direction: "both"}, []fakegoogle.SeedContact{gina, carolInGoogle})
	r := w.pass()
	if got := keys(w.googleByEmail()); !slices.Equal(got, []string{"carol@client.test", "dan@client.test", "gina@else.test"}) {
		t.Errorf("Google after the first sync: %v (advisors, dependents and Ann's own record stay out)", got)
	}
	c := w.crmByEmail()
	for _, e := range []string{"carol@client.test", "dan@client.test", "gina@else.test"} {
		if len(c[e]) != 1 {
			t.Errorf("CRM has %d contacts with %s, want 1", len(c[e]), e)
		}
	}
	// Carol existed on both sides: linked and merged, her Google phone reached the CRM.
	if carol := c["carol@client.test"][0]; !slices.Equal(carol.Phones, []string{"+1 555 0100"}) {
		t.Errorf("Carol in the CRM: %+v", carol)
	}
	if r.CreatedGoogle != 1 || r.CreatedCRM != 1 {
		t.Errorf("first pass: %+v", r)
	}
	// A second pass sees only its own writes: nothing to do, few calls.
	r = w.pass()
	if r.CreatedGoogle+r.UpdatedGoogle+r.CreatedCRM+r.UpdatedCRM+r.DeletedCRM+r.DeletedGoogle != 0 {
		t.Errorf("second pass wrote: %+v", r)
	}
	if r.PeopleCalls > 2 {
		t.Errorf("second pass made %d People calls", r.PeopleCalls)
	}
}

// The preview plans without writing: the first pass then does what it said.
func TestPreviewWritesNothing(t *testing.T) {
	w := newWorld(t, store.ContactsSetup{Direction: "both", Group: "SmartOffice"}, []fakegoogle.SeedContact{{Given: "Hal", Emails: []string{"hal@else.test"}, Groups: []string{"SmartOffice"}}})
	plan, err := w.engine.Preview(w.Ctx, ann)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Count(twoway.Create, twoway.A) != 2 || plan.Count(twoway.Create, twoway.B) != 1 {
		t.Errorf("preview: %d creates in Google, %d in the CRM; want 2 and 1", plan.Count(twoway.Create, twoway.A), plan.Count(twoway.Create, twoway.B))
	}
	if len(w.crmByEmail()["hal@else.test"]) != 0 || len(w.googleByEmail()) != 1 {
		t.Error("the preview wrote")
	}
	r := w.pass()
	if r.CreatedGoogle != 2 || r.CreatedCRM != 1 {
		t.Errorf("the pass after the preview: %+v", r)
	}
}

func TestDirectionsAndScopes(t *testing.T) {
	cases := []struct {
		name       string
		setup      store.ContactsSetup
		google     []string // addresses in Google after the pass
		crmHasGina bool
	}{
		{"CRM to Google only", store.ContactsSetup{Direction: "crm-to-google"}, []string{"carol@client.test", "dan@client.test", "gina@else.test"}, false},
		{"Google to CRM only", store.ContactsSetup{Direction: "google-to-crm"}, []string{"gina@else.test"}, true},
		{"a CRM set only", store.ContactsSetup{Direction: "crm-to-google", SetID: "Sync"}, []string{"carol@client.test", "gina@else.test"}, false},
		{"advisors and dependents included", store.ContactsSetup{Direction: "crm-to-google", IncludeAdvisors: true, IncludeDependents: true},
			[]string{"al@partner.test", "carol@client.test", "dan@client.test", "gina@else.test", "kim@client.test"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, tc.setup, []fakegoogle.SeedContact{gina})
			w.pass()
			if got := keys(w.googleByEmail()); !slices.Equal(got, tc.google) {
				t.Errorf("Google: %v, want %v", got, tc.google)
			}
			if has := len(w.crmByEmail()["gina@else.test"]) > 0; has != tc.crmHasGina {
				t.Errorf("Gina in the CRM: %v, want %v", has, tc.crmHasGina)
			}
		})
	}
}

// A Google contact whose address belongs to a CRM contact outside the
// synced scope (a dependent, excluded) is not copied as a second record.
func TestOutOfScopeMatchIsNotDuplicated(t *testing.T) {
	w := newWorld(t, store.ContactsSetup{Direction: "both"}, []fakegoogle.SeedContact{{Given: "Kim", Emails: []string{"kim@client.test"}}})
	r := w.pass()
	if n := len(w.crmByEmail()["kim@client.test"]); n != 1 || r.Skipped != 1 {
		t.Errorf("%d CRM records for Kim, %d skipped; want 1 and 1", n, r.Skipped)
	}
}

// With a label synced, a CRM contact whose person exists in Google outside
// the label is linked to that person and puts it in the label: no second
// Carol in Google.
func TestLabelAdoptsAnExistingPerson(t *testing.T) {
	w := newWorld(t, store.ContactsSetup{Direction: "both", Group: "SmartOffice"}, []fakegoogle.SeedContact{carolInGoogle})
	r := w.pass()
	g := w.googleByEmail() // fails the test on a duplicate address
	carol := g["carol@client.test"]
	if carol == nil || len(carol.Memberships) != 2 || r.CreatedGoogle != 1 {
		t.Errorf("Carol in Google: %+v; pass %+v (want Carol adopted into the label and only Dan created)", carol, r)
	}
}

func TestLabelBirthdaysAndRecordType(t *testing.T) {
	w := newWorld(t, store.ContactsSetup{Direction: "both", Group: "SmartOffice", BirthDates: true, CreateType: "advisor"},
		[]fakegoogle.SeedContact{gina, {Given: "Hal", Emails: []string{"hal@else.test"}, Groups: []string{"SmartOffice"}}})
	w.pass()
	g := w.googleByEmail()
	// Only the label's people go to the CRM; CRM contacts land in the label.
	if len(w.crmByEmail()["gina@else.test"]) != 0 {
		t.Error("Gina, outside the label, reached the CRM")
	}
	hal := w.crmByEmail()["hal@else.test"]
	if len(hal) != 1 || hal[0].Type != crm.TypeAdvisor {
		t.Errorf("Hal in the CRM: %+v (want one advisor record)", hal)
	}
	carol := g["carol@client.test"]
	if carol == nil || len(carol.Memberships) == 0 || !slices.ContainsFunc(carol.Memberships, func(m *people.Membership) bool {
		return m.ContactGroupMembership != nil && strings.HasPrefix(m.ContactGroupMembership.ContactGroupResourceName, "contactGroups/") &&
			m.ContactGroupMembership.ContactGroupResourceName != "contactGroups/myContacts"
	}) {
		t.Fatalf("Carol in Google is not in the SmartOffice label: %+v", carol)
	}
	if len(carol.Birthdays) != 1 || carol.Birthdays[0].Date.Year != 1968 {
		t.Errorf("Carol's birthday in Google: %+v", carol.Birthdays)
	}
	// A birthday typed in Google never reaches the CRM.
	hp := g["hal@else.test"]
	_, err := w.ppl.People.UpdateContact(hp.ResourceName, &people.Person{Etag: hp.Etag,
		Birthdays: []*people.Birthday{{Date: &people.Date{Year: 1990, Month: 1, Day: 2}}}}).UpdatePersonFields("birthdays").Do()
	if err != nil {
		t.Fatal(err)
	}
	w.pass()
	if hal := w.crmByEmail()["hal@else.test"]; hal[0].BirthDate != "" {
		t.Errorf("a Google birthday reached the CRM: %q", hal[0].BirthDate)
	}
}

func TestDeletionModes(t *testing.T) {
	for _, mode := range []string{"delete", "keep", "remove-from-set"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, store.ContactsSetup{Direction: "both", SetID: "Sync", OnGoogleDelete: mode}, nil)
			w.pass()
			carol := w.googleByEmail()["carol@client.test"]
			if carol == nil {
				t.Fatal("Carol did not reach Google")
			}
			if _, err := w.ppl.People.DeleteContact(carol.ResourceName).Do(); err != nil {
				t.Fatal(err)
			}
			w.pass()
			c, err := w.CRM.Contact(w.Ctx, "", w.ids.Contacts["carol"])
			if err != nil {
				t.Fatal(err)
			}
			switch mode {
			case "delete":
				if !c.Deleted {
					t.Error("Carol not moved to Deleted Records")
				}
			case "keep":
				if c.Deleted || !slices.Contains(c.Sets, w.ids.Sets["Sync"]) {
					t.Errorf("Carol changed: %+v", c)
				}
			case "remove-from-set":
				if c.Deleted || slices.Contains(c.Sets, w.ids.Sets["Sync"]) {
					t.Errorf("Carol should stay, out of the set: %+v", c)
				}
			}
			// Nothing comes back to Google.
			w.pass()
			if w.googleByEmail()["carol@client.test"] != nil {
				t.Error("Carol came back to Google")
			}
		})
	}
	// Deleted in the CRM: deleted in Google.
	w := newWorld(t, store.ContactsSetup{Direction: "both"}, nil)
	w.pass()
	dan, _ := w.CRM.Contact(w.Ctx, "", w.ids.Contacts["dan"])
	if _, err := w.CRM.DeleteContact(w.Ctx, crm.Write{}, dan.ID, dan.Version); err != nil {
		t.Fatal(err)
	}
	w.pass()
	if w.googleByEmail()["dan@client.test"] != nil {
		t.Error("Dan, deleted in the CRM, is still in Google")
	}
}

func TestConflictNewestWins(t *testing.T) {
	w := newWorld(t, store.ContactsSetup{Direction: "both"}, nil)
	w.pass()
	// The CRM renames Dan, then Google renames him later: Google's is newer.
	dan, _ := w.CRM.Contact(w.Ctx, "", w.ids.Contacts["dan"])
	dan.LastName = "CRM-Name"
	if _, err := w.CRM.UpdateContact(w.Ctx, crm.Write{}, dan); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	p := w.googleByEmail()["dan@client.test"]
	if _, err := w.ppl.People.UpdateContact(p.ResourceName, &people.Person{Etag: p.Etag, Names: []*people.Name{{GivenName: "Dan", FamilyName: "Google-Name"}},
		PhoneNumbers: []*people.PhoneNumber{{Value: "+1 555 0199"}}}).UpdatePersonFields("names,phoneNumbers").Do(); err != nil {
		t.Fatal(err)
	}
	w.pass()
	got, _ := w.CRM.Contact(w.Ctx, "", w.ids.Contacts["dan"])
	g := w.googleByEmail()["dan@client.test"]
	if got.LastName != "Google-Name" || g.Names[0].FamilyName != "Google-Name" || !slices.Equal(got.Phones, []string{"+1 555 0199"}) {
		t.Errorf("after the conflict: CRM %q %v, Google %q", got.LastName, got.Phones, g.Names[0].FamilyName)
	}
}

func TestExpiredSyncTokenResyncsWithoutDuplicates(t *testing.T) {
	w := newWorld(t, store.ContactsSetup{Direction: "both"}, []fakegoogle.SeedContact{gina})
	w.pass()
	w.Google.InvalidateSyncTokens(ann)
	r := w.pass()
	if !r.FullGoogle || r.CreatedCRM+r.CreatedGoogle != 0 {
		t.Errorf("pass after the token expired: %+v", r)
	}
	if n := len(w.crmByEmail()["gina@else.test"]); n != 1 {
		t.Errorf("%d Ginas in the CRM", n)
	}
}

func TestMassDeletionGuard(t *testing.T) {
	var many []fakegoogle.SeedContact
	for i := range 20 {
		many = append(many, fakegoogle.SeedContact{Given: "P", Family: fmt.Sprint(i), Emails: []string{fmt.Sprintf("p%d@else.test", i)}})
	}
	w := newWorld(t, store.ContactsSetup{Direction: "both"}, many)
	w.pass()
	// Someone empties Ann's Google Contacts.
	var names []string
	for _, p := range w.googleByEmail() {
		names = append(names, p.ResourceName)
	}
	if _, err := w.ppl.People.BatchDeleteContacts(&people.BatchDeleteContactsRequest{ResourceNames: names}).Do(); err != nil {
		t.Fatal(err)
	}
	r := w.pass()
	if r.Guarded == "" || r.DeletedCRM != 0 {
		t.Fatalf("the guard did not stop the pass: %+v", r)
	}
	u, _ := w.Store.Users().Get(w.Ctx, ann)
	if !strings.Contains(u.Attention, "would delete") {
		t.Errorf("attention %q", u.Attention)
	}
	if n := len(w.crmByEmail()["p1@else.test"]); n != 1 {
		t.Fatalf("the CRM lost contacts while guarded")
	}
	// The user confirms: the next pass applies it.
	w.Store.Users().Update(w.Ctx, ann, func(u *store.User) error { u.Contacts.ConfirmedDeletes = true; return nil })
	if r := w.pass(); r.Guarded != "" || r.DeletedCRM < 20 {
		t.Errorf("after confirmation: %+v", r)
	}
}

// hookCRM runs a function the first time the pass reads the CRM's feed:
// after the pass read Google, before it writes there.
type hookCRM struct {
	contactsync.CRM
	once sync.Once
	hook func()
}

func (h *hookCRM) Changes(ctx context.Context, c crm.Collection, scope crm.FeedScope, cursor string, limit int) (crm.ChangePage, error) {
	h.once.Do(h.hook)
	return h.CRM.Changes(ctx, c, scope, cursor, limit)
}

// Google changes a contact between the pass's read and its write: the
// write is refused for the stale etag, and the pass re-reads, re-plans
// and retries that contact, keeping both sides' changes.
func TestStaleEtagIsReplannedInThePass(t *testing.T) {
	w := newWorld(t, store.ContactsSetup{Direction: "both"}, nil)
	w.pass()
	dan, _ := w.CRM.Contact(w.Ctx, "", w.ids.Contacts["dan"])
	dan.Phones = []string{"+1 555 0199"}
	if _, err := w.CRM.UpdateContact(w.Ctx, crm.Write{}, dan); err != nil {
		t.Fatal(err)
	}
	w.engine.CRM = &hookCRM{CRM: w.CRM, hook: func() {
		p := w.googleByEmail()["dan@client.test"]
		if _, err := w.ppl.People.UpdateContact(p.ResourceName, &people.Person{Etag: p.Etag,
			Names: []*people.Name{{GivenName: "Daniel", FamilyName: "Dee"}}}).UpdatePersonFields("names").Do(); err != nil {
			t.Error(err)
		}
	}}
	r := w.pass()
	g := w.googleByEmail()["dan@client.test"]
	if r.Conflicts == 0 || g.Names[0].GivenName != "Daniel" || len(g.PhoneNumbers) != 1 || g.PhoneNumbers[0].Value != "+1 555 0199" {
		t.Errorf("Google after the retry: %s %v (pass %+v)", g.Names[0].GivenName, g.PhoneNumbers, r)
	}
}

func TestOptionsTable(t *testing.T) {
	for _, tc := range []struct {
		in      store.ContactsSetup
		dir     twoway.Direction
		onA     twoway.OnDelete
		invalid bool
	}{
		{store.ContactsSetup{}, twoway.Off, twoway.Propagate, false},
		{store.ContactsSetup{Direction: "off"}, twoway.Off, twoway.Propagate, false},
		{store.ContactsSetup{Direction: "crm-to-google"}, twoway.BToA, twoway.Propagate, false},
		{store.ContactsSetup{Direction: "google-to-crm", OnGoogleDelete: "keep"}, twoway.AToB, twoway.Keep, false},
		{store.ContactsSetup{Direction: "both", SetID: "s1", OnGoogleDelete: "remove-from-set"}, twoway.Both, twoway.Detach, false},
		{store.ContactsSetup{Direction: "both", OnGoogleDelete: "remove-from-set"}, 0, 0, true}, // no set to remove from
		{store.ContactsSetup{Direction: "sideways"}, 0, 0, true},
		{store.ContactsSetup{Direction: "both", OnGoogleDelete: "shred"}, 0, 0, true},
	} {
		o, err := contactsync.Options(tc.in)
		if (err != nil) != tc.invalid {
			t.Errorf("%+v: error %v, want invalid %v", tc.in, err, tc.invalid)
			continue
		}
		if !tc.invalid && (o.Direction != tc.dir || o.OnDeleteA != tc.onA || o.OneWay["birthday"] != twoway.B) {
			t.Errorf("%+v: %+v", tc.in, o)
		}
	}
}

// A pass that finds nothing changed on either side stops there: it reads
// neither the link table nor anything else that grows with the address
// book (most scheduled passes are such passes). A change is still seen.
func TestQuietPassReadsDoNotGrowWithTheAddressBook(t *testing.T) {
	var seed []fakegoogle.SeedContact
	for i := range 60 {
		seed = append(seed, fakegoogle.SeedContact{Given: "Pat", Family: fmt.Sprint(i), Emails: []string{fmt.Sprintf("pat%d@else.test", i)}})
	}
	w := newWorld(t, store.ContactsSetup{Direction: "both", CreateType: "contact", OnGoogleDelete: "delete"}, seed)
	syncpasstest.Quiet(t, w.World, w.pass, ann, "contacts", 60, func() {
		if _, err := w.Google.AddContact(fakegoogle.SeedContact{User: ann, Given: "Quinn", Emails: []string{"quinn@else.test"}}); err != nil {
			t.Fatal(err)
		}
	})
}
