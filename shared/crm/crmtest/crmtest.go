// Package crmtest is the CRM port's conformance suite: one set of tests
// that every implementation of crm.CRM passes (refcrm in-process, restcrm
// against refcrm over HTTP, and any CRM that serves the API).
package crmtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/failure"
)

// Subject is a CRM under test, with the administration the suite needs to
// set it up (users are not written through the port).
type Subject interface {
	crm.CRM
	CreateUser(ctx context.Context, u crm.User) (crm.User, error)
	SetIntegration(ctx context.Context, id string, enabled bool) (crm.User, error)
}

// Factory returns a fresh, empty CRM for one test, whose notes are limited
// to MaxNoteBytes.
type Factory func(t *testing.T) Subject

// MaxNoteBytes is the note size limit factories configure.
const MaxNoteBytes = 2 << 20

var ctx = context.Background()

// Run runs the whole suite against the CRMs new makes.
func Run(t *testing.T, new Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, c Subject)
	}{
		{"Users", testUsers},
		{"FindContactsMatchesExactlyAcrossAddresses", testFind},
		{"OfficeSecurity", testOfficeSecurity},
		{"UpdatePrecondition", testUpdatePrecondition},
		{"BadInputWritesNothing", testBadInput},
		{"SoftDeleteAndRestore", testSoftDelete},
		{"Sets", testSets},
		{"ChangeFeed", testFeed},
		{"ChangeFeedUnderConcurrentWrites", testFeedConcurrent},
		{"ChangeFeedOfASet", testFeedOfSet},
		{"IdempotentCreates", testIdempotentCreates},
		{"Notes", testNotes},
		{"NoteLimits", testNoteLimits},
		{"EmailActivitiesAndReview", testEmailActivities},
		{"Activities", testActivities},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, new(t))
		})
	}
}

// must(f())(t) is f's result, failing the test on f's error.
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wantKind(t *testing.T, err error, k failure.Kind, mention string) {
	t.Helper()
	if failure.KindOf(err) != k || err == nil {
		t.Fatalf("error %v (kind %v), want kind %v", err, failure.KindOf(err), k)
	}
	if mention != "" && !strings.Contains(err.Error(), mention) {
		t.Errorf("error %q does not name %q", err, mention)
	}
}

func addUser(t *testing.T, c Subject, email string, offices ...string) crm.User {
	t.Helper()
	return must(c.CreateUser(ctx, crm.User{Email: email, Name: email, IntegrationEnabled: true, Domains: []string{"firm.test"}, Offices: offices}))(t)
}

func addContact(t *testing.T, c Subject, first string, emails ...string) crm.Contact {
	t.Helper()
	return must(c.CreateContact(ctx, crm.Write{}, crm.Contact{FirstName: first, LastName: "Test", Emails: emails}))(t)
}

func ids(cs []crm.Contact) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	slices.Sort(out)
	return out
}

func testUsers(t *testing.T, c Subject) {
	own := addContact(t, c, "Ann", "ann@firm.test")
	u := must(c.CreateUser(ctx, crm.User{Email: "Ann@Firm.test", Name: "Ann", ContactID: own.ID, Domains: []string{"firm.test"}}))(t)
	if _, err := c.CreateUser(ctx, crm.User{Email: "ann@firm.test"}); failure.KindOf(err) != failure.Conflict {
		t.Errorf("a second user with the same address: %v, want Conflict", err)
	}
	got := must(c.UserByEmail(ctx, "ANN@firm.test"))(t)
	if got.ID != u.ID || got.ContactID != own.ID || got.IntegrationEnabled {
		t.Errorf("UserByEmail = %+v, want %+v", got, u)
	}
	if _, err := c.UserByEmail(ctx, "nobody@firm.test"); !failure.Is(err, failure.NotFound) {
		t.Errorf("unknown address: %v, want NotFound", err)
	}
	must(c.SetIntegration(ctx, u.ID, true))(t)
	if got := must(c.User(ctx, u.ID))(t); !got.IntegrationEnabled || !slices.Equal(got.Domains, []string{"firm.test"}) {
		t.Errorf("User after granting the right = %+v", got)
	}
	if us := must(c.Users(ctx))(t); len(us) != 1 {
		t.Errorf("Users = %d, want 1", len(us))
	}
	if _, err := c.User(ctx, "nope"); !failure.Is(err, failure.NotFound) {
		t.Errorf("User(nope) = %v", err)
	}
}

func testFind(t *testing.T, c Subject) {
	carol := addContact(t, c, "Carol", "carol@client.test", "Carol.Work@Corp.test")
	addContact(t, c, "Caroline", "caroline@client.test")
	twin := addContact(t, c, "Twin", "CAROL@client.test")
	if got := ids(must(c.FindContacts(ctx, "", "carol@CLIENT.test"))(t)); !slices.Equal(got, ids([]crm.Contact{carol, twin})) {
		t.Errorf("case-insensitive exact match found %v", got)
	}
	if got := must(c.FindContacts(ctx, "", "carol.work@corp.test"))(t); len(got) != 1 || got[0].ID != carol.ID {
		t.Errorf("match on a second address: %v", ids(got))
	}
	if got := must(c.FindContacts(ctx, "", "arol@client.test"))(t); len(got) != 0 {
		t.Errorf("a substring matched: %v", ids(got))
	}
	// Changing addresses moves the lookup.
	carol.Emails = []string{"carol@client.test", "carol@new.test"}
	must(c.UpdateContact(ctx, crm.Write{}, carol))(t)
	if got := must(c.FindContacts(ctx, "", "carol.work@corp.test"))(t); len(got) != 0 {
		t.Errorf("a removed address still finds %v", ids(got))
	}
	if got := must(c.FindContacts(ctx, "", "CAROL@new.test"))(t); len(got) != 1 || got[0].ID != carol.ID {
		t.Errorf("an added address finds %v", ids(got))
	}
	_, err := c.FindContacts(ctx, "", "not an address")
	wantKind(t, err, failure.Invalid, "email")
}

func testOfficeSecurity(t *testing.T, c Subject) {
	east := addUser(t, c, "east@firm.test", "east")
	west := addUser(t, c, "west@firm.test", "west")
	hidden := must(c.CreateContact(ctx, crm.Write{}, crm.Contact{FirstName: "E", Emails: []string{"shared@client.test"}, Offices: []string{"east"}}))(t)
	open := must(c.CreateContact(ctx, crm.Write{}, crm.Contact{FirstName: "O", Emails: []string{"shared@client.test"}}))(t)
	if got := ids(must(c.FindContacts(ctx, east.ID, "shared@client.test"))(t)); !slices.Equal(got, ids([]crm.Contact{hidden, open})) {
		t.Errorf("east sees %v", got)
	}
	if got := ids(must(c.FindContacts(ctx, west.ID, "shared@client.test"))(t)); !slices.Equal(got, []string{open.ID}) {
		t.Errorf("west sees %v, want only the contact of no office", got)
	}
	_, err := c.Contact(ctx, west.ID, hidden.ID)
	wantKind(t, err, failure.NotFound, "")
	_, err = c.PostNote(ctx, crm.Write{AsUser: west.ID, Origin: crm.Origin}, crm.Note{ContactID: hidden.ID, Email: crm.Email{Subject: "x", Date: time.Now()}})
	wantKind(t, err, failure.NotFound, "")
	if ns := must(c.Notes(ctx, "", hidden.ID))(t); len(ns) != 0 {
		t.Errorf("a note reached a contact the poster may not access")
	}
	_, err = c.UpdateContact(ctx, crm.Write{AsUser: west.ID}, hidden)
	wantKind(t, err, failure.NotFound, "")
	if got := ids(must(c.ListContacts(ctx, west.ID, crm.ContactQuery{}))(t)); !slices.Equal(got, []string{open.ID}) {
		t.Errorf("west lists %v", got)
	}
}

func testUpdatePrecondition(t *testing.T, c Subject) {
	v1 := addContact(t, c, "Dora", "dora@client.test")
	v1.Phones = []string{"+1 555 0100"}
	v1.BirthDate = "1970-05-04"
	v2 := must(c.UpdateContact(ctx, crm.Write{Origin: crm.Origin}, v1))(t)
	if v2.Version <= v1.Version || v2.BirthDate != "1970-05-04" || v2.Phones[0] != "+1 555 0100" {
		t.Fatalf("update: %+v", v2)
	}
	stale := v1
	stale.FirstName = "Stale"
	_, err := c.UpdateContact(ctx, crm.Write{}, stale)
	wantKind(t, err, failure.Conflict, "")
	if !errors.Is(err, crm.ErrStaleVersion) {
		t.Errorf("stale update: %v does not wrap ErrStaleVersion", err)
	}
	if got := must(c.Contact(ctx, "", v1.ID))(t); got.FirstName != "Dora" || got.Version != v2.Version {
		t.Errorf("a refused update changed the contact: %+v", got)
	}
	// Clearing a list clears it.
	v2.Phones = nil
	if v3 := must(c.UpdateContact(ctx, crm.Write{}, v2))(t); len(v3.Phones) != 0 {
		t.Errorf("phones after clearing: %v", v3.Phones)
	}
	_, err = c.UpdateContact(ctx, crm.Write{}, crm.Contact{ID: "missing", FirstName: "x", Version: 1})
	wantKind(t, err, failure.NotFound, "")
}

func testBadInput(t *testing.T, c Subject) {
	before := must(c.Changes(ctx, crm.ContactsFeed, crm.FeedScope{}, "", 100))(t)
	for field, ct := range map[string]crm.Contact{
		"emails[1]": {FirstName: "A", Emails: []string{"a@x.test", "not-an-address"}},
		"birthDate": {FirstName: "A", BirthDate: "1970-13-45"},
		"type":      {FirstName: "A", Type: "robot"},
		"sets[0]":   {FirstName: "A", Sets: []string{"no-such-set"}},
	} {
		_, err := c.CreateContact(ctx, crm.Write{}, ct)
		wantKind(t, err, failure.Invalid, field)
	}
	after := must(c.Changes(ctx, crm.ContactsFeed, crm.FeedScope{}, before.Cursor, 100))(t)
	if len(after.Changes) != 0 {
		t.Errorf("refused writes made %d changes", len(after.Changes))
	}
	if cs := must(c.ListContacts(ctx, "", crm.ContactQuery{}))(t); len(cs) != 0 {
		t.Errorf("refused writes left %d contacts", len(cs))
	}
	_, err := c.Changes(ctx, crm.ContactsFeed, crm.FeedScope{}, "garbage", 10)
	wantKind(t, err, failure.Invalid, "cursor")
}

func testSoftDelete(t *testing.T, c Subject) {
	e := addContact(t, c, "Eve", "eve@client.test")
	_, err := c.DeleteContact(ctx, crm.Write{}, e.ID, e.Version+5)
	wantKind(t, err, failure.Conflict, "")
	d := must(c.DeleteContact(ctx, crm.Write{}, e.ID, e.Version))(t)
	if !d.Deleted {
		t.Fatal("deleted contact not marked deleted")
	}
	if got := must(c.FindContacts(ctx, "", "eve@client.test"))(t); len(got) != 0 {
		t.Error("a deleted contact is still found by address")
	}
	if got := must(c.ListContacts(ctx, "", crm.ContactQuery{}))(t); len(got) != 0 {
		t.Error("a deleted contact is still listed")
	}
	if got := must(c.Contact(ctx, "", e.ID))(t); !got.Deleted {
		t.Error("Deleted Records: the contact cannot be read back")
	}
	r := must(c.RestoreContact(ctx, crm.Write{}, e.ID))(t)
	if r.Deleted || r.Version <= d.Version {
		t.Errorf("restored: %+v", r)
	}
	if got := must(c.FindContacts(ctx, "", "eve@client.test"))(t); len(got) != 1 {
		t.Error("a restored contact is not found")
	}
	_, err = c.RestoreContact(ctx, crm.Write{}, e.ID)
	wantKind(t, err, failure.Conflict, "")
}

func testSets(t *testing.T, c Subject) {
	vip := must(c.CreateSet(ctx, crm.Write{}, "VIP"))(t)
	_, err := c.CreateSet(ctx, crm.Write{}, "vip")
	wantKind(t, err, failure.Conflict, "")
	f := addContact(t, c, "Fay", "fay@client.test")
	g := addContact(t, c, "Gus", "gus@client.test")
	must(c.AddToSet(ctx, crm.Write{}, vip.ID, f.ID))(t)
	in := must(c.AddToSet(ctx, crm.Write{}, vip.ID, g.ID))(t)
	must(c.AddToSet(ctx, crm.Write{}, vip.ID, g.ID))(t) // twice is once
	if !slices.Equal(in.Sets, []string{vip.ID}) {
		t.Errorf("sets of a member: %v", in.Sets)
	}
	if got := ids(must(c.ListContacts(ctx, "", crm.ContactQuery{SetID: vip.ID}))(t)); !slices.Equal(got, ids([]crm.Contact{f, g})) {
		t.Errorf("set members %v", got)
	}
	out := must(c.RemoveFromSet(ctx, crm.Write{}, vip.ID, f.ID))(t)
	if len(out.Sets) != 0 {
		t.Errorf("sets after removal: %v", out.Sets)
	}
	if got := ids(must(c.ListContacts(ctx, "", crm.ContactQuery{SetID: vip.ID}))(t)); !slices.Equal(got, []string{g.ID}) {
		t.Errorf("set members after removal %v", got)
	}
	if sets := must(c.Sets(ctx))(t); len(sets) != 1 || sets[0].Name != "VIP" {
		t.Errorf("Sets = %v", sets)
	}
	_, err = c.AddToSet(ctx, crm.Write{}, "nope", g.ID)
	wantKind(t, err, failure.NotFound, "")
}

func testFeed(t *testing.T, c Subject) {
	start := must(c.Changes(ctx, crm.ContactsFeed, crm.FeedScope{}, "", 100))(t)
	a := addContact(t, c, "A", "a@client.test")
	b := must(c.CreateContact(ctx, crm.Write{Origin: crm.Origin}, crm.Contact{FirstName: "B"}))(t)
	a.LastName = "Changed"
	a2 := must(c.UpdateContact(ctx, crm.Write{Origin: crm.Origin}, a))(t)
	must(c.DeleteContact(ctx, crm.Write{}, b.ID, b.Version))(t)

	var got []crm.Change
	cur := start.Cursor
	for pages := 0; ; pages++ {
		p := must(c.Changes(ctx, crm.ContactsFeed, crm.FeedScope{}, cur, 3))(t)
		got = append(got, p.Changes...)
		if p.Cursor == cur && len(p.Changes) > 0 {
			t.Errorf("cursor %q did not move past %d changes", cur, len(p.Changes))
		}
		cur = p.Cursor
		if !p.More {
			break
		}
		if pages > 10 {
			t.Fatal("the feed never ends")
		}
	}
	type seen struct {
		id      string
		version int64
		ours    bool
		deleted bool
	}
	var order []seen
	for _, ch := range got {
		order = append(order, seen{ch.ID, ch.Version, ch.Origin == crm.Origin, ch.Deleted})
	}
	want := []seen{{a.ID, 1, false, false}, {b.ID, 1, true, false}, {a.ID, a2.Version, true, false}, {b.ID, 2, false, true}}
	if !slices.Equal(order, want) {
		t.Errorf("feed %+v\nwant %+v", order, want)
	}
	if p := must(c.Changes(ctx, crm.ContactsFeed, crm.FeedScope{}, cur, 100))(t); len(p.Changes) != 0 || p.Cursor != cur {
		t.Errorf("after the end: %d changes, cursor %q → %q", len(p.Changes), cur, p.Cursor)
	}
	_, err := c.Changes(ctx, "letters", crm.FeedScope{}, "", 10)
	wantKind(t, err, failure.Invalid, "collection")
}

// testFeedOfSet reads one set's contact changes: a contact's changes
// while it is in the set, joining it and leaving it; nothing of contacts
// that never were in it.
func testFeedOfSet(t *testing.T, c Subject) {
	set := must(c.CreateSet(ctx, crm.Write{}, "Book"))(t)
	start := must(c.Changes(ctx, crm.ContactsFeed, crm.FeedScope{Set: set.ID}, "", 100))(t)
	in := must(c.CreateContact(ctx, crm.Write{}, crm.Contact{FirstName: "In", Sets: []string{set.ID}}))(t)
	out := must(c.CreateContact(ctx, crm.Write{}, crm.Contact{FirstName: "Out"}))(t)
	out.LastName = "Edited"
	out = must(c.UpdateContact(ctx, crm.Write{}, out))(t)
	joined := must(c.AddToSet(ctx, crm.Write{}, set.ID, out.ID))(t)
	left := must(c.RemoveFromSet(ctx, crm.Write{}, set.ID, in.ID))(t)
	left.LastName = "Gone"
	must(c.UpdateContact(ctx, crm.Write{}, left))(t)
	must(c.DeleteContact(ctx, crm.Write{}, joined.ID, joined.Version))(t)

	p := must(c.Changes(ctx, crm.ContactsFeed, crm.FeedScope{Set: set.ID}, start.Cursor, 100))(t)
	var got []string
	for _, ch := range p.Changes {
		got = append(got, fmt.Sprintf("%s v%d deleted=%v", map[string]string{in.ID: "in", out.ID: "out"}[ch.ID], ch.Version, ch.Deleted))
	}
	want := []string{"in v1 deleted=false", fmt.Sprintf("out v%d deleted=false", joined.Version),
		fmt.Sprintf("in v%d deleted=false", left.Version), fmt.Sprintf("out v%d deleted=true", joined.Version+1)}
	if !slices.Equal(got, want) {
		t.Errorf("set feed %q\nwant %q", got, want)
	}
	_, err := c.Changes(ctx, crm.ContactsFeed, crm.FeedScope{Owner: "u1"}, "", 10)
	wantKind(t, err, failure.Invalid, "owner")
	_, err = c.Changes(ctx, crm.ActivitiesFeed, crm.FeedScope{Set: set.ID}, "", 10)
	wantKind(t, err, failure.Invalid, "set")
}

// testFeedConcurrent has writers edit their own contacts while readers
// page through the feed with their own cursors: each reader sees every
// version of every contact exactly once, each contact's in order.
func testFeedConcurrent(t *testing.T, c Subject) {
	const writers, edits, readers = 6, 8, 3
	start := must(c.Changes(ctx, crm.ContactsFeed, crm.FeedScope{}, "", 100))(t)
	done := make(chan struct{})
	errs := make(chan error, writers+readers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ct, err := c.CreateContact(ctx, crm.Write{}, crm.Contact{FirstName: fmt.Sprint("Writer", w)})
			for e := 0; err == nil && e < edits; e++ {
				ct.LastName = fmt.Sprint("Edit", e)
				ct, err = c.UpdateContact(ctx, crm.Write{}, ct)
			}
			if err != nil {
				errs <- fmt.Errorf("writer %d: %w", w, err)
			}
		}()
	}
	seen := make([][]crm.Change, readers)
	var rg sync.WaitGroup
	for r := range readers {
		rg.Add(1)
		go func() {
			defer rg.Done()
			cur := start.Cursor
			for finished := false; ; {
				select {
				case <-done:
					finished = true
				default:
				}
				p, err := c.Changes(ctx, crm.ContactsFeed, crm.FeedScope{}, cur, 5)
				if err != nil {
					errs <- fmt.Errorf("reader %d: %w", r, err)
					return
				}
				seen[r] = append(seen[r], p.Changes...)
				cur = p.Cursor
				if finished && !p.More {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	rg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for r, changes := range seen {
		last := map[string]int64{}
		for _, ch := range changes {
			if ch.Version != last[ch.ID]+1 {
				t.Errorf("reader %d: contact %s version %d follows version %d", r, ch.ID, ch.Version, last[ch.ID])
			}
			last[ch.ID] = ch.Version
		}
		if len(changes) != writers*(edits+1) || len(last) != writers {
			t.Errorf("reader %d saw %d changes of %d contacts, want %d of %d", r, len(changes), len(last), writers*(edits+1), writers)
		}
	}
}

func testIdempotentCreates(t *testing.T, c Subject) {
	w := crm.Write{Origin: crm.Origin, IdempotencyKey: "google:people/c1"}
	first := must(c.CreateContact(ctx, w, crm.Contact{FirstName: "Once", Emails: []string{"once@client.test"}}))(t)
	again := must(c.CreateContact(ctx, w, crm.Contact{FirstName: "Once", Emails: []string{"once@client.test"}}))(t)
	if again.ID != first.ID {
		t.Errorf("the same key made two contacts: %s and %s", first.ID, again.ID)
	}
	if got := must(c.FindContacts(ctx, "", "once@client.test"))(t); len(got) != 1 {
		t.Errorf("%d contacts for one key", len(got))
	}
}

func testNotes(t *testing.T, c Subject) {
	u := addUser(t, c, "ann@firm.test")
	h := addContact(t, c, "Hal", "hal@client.test")
	pol := must(c.CreateRecord(ctx, crm.Write{}, crm.Record{Type: crm.RecordPolicy, ContactID: h.ID, Title: "Life policy 42"}))(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 80_000) // 1.28 MB: several chunks
	n := crm.Note{ContactID: h.ID, Records: []string{pol.ID}, Email: crm.Email{
		Subject: "Portfolio", From: "hal@client.test", To: []string{"ann@firm.test"}, Date: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC),
		Text: "Hello", HTML: `<p onclick="steal()">Hello<script>alert(1)</script></p>`, GmailMessageID: "18c1",
		Attachments: []crm.Attachment{{Filename: "statement.pdf", ContentType: "application/pdf", Data: big}, {Filename: "empty.txt", Data: nil}},
	}}
	w := crm.Write{AsUser: u.ID, Origin: crm.Origin, IdempotencyKey: "ann:18c1:" + h.ID}
	first := must(c.PostNote(ctx, w, n))(t)
	second := must(c.PostNote(ctx, w, n))(t)
	if first.ID == "" || second.ID != first.ID {
		t.Fatalf("the same key posted twice: %s, %s", first.ID, second.ID)
	}
	notes := must(c.Notes(ctx, u.ID, h.ID))(t)
	if len(notes) != 1 {
		t.Fatalf("%d notes, want 1", len(notes))
	}
	got := notes[0]
	if strings.Contains(got.HTML, "script") || strings.Contains(got.HTML, "onclick") || !strings.Contains(got.HTML, "Hello") {
		t.Errorf("HTML not sanitized: %q", got.HTML)
	}
	if got.GmailMessageID != "18c1" || len(got.Attachments) != 2 || got.Attachments[0].Size != int64(len(big)) ||
		got.Attachments[0].Data != nil || !slices.Equal(got.Records, []string{pol.ID}) || got.Author != u.ID {
		t.Errorf("note %+v", got)
	}
	att := must(c.Attachment(ctx, u.ID, h.ID, got.ID, 0))(t)
	if !bytes.Equal(att.Data, big) || att.Filename != "statement.pdf" || att.ContentType != "application/pdf" {
		t.Errorf("attachment 0: %d bytes %q %q", len(att.Data), att.Filename, att.ContentType)
	}
	if att := must(c.Attachment(ctx, u.ID, h.ID, got.ID, 1))(t); len(att.Data) != 0 || att.ContentType != "application/octet-stream" {
		t.Errorf("empty attachment: %+v", att)
	}
	_, err := c.Attachment(ctx, u.ID, h.ID, got.ID, 2)
	wantKind(t, err, failure.NotFound, "")
	// Without a key, two posts are two notes.
	n.Attachments = nil
	must(c.PostNote(ctx, crm.Write{AsUser: u.ID}, n))(t)
	must(c.PostNote(ctx, crm.Write{AsUser: u.ID}, n))(t)
	if notes := must(c.Notes(ctx, u.ID, h.ID))(t); len(notes) != 3 {
		t.Errorf("%d notes, want 3", len(notes))
	}
	// A record of another contact is refused.
	other := addContact(t, c, "Ida", "ida@client.test")
	n.Records = []string{pol.ID}
	n.ContactID = other.ID
	_, err = c.PostNote(ctx, crm.Write{AsUser: u.ID}, n)
	wantKind(t, err, failure.Invalid, "records[0]")
	if recs := must(c.Records(ctx, u.ID, h.ID))(t); len(recs) != 1 || recs[0].Title != "Life policy 42" {
		t.Errorf("records %v", recs)
	}
}

func testNoteLimits(t *testing.T, c Subject) {
	h := addContact(t, c, "Hal", "hal@client.test")
	n := crm.Note{ContactID: h.ID, Email: crm.Email{Subject: "Too big", Date: time.Now(),
		Attachments: []crm.Attachment{{Filename: "huge.bin", Data: make([]byte, MaxNoteBytes+1)}}}}
	_, err := c.PostNote(ctx, crm.Write{IdempotencyKey: "k"}, n)
	wantKind(t, err, failure.Invalid, "attachments")
	n.Attachments = []crm.Attachment{{Filename: "", Data: []byte("x")}}
	_, err = c.PostNote(ctx, crm.Write{}, n)
	wantKind(t, err, failure.Invalid, "attachments[0].filename")
	n.Attachments, n.Date = nil, time.Time{}
	_, err = c.PostNote(ctx, crm.Write{}, n)
	wantKind(t, err, failure.Invalid, "date")
	if notes := must(c.Notes(ctx, "", h.ID))(t); len(notes) != 0 {
		t.Errorf("refused notes left %d notes", len(notes))
	}
	// The key of a refused post is still free.
	n.Date = time.Now()
	if got := must(c.PostNote(ctx, crm.Write{IdempotencyKey: "k"}, n))(t); got.Subject != "Too big" {
		t.Errorf("posting with the key of a refused post: %+v", got)
	}
}

func testEmailActivities(t *testing.T, c Subject) {
	u := addUser(t, c, "ann@firm.test")
	smith := must(c.CreateClient(ctx, crm.Write{}, crm.Client{Name: "Smith household"}))(t)
	jones := must(c.CreateClient(ctx, crm.Write{}, crm.Client{Name: "Jones household"}))(t)
	a := crm.EmailActivity{ClientID: smith.ID, Owner: u.ID, NeedsReview: true, Candidates: []string{smith.ID, jones.ID},
		Reason: "most matched addresses", Email: crm.Email{Subject: "Taxes", From: "pat@client.test", Date: time.Now().UTC()}}
	w := crm.Write{AsUser: u.ID, Origin: crm.Origin, IdempotencyKey: "ann:18c2"}
	first := must(c.CreateEmailActivity(ctx, w, a))(t)
	if again := must(c.CreateEmailActivity(ctx, w, a))(t); again.ID != first.ID {
		t.Errorf("the same key filed two activities")
	}
	review := must(c.EmailActivities(ctx, "", u.ID, true))(t)
	if len(review) != 1 || review[0].Reason != "most matched addresses" || !slices.Equal(review[0].Candidates, []string{smith.ID, jones.ID}) {
		t.Fatalf("review queue %+v", review)
	}
	_, err := c.ResolveEmailActivity(ctx, crm.Write{AsUser: u.ID}, first.ID, jones.ID, first.Version+1)
	wantKind(t, err, failure.Conflict, "")
	moved := must(c.ResolveEmailActivity(ctx, crm.Write{AsUser: u.ID}, first.ID, jones.ID, first.Version))(t)
	if moved.ClientID != jones.ID || moved.NeedsReview {
		t.Errorf("reassigned: %+v", moved)
	}
	if q := must(c.EmailActivities(ctx, "", u.ID, true))(t); len(q) != 0 {
		t.Errorf("%d items still need review", len(q))
	}
	if on := must(c.EmailActivities(ctx, jones.ID, "", false))(t); len(on) != 1 {
		t.Errorf("jones has %d activities", len(on))
	}
	a.ClientID = "nope"
	_, err = c.CreateEmailActivity(ctx, crm.Write{}, a)
	wantKind(t, err, failure.Invalid, "clientId")
}

func testActivities(t *testing.T, c Subject) {
	ann := addUser(t, c, "ann@firm.test")
	bob := addUser(t, c, "bob@firm.test")
	carol := addContact(t, c, "Carol", "carol@client.test")
	dan := addContact(t, c, "Dan", "dan@client.test")
	start := must(c.Changes(ctx, crm.ActivitiesFeed, crm.FeedScope{Owner: ann.ID}, "", 100))(t)
	timed := must(c.CreateActivity(ctx, crm.Write{Origin: crm.Origin}, crm.Activity{Owner: ann.ID, Title: "Review",
		Start: time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC), TimeZone: "America/New_York",
		PrimaryContact: carol.ID, AdditionalContacts: []string{dan.ID}, Documents: []crm.Document{{Title: "agenda", URL: "https://docs.example/1"}},
		Recurrence: []string{"RRULE:FREQ=WEEKLY;COUNT=4"}}))(t)
	allDay := must(c.CreateActivity(ctx, crm.Write{}, crm.Activity{Owner: ann.ID, Title: "Conference", StartDate: "2026-11-24", EndDate: "2026-11-26"}))(t)
	must(c.CreateActivity(ctx, crm.Write{}, crm.Activity{Owner: bob.ID, Title: "Bob's", StartDate: "2026-11-24", EndDate: "2026-11-25"}))(t)
	exc := must(c.CreateActivity(ctx, crm.Write{}, crm.Activity{Owner: ann.ID, Title: "Review (moved)", SeriesID: timed.ID, OriginalStart: "2026-11-30T15:00:00Z",
		Start: time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC), TimeZone: "America/New_York"}))(t)
	if got := must(c.Activity(ctx, timed.ID))(t); got.PrimaryContact != carol.ID || got.TimeZone != "America/New_York" || len(got.Recurrence) != 1 || !got.Start.Equal(timed.Start) {
		t.Errorf("read back %+v", got)
	}
	if got := must(c.Activity(ctx, allDay.ID))(t); got.StartDate != "2026-11-24" || got.EndDate != "2026-11-26" || !got.Start.IsZero() {
		t.Errorf("all-day read back %+v", got)
	}
	if got := must(c.ListActivities(ctx, ann.ID))(t); len(got) != 3 {
		t.Errorf("ann has %d activities, want 3", len(got))
	}
	stale := allDay
	allDay.Title = "Conference (day 2 off)"
	upd := must(c.UpdateActivity(ctx, crm.Write{Origin: crm.Origin}, allDay))(t)
	_, err := c.UpdateActivity(ctx, crm.Write{}, stale)
	wantKind(t, err, failure.Conflict, "")
	must(c.DeleteActivity(ctx, crm.Write{}, exc.ID, exc.Version))(t)
	if got := must(c.ListActivities(ctx, ann.ID))(t); len(got) != 2 {
		t.Errorf("after a delete ann has %d activities, want 2", len(got))
	}
	feed := must(c.Changes(ctx, crm.ActivitiesFeed, crm.FeedScope{Owner: ann.ID}, start.Cursor, 100))(t)
	var got []string
	for _, ch := range feed.Changes {
		got = append(got, fmt.Sprintf("%s/%d/%v/%v", ch.ID, ch.Version, ch.Origin == crm.Origin, ch.Deleted))
	}
	want := []string{timed.ID + "/1/true/false", allDay.ID + "/1/false/false", exc.ID + "/1/false/false",
		fmt.Sprintf("%s/%d/true/false", allDay.ID, upd.Version), exc.ID + "/2/false/true"}
	if !slices.Equal(got, want) {
		t.Errorf("ann's activity feed %v\nwant %v", got, want)
	}
	for field, a := range map[string]crm.Activity{
		"end":       {Owner: ann.ID, Title: "x", Start: time.Now(), End: time.Now().Add(-time.Hour)},
		"endDate":   {Owner: ann.ID, Title: "x", StartDate: "2026-11-24", EndDate: "2026-11-24"},
		"owner":     {Owner: "ghost", Title: "x", StartDate: "2026-11-24", EndDate: "2026-11-25"},
		"timeZone":  {Owner: ann.ID, Title: "x", Start: time.Now(), End: time.Now(), TimeZone: "Mars/Olympus"},
		"title":     {Owner: ann.ID, StartDate: "2026-11-24", EndDate: "2026-11-25"},
		"contacts":  {Owner: ann.ID, Title: "x", StartDate: "2026-11-24", EndDate: "2026-11-25", PrimaryContact: "ghost"},
		"startDate": {Owner: ann.ID, Title: "x", StartDate: "24.11.2026", EndDate: "2026-11-25"},
	} {
		_, err := c.CreateActivity(ctx, crm.Write{}, a)
		wantKind(t, err, failure.Invalid, field)
	}
}
