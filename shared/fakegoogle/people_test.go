package fakegoogle_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/option"
	people "google.golang.org/api/people/v1"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/fakegoogle"
)

func peopleAs(t testing.TB, f *fakegoogle.Server, token string) *people.Service {
	t.Helper()
	svc, err := people.NewService(context.Background(), option.WithEndpoint(f.URL()+"/"),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func peopleFor(t testing.TB, f *fakegoogle.Server, email string) *people.Service {
	return peopleAs(t, f, f.Token(email, fakegoogle.ScopeContacts))
}

func newPerson(given, family, email string) *people.Person {
	return &people.Person{
		Names:          []*people.Name{{GivenName: given, FamilyName: family}},
		EmailAddresses: []*people.EmailAddress{{Value: email, Type: "work"}},
	}
}

const fields = "names,emailAddresses,phoneNumbers,birthdays,memberships,metadata"

// listAll pages through connections.list and returns the people, the sync
// token and how many pages carried one.
func listAll(t *testing.T, svc *people.Service, syncToken string, pageSize int64) ([]*people.Person, string, []bool) {
	t.Helper()
	var out []*people.Person
	var tokenOnPage []bool
	pageToken, next := "", ""
	for {
		call := svc.People.Connections.List("people/me").PersonFields(fields).RequestSyncToken(true).PageSize(pageSize)
		if syncToken != "" {
			call = call.SyncToken(syncToken)
		}
		if pageToken != "" {
			call = call.PageToken(pageToken)
		}
		resp, err := call.Do()
		if err != nil {
			t.Fatalf("connections.list: %v", err)
		}
		out = append(out, resp.Connections...)
		tokenOnPage = append(tokenOnPage, resp.NextSyncToken != "")
		next = resp.NextSyncToken
		if resp.NextPageToken == "" {
			return out, next, tokenOnPage
		}
		pageToken = resp.NextPageToken
	}
}

func TestPeopleCreateGetUpdateChecksEtag(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := peopleFor(t, f, "ann@acme.test")
	p, err := svc.People.CreateContact(newPerson("Carol", "Client", "carol@client.test")).PersonFields(fields).Do()
	if err != nil {
		t.Fatal(err)
	}
	if p.Names[0].DisplayName != "Carol Client" || p.Etag == "" || len(p.Memberships) != 1 ||
		p.Memberships[0].ContactGroupMembership.ContactGroupResourceName != "contactGroups/myContacts" {
		t.Fatalf("created %+v: want a display name, an etag and myContacts membership", p)
	}
	got, err := svc.People.Get(p.ResourceName).PersonFields("emailAddresses").Do()
	if err != nil || got.EmailAddresses[0].Value != "carol@client.test" || got.Names != nil {
		t.Fatalf("get with personFields=emailAddresses: %+v, %v", got, err)
	}

	upd := &people.Person{Etag: p.Etag, PhoneNumbers: []*people.PhoneNumber{{Value: "+1 555 0100"}}}
	p2, err := svc.People.UpdateContact(p.ResourceName, upd).UpdatePersonFields("phoneNumbers").PersonFields(fields).Do()
	if err != nil {
		t.Fatal(err)
	}
	if p2.Etag == p.Etag || p2.PhoneNumbers[0].Value != "+1 555 0100" || p2.Names[0].GivenName != "Carol" {
		t.Fatalf("update: %+v: want a new etag, the phone, and the name kept", p2)
	}
	// The first etag is stale now.
	_, err = svc.People.UpdateContact(p.ResourceName, upd).UpdatePersonFields("phoneNumbers").Do()
	ge := apiErr(t, err, 400, "failedPrecondition")
	if ge.Message == "" {
		t.Error("no message")
	}
	// No etag, no updatePersonFields, and fields the fake cannot keep.
	_, err = svc.People.UpdateContact(p.ResourceName, &people.Person{PhoneNumbers: upd.PhoneNumbers}).UpdatePersonFields("phoneNumbers").Do()
	apiErr(t, err, 400, "")
	_, err = svc.People.UpdateContact(p.ResourceName, &people.Person{Etag: p2.Etag}).Do()
	apiErr(t, err, 400, "invalidArgument")
	_, err = svc.People.UpdateContact(p.ResourceName, &people.Person{Etag: p2.Etag}).UpdatePersonFields("photos").Do()
	apiErr(t, err, 400, "invalidArgument")

	if _, err := svc.People.DeleteContact(p.ResourceName).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = svc.People.Get(p.ResourceName).PersonFields("names").Do()
	apiErr(t, err, 404, "notFound")
	_, err = svc.People.DeleteContact(p.ResourceName).Do()
	apiErr(t, err, 404, "notFound")
}

func TestPeopleConnectionsRequirePersonFields(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := peopleFor(t, f, "ann@acme.test")
	_, err := svc.People.Connections.List("people/me").Do()
	apiErr(t, err, 400, "invalidArgument")
	_, err = svc.People.Connections.List("people/me").PersonFields("names,shoeSize").Do()
	apiErr(t, err, 400, "invalidArgument")
}

func TestPeopleSyncTokenOnlyOnLastPage(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := peopleFor(t, f, "ann@acme.test")
	for i := range 5 {
		if _, err := svc.People.CreateContact(newPerson("P", fmt.Sprint(i), fmt.Sprintf("p%d@x.test", i))).Do(); err != nil {
			t.Fatal(err)
		}
	}
	got, tok, onPage := listAll(t, svc, "", 2)
	if len(got) != 5 || tok == "" || !slices.Equal(onPage, []bool{false, false, true}) {
		t.Fatalf("5 people over pages of 2: got %d people, sync token on pages %v", len(got), onPage)
	}
	// A page token with other parameters is refused.
	first, _ := svc.People.Connections.List("people/me").PersonFields(fields).PageSize(2).Do()
	_, err := svc.People.Connections.List("people/me").PersonFields("names").PageSize(2).PageToken(first.NextPageToken).Do()
	apiErr(t, err, 400, "invalidArgument")
	// Without requestSyncToken no token is issued.
	plain, _ := svc.People.Connections.List("people/me").PersonFields(fields).Do()
	if plain.NextSyncToken != "" || plain.TotalPeople != 5 {
		t.Errorf("without requestSyncToken: token %q, totalPeople %d", plain.NextSyncToken, plain.TotalPeople)
	}
}

func TestPeopleIncrementalSyncReportsChangesAndDeletions(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := peopleFor(t, f, "ann@acme.test")
	a, _ := svc.People.CreateContact(newPerson("A", "One", "a@x.test")).PersonFields(fields).Do()
	b, _ := svc.People.CreateContact(newPerson("B", "Two", "b@x.test")).Do()
	svc.People.CreateContact(newPerson("C", "Three", "c@x.test")).Do()
	_, tok, _ := listAll(t, svc, "", 100)

	changes, tok2, _ := listAll(t, svc, tok, 100)
	if len(changes) != 0 || tok2 == "" {
		t.Fatalf("no changes: got %d people, token %q", len(changes), tok2)
	}
	svc.People.UpdateContact(a.ResourceName, &people.Person{Etag: a.Etag, Names: []*people.Name{{GivenName: "Alice"}}}).UpdatePersonFields("names").Do()
	svc.People.DeleteContact(b.ResourceName).Do()
	changes, tok3, _ := listAll(t, svc, tok2, 100)
	if len(changes) != 2 {
		t.Fatalf("after an update and a delete: %d changes, want 2", len(changes))
	}
	byName := map[string]*people.Person{}
	for _, p := range changes {
		byName[p.ResourceName] = p
	}
	if p := byName[a.ResourceName]; p == nil || p.Names[0].GivenName != "Alice" || p.Metadata.Deleted {
		t.Errorf("updated person: %+v", p)
	}
	if p := byName[b.ResourceName]; p == nil || p.Metadata == nil || !p.Metadata.Deleted {
		t.Errorf("deleted person: %+v, want metadata.deleted", p)
	}
	// A full listing does not include the deleted person.
	all, _, _ := listAll(t, svc, "", 100)
	if len(all) != 2 {
		t.Errorf("full listing: %d people, want 2", len(all))
	}
	if changes, _, _ := listAll(t, svc, tok3, 100); len(changes) != 0 {
		t.Errorf("nothing changed since the last token: %d changes", len(changes))
	}
}

func TestPeopleExpiredSyncTokenIsFailedPrecondition(t *testing.T) {
	clk := clock.NewFake(t0)
	f := newFake(t, fakegoogle.Options{Clock: clk, PeopleSyncTokenLifetime: 7 * 24 * time.Hour})
	svc := peopleFor(t, f, "ann@acme.test")
	svc.People.CreateContact(newPerson("A", "One", "a@x.test")).Do()
	_, tok, _ := listAll(t, svc, "", 100)
	clk.Advance(6 * 24 * time.Hour)
	svc = peopleFor(t, f, "ann@acme.test") // a fresh access token
	if _, _, _ = listAll(t, svc, tok, 100); t.Failed() {
		return
	}
	clk.Advance(24*time.Hour + time.Second)
	svc = peopleFor(t, f, "ann@acme.test")
	_, err := svc.People.Connections.List("people/me").PersonFields(fields).RequestSyncToken(true).SyncToken(tok).Do()
	ge := apiErr(t, err, 400, "failedPrecondition")
	if len(ge.Details) != 1 || fmt.Sprint(ge.Details[0]) == "" {
		t.Fatalf("details %v, want one ErrorInfo", ge.Details)
	}
	info, _ := ge.Details[0].(map[string]any)
	if info["reason"] != "EXPIRED_SYNC_TOKEN" || info["@type"] != "type.googleapis.com/google.rpc.ErrorInfo" {
		t.Errorf("detail %v, want ErrorInfo EXPIRED_SYNC_TOKEN", info)
	}
	// Invalidation has the same effect on a fresh token.
	_, tok, _ = listAll(t, svc, "", 100)
	f.InvalidateSyncTokens("ann@acme.test")
	_, err = svc.People.Connections.List("people/me").PersonFields(fields).RequestSyncToken(true).SyncToken(tok).Do()
	apiErr(t, err, 400, "failedPrecondition")
}

func TestPeopleSyncSeesWritesAfterThePropagationDelay(t *testing.T) {
	clk := clock.NewFake(t0)
	f := newFake(t, fakegoogle.Options{Clock: clk, PeopleSyncDelay: 2 * time.Minute})
	svc := peopleFor(t, f, "ann@acme.test")
	_, tok, _ := listAll(t, svc, "", 100)
	svc.People.CreateContact(newPerson("A", "One", "a@x.test")).Do()
	changes, tok, _ := listAll(t, svc, tok, 100)
	if len(changes) != 0 {
		t.Fatalf("a write within the delay showed up: %d changes", len(changes))
	}
	clk.Advance(2 * time.Minute)
	changes, _, _ = listAll(t, svc, tok, 100)
	if len(changes) != 1 {
		t.Fatalf("after the delay: %d changes, want the one held back", len(changes))
	}
}

func TestPeopleBatchLimits(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := peopleFor(t, f, "ann@acme.test")
	var create []*people.ContactToCreate
	for i := range 201 {
		create = append(create, &people.ContactToCreate{ContactPerson: newPerson("P", fmt.Sprint(i), fmt.Sprintf("p%d@x.test", i))})
	}
	_, err := svc.People.BatchCreateContacts(&people.BatchCreateContactsRequest{Contacts: create, ReadMask: "names"}).Do()
	apiErr(t, err, 400, "invalidArgument")
	resp, err := svc.People.BatchCreateContacts(&people.BatchCreateContactsRequest{Contacts: create[:200], ReadMask: "names,metadata"}).Do()
	if err != nil || len(resp.CreatedPeople) != 200 {
		t.Fatalf("200 creates: %v", err)
	}
	upd := map[string]people.Person{}
	var names []string
	for _, pr := range resp.CreatedPeople {
		names = append(names, pr.Person.ResourceName)
		upd[pr.Person.ResourceName] = people.Person{Etag: pr.Person.Etag, Biographies: []*people.Biography{{Value: "vip"}}}
	}
	ur, err := svc.People.BatchUpdateContacts(&people.BatchUpdateContactsRequest{Contacts: upd, UpdateMask: "biographies", ReadMask: "biographies"}).Do()
	if err != nil || len(ur.UpdateResult) != 200 || ur.UpdateResult[names[0]].Person.Biographies[0].Value != "vip" {
		t.Fatalf("200 updates: %v", err)
	}
	// The etags are stale now: the whole batch is refused, nothing changes.
	_, err = svc.People.BatchUpdateContacts(&people.BatchUpdateContactsRequest{Contacts: upd, UpdateMask: "biographies", ReadMask: "biographies"}).Do()
	apiErr(t, err, 400, "failedPrecondition")

	_, err = svc.People.BatchDeleteContacts(&people.BatchDeleteContactsRequest{ResourceNames: slices.Repeat(names[:1], 501)}).Do()
	apiErr(t, err, 400, "invalidArgument")
	if _, err := svc.People.BatchDeleteContacts(&people.BatchDeleteContactsRequest{ResourceNames: names}).Do(); err != nil {
		t.Fatal(err)
	}
	all, _, _ := listAll(t, svc, "", 1000)
	if len(all) != 0 {
		t.Errorf("%d people left after deleting all", len(all))
	}
}

func TestContactGroups(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := peopleFor(t, f, "ann@acme.test")
	g, err := svc.ContactGroups.Create(&people.CreateContactGroupRequest{ContactGroup: &people.ContactGroup{Name: "CRM"}}).Do()
	if err != nil || g.GroupType != "USER_CONTACT_GROUP" {
		t.Fatalf("create: %+v, %v", g, err)
	}
	_, err = svc.ContactGroups.Create(&people.CreateContactGroupRequest{ContactGroup: &people.ContactGroup{Name: "crm"}}).Do()
	apiErr(t, err, 409, "duplicate")

	p, _ := svc.People.CreateContact(newPerson("A", "One", "a@x.test")).Do()
	mod, err := svc.ContactGroups.Members.Modify(g.ResourceName, &people.ModifyContactGroupMembersRequest{
		ResourceNamesToAdd: []string{p.ResourceName, "people/c404"}}).Do()
	if err != nil || !slices.Equal(mod.NotFoundResourceNames, []string{"people/c404"}) {
		t.Fatalf("modify: %+v, %v", mod, err)
	}
	got, err := svc.ContactGroups.Get(g.ResourceName).MaxMembers(10).Do()
	if err != nil || got.MemberCount != 1 || !slices.Equal(got.MemberResourceNames, []string{p.ResourceName}) {
		t.Fatalf("get with members: %+v, %v", got, err)
	}
	// Membership is part of the person, and changes its etag.
	pp, _ := svc.People.Get(p.ResourceName).PersonFields("memberships").Do()
	if len(pp.Memberships) != 2 || pp.Etag == p.Etag {
		t.Errorf("person after joining a group: %+v", pp)
	}
	// System groups other than myContacts and starred take no members.
	_, err = svc.ContactGroups.Members.Modify("contactGroups/family", &people.ModifyContactGroupMembersRequest{ResourceNamesToAdd: []string{p.ResourceName}}).Do()
	apiErr(t, err, 400, "badRequest")
	if _, err := svc.ContactGroups.Members.Modify("contactGroups/starred", &people.ModifyContactGroupMembersRequest{ResourceNamesToAdd: []string{p.ResourceName}}).Do(); err != nil {
		t.Errorf("starring: %v", err)
	}
	// The last group cannot be removed.
	q, _ := svc.People.CreateContact(newPerson("B", "Two", "b@x.test")).Do()
	mod, err = svc.ContactGroups.Members.Modify("contactGroups/myContacts", &people.ModifyContactGroupMembersRequest{ResourceNamesToRemove: []string{q.ResourceName}}).Do()
	if err != nil || !slices.Equal(mod.CanNotRemoveLastContactGroupResourceNames, []string{q.ResourceName}) {
		t.Errorf("removing the last group: %+v, %v", mod, err)
	}
	list, err := svc.ContactGroups.List().Do()
	if err != nil || len(list.ContactGroups) != 9 {
		t.Fatalf("list: %v groups, %v; want 8 system groups and CRM", len(list.ContactGroups), err)
	}
	_, err = svc.ContactGroups.Get("contactGroups/nope").Do()
	apiErr(t, err, 404, "notFound")
}

func TestPeopleScopesAndIsolation(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	ro := peopleAs(t, f, f.Token("ann@acme.test", fakegoogle.ScopeContactsRead))
	_, err := ro.People.CreateContact(newPerson("A", "One", "a@x.test")).Do()
	apiErr(t, err, 403, "insufficientPermissions")
	if _, err := ro.People.Connections.List("people/me").PersonFields("names").Do(); err != nil {
		t.Errorf("reading with contacts.readonly: %v", err)
	}
	gm := peopleAs(t, f, f.Token("ann@acme.test", fakegoogle.ScopeGmailModify))
	_, err = gm.People.Connections.List("people/me").PersonFields("names").Do()
	apiErr(t, err, 403, "insufficientPermissions")
	// Bob cannot see Ann's contacts.
	p, _ := peopleFor(t, f, "ann@acme.test").People.CreateContact(newPerson("A", "One", "a@x.test")).Do()
	_, err = peopleFor(t, f, "bob@acme.test").People.Get(p.ResourceName).PersonFields("names").Do()
	apiErr(t, err, 404, "notFound")
	me, err := peopleFor(t, f, "bob@acme.test").People.Get("people/me").PersonFields("emailAddresses").Do()
	if err != nil || me.EmailAddresses[0].Value != "bob@acme.test" {
		t.Errorf("people/me: %+v, %v", me, err)
	}
}

func TestAddContactSeedsAGroup(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	name, err := f.AddContact(fakegoogle.SeedContact{User: "ann@acme.test", Given: "Carol", Family: "Client",
		Emails: []string{"carol@client.test"}, Groups: []string{"CRM"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := peopleFor(t, f, "ann@acme.test").People.Get(name).PersonFields("memberships,emailAddresses").Do()
	if err != nil || len(p.Memberships) != 1 || p.EmailAddresses[0].Value != "carol@client.test" {
		t.Fatalf("seeded contact: %+v, %v", p, err)
	}
	if _, err := f.AddContact(fakegoogle.SeedContact{User: "nobody@acme.test"}); err == nil {
		t.Error("a contact for an unknown user was accepted")
	}
}

// As strict as Google about contacts: names and birthdays are singletons
// for contact sources (the Person resource,
// https://developers.google.com/people/api/rest/v1/people); the etag of
// an update may be given in metadata.sources for the contact source
// (people.updateContact documents it); an update naming memberships must
// carry some. A batch with one bad contact changes nothing.
func TestPeopleIsStrictAboutContacts(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := peopleFor(t, f, "ann@acme.test")
	two := &people.Person{Names: []*people.Name{{GivenName: "A"}, {GivenName: "B"}}}
	_, err := svc.People.CreateContact(two).Do()
	apiErr(t, err, 400, "")
	_, err = svc.People.CreateContact(&people.Person{Names: []*people.Name{{GivenName: "Ann"}},
		Birthdays: []*people.Birthday{{Text: "1 May"}, {Text: "2 May"}}}).Do()
	apiErr(t, err, 400, "")

	p, err := svc.People.CreateContact(&people.Person{Names: []*people.Name{{GivenName: "Carol"}}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	// The etag in metadata.sources, not in person.etag.
	upd := &people.Person{Names: []*people.Name{{GivenName: "Caroline"}},
		Metadata: &people.PersonMetadata{Sources: []*people.Source{{Type: "CONTACT", Id: strings.TrimPrefix(p.ResourceName, "people/"), Etag: p.Etag}}}}
	got, err := svc.People.UpdateContact(p.ResourceName, upd).UpdatePersonFields("names").Do()
	if err != nil || got.Names[0].GivenName != "Caroline" {
		t.Fatalf("update with the source's etag: %v, %v", got, err)
	}
	stale := &people.Person{Names: []*people.Name{{GivenName: "Old"}},
		Metadata: &people.PersonMetadata{Sources: []*people.Source{{Type: "CONTACT", Etag: p.Etag}}}}
	_, err = svc.People.UpdateContact(p.ResourceName, stale).UpdatePersonFields("names").Do()
	apiErr(t, err, 400, "failedPrecondition")
	_, err = svc.People.UpdateContact(p.ResourceName, &people.Person{Names: []*people.Name{{GivenName: "X"}}}).UpdatePersonFields("names").Do()
	apiErr(t, err, 400, "")

	// memberships named, none given.
	_, err = svc.People.UpdateContact(p.ResourceName, &people.Person{Etag: got.Etag}).UpdatePersonFields("memberships").Do()
	apiErr(t, err, 400, "")
	// Two names through an update.
	_, err = svc.People.UpdateContact(p.ResourceName, &people.Person{Etag: got.Etag, Names: two.Names}).UpdatePersonFields("names").Do()
	apiErr(t, err, 400, "")

	// A batch with one contact of two names changes neither.
	q, _ := svc.People.CreateContact(&people.Person{Names: []*people.Name{{GivenName: "Dan"}}}).Do()
	_, err = svc.People.BatchUpdateContacts(&people.BatchUpdateContactsRequest{UpdateMask: "names", ReadMask: "names",
		Contacts: map[string]people.Person{got.ResourceName: {Etag: got.Etag, Names: []*people.Name{{GivenName: "Carla"}}},
			q.ResourceName: {Etag: q.Etag, Names: two.Names}}}).Do()
	apiErr(t, err, 400, "")
	if now, _ := svc.People.Get(got.ResourceName).PersonFields("names").Do(); now.Names[0].GivenName != "Caroline" {
		t.Errorf("a refused batch changed %s to %q", got.ResourceName, now.Names[0].GivenName)
	}
}

// The first page of a full sync has its own quota (people.connections.list:
// "If the quota is exceeded, a 429 error will be returned"); incremental
// reads with a sync token do not count against it.
func TestFullSyncFirstPageQuota(t *testing.T) {
	clk := clock.NewFake(t0)
	f := newFake(t, fakegoogle.Options{Clock: clk, FullSyncFirstPagesPerMinute: 1, AccessTokenLifetime: 24 * time.Hour})
	svc := peopleFor(t, f, "ann@acme.test")
	full := func() (*people.ListConnectionsResponse, error) {
		return svc.People.Connections.List("people/me").PersonFields("names").RequestSyncToken(true).Do()
	}
	first, err := full()
	if err != nil {
		t.Fatal(err)
	}
	_, err = full()
	ge := apiErr(t, err, 429, "rateLimitExceeded")
	if !strings.Contains(ge.Message, "Full Sync Read Requests") {
		t.Errorf("429 message %q", ge.Message)
	}
	if _, err := svc.People.Connections.List("people/me").PersonFields("names").RequestSyncToken(true).SyncToken(first.NextSyncToken).Do(); err != nil {
		t.Errorf("an incremental read within the minute: %v", err)
	}
	clk.Advance(time.Minute)
	if _, err := full(); err != nil {
		t.Errorf("a full sync a minute later: %v", err)
	}
}
