package mailbox_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gmail "google.golang.org/api/gmail/v1"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/mailbox"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/store/storetest"
	"github.com/crmsync/crmsync/shared/workspace"
)

// world is one firm: the product's store, the fake Google Workspace, the
// reference CRM and the engine, for a user ann@firm.test.
type world struct {
	t      *testing.T
	ctx    context.Context
	st     *store.Store
	google *fakegoogle.Server
	crm    *refcrm.Store
	flaky  *flakyCRM
	engine *mailbox.Engine
	ids    refcrm.Imported
	gm     *gmail.Service // ann's own Gmail, as she uses it
}

const ann = "ann@firm.test"

// flakyCRM fails the next n FindContacts calls transiently.
type flakyCRM struct {
	*refcrm.Store
	failures atomic.Int32
}

func (f *flakyCRM) FindContacts(ctx context.Context, asUser, email string) ([]crm.Contact, error) {
	if f.failures.Add(-1) >= 0 {
		return nil, failure.Errorf("crm: find contacts", failure.Transient, "503 Service Unavailable")
	}
	f.failures.Store(0)
	return f.Store.FindContacts(ctx, asUser, email)
}

func newWorld(t *testing.T, setup func(*store.MailSetup)) *world {
	t.Helper()
	return newWorldOn(t, fakegoogle.Options{Clock: clock.Real{}}, setup)
}

// newWorldOn is newWorld with a fake Google of these options.
func newWorldOn(t *testing.T, opts fakegoogle.Options, setup func(*store.MailSetup)) *world {
	t.Helper()
	ctx := context.Background()
	st := storetest.New(t, nil)
	g := fakegoogle.Started(t, opts)
	for _, u := range []string{ann, "bob@firm.test"} {
		if err := g.AddUser(fakegoogle.User{Email: u}); err != nil {
			t.Fatal(err)
		}
	}
	c := refcrm.New(storetest.Client(t), "test", nil)
	ids, err := c.Import(ctx, refcrm.Dataset{
		Clients: []refcrm.ImportClient{{Key: "h", Name: "Household"}},
		Contacts: []refcrm.ImportContact{
			{Key: "ann", Type: crm.TypeAdvisor, FirstName: "Ann", Emails: []string{ann}},
			{Key: "carol", FirstName: "Carol", LastName: "Client", Emails: []string{"carol@client.test"}},
			{Key: "dan", FirstName: "Dan", Emails: []string{"dan@client.test"}},
			{Key: "secret", FirstName: "Eve", Emails: []string{"eve@client.test"}, Offices: []string{"west"}},
		},
		Records: []refcrm.ImportRecord{{Key: "pol", Type: crm.RecordPolicy, Contact: "carol", Title: "Life L-1"}},
		Users:   []refcrm.ImportUser{{Key: "u-ann", Email: ann, Domains: []string{"firm.test"}, IntegrationEnabled: true, Contact: "ann", Offices: []string{"east"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Tenants().Create(ctx, store.Tenant{ID: "firm", Name: "Firm", CRMName: "SmartOffice", Domains: []string{"firm.test"},
		Admins: []string{ann}, AuthMode: store.AuthUserOAuth, AttachmentLimitBytes: 50_000}); err != nil {
		t.Fatal(err)
	}
	mail := store.MailSetup{Enabled: true, Outgoing: []string{"To", "Cc", "Bcc"}, Incoming: []string{"From"}, SkipInternal: true, IncludeAttachments: true}
	if setup != nil {
		setup(&mail)
	}
	if _, err := st.Users().Create(ctx, store.User{TenantID: "firm", Email: ann, Connection: store.Connection{State: store.Connected}, SyncState: store.Active, Mail: mail}); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, ctx: ctx, st: st, google: g, crm: c, ids: ids}
	w.flaky = &flakyCRM{Store: c}
	w.engine = &mailbox.Engine{Store: st, CRM: w.flaky, Log: logging.Discard(), Clock: clock.Real{}, Topic: "projects/p/topics/gmail",
		Holder: "test-worker", Retry: workspace.Retry{Attempts: 2, Sleep: func(context.Context, time.Duration) error { return nil }},
		Google: &workspace.Factory{Endpoint: g.URL(), Tokens: g.Tokens}}
	if err := w.engine.Connect(ctx, ann); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	w.gm, err = w.engine.Google.(*workspace.Factory).Gmail(ctx, ann)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// spyCRM records the notes the engine sends, before the CRM sanitizes them.
type spyCRM struct {
	mailbox.CRM
	mu   sync.Mutex
	sent []crm.Note
}

func (s *spyCRM) PostNote(ctx context.Context, w crm.Write, n crm.Note) (crm.Note, error) {
	s.mu.Lock()
	s.sent = append(s.sent, n)
	s.mu.Unlock()
	return s.CRM.PostNote(ctx, w, n)
}

func TestHTMLIsSanitizedBeforeItReachesTheCRM(t *testing.T) {
	w := newWorld(t, nil)
	spy := &spyCRM{CRM: w.engine.CRM}
	w.engine.CRM = spy
	id := w.deliver(fromCarol)
	w.label(id)
	w.process()
	if len(spy.sent) != 1 || strings.Contains(spy.sent[0].HTML, "<script") || !strings.Contains(spy.sent[0].HTML, "Hello") {
		t.Errorf("HTML sent to the CRM: %+v", spy.sent)
	}
}

// deliver puts a message in ann's mailbox (labels: INBOX, or SENT).
func (w *world) deliver(raw string, labels ...string) string {
	w.t.Helper()
	if len(labels) == 0 {
		labels = []string{"INBOX"}
	}
	id, err := w.google.InsertMessage(ann, []byte(strings.ReplaceAll(raw, "\n", "\r\n")), labels)
	if err != nil {
		w.t.Fatal(err)
	}
	return id
}

func (w *world) labelID(name string) string {
	w.t.Helper()
	list, err := w.gm.Users.Labels.List("me").Do()
	if err != nil {
		w.t.Fatal(err)
	}
	for _, l := range list.Labels {
		if l.Name == name {
			return l.Id
		}
	}
	w.t.Fatalf("no label %q", name)
	return ""
}

// label adds the CRM label as ann does in Gmail.
func (w *world) label(id string) {
	w.t.Helper()
	if _, err := w.gm.Users.Messages.Modify("me", id, &gmail.ModifyMessageRequest{AddLabelIds: []string{w.labelID("SmartOffice")}}).Do(); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) process() mailbox.Result {
	w.t.Helper()
	r, err := w.engine.Process(w.ctx, ann)
	if err != nil {
		w.t.Fatalf("Process: %v", err)
	}
	return r
}

// statusOf names the CRM labels a message carries.
func (w *world) statusOf(id string) []string {
	w.t.Helper()
	names := map[string]string{}
	for _, n := range []string{"SmartOffice", "SmartOfficePosted", "SmartOfficeFailed", "SmartOfficeUnmatched"} {
		names[w.labelID(n)] = n
	}
	labels, ok := w.google.MessageLabels(ann, id)
	if !ok {
		w.t.Fatalf("message %s is gone", id)
	}
	var out []string
	for _, l := range labels {
		if n, ok := names[l]; ok {
			out = append(out, n)
		}
	}
	return out
}

func (w *world) notes(key string) []crm.Note {
	w.t.Helper()
	ns, err := w.crm.Notes(w.ctx, "", w.ids.Contacts[key])
	if err != nil {
		w.t.Fatal(err)
	}
	return ns
}

func (w *world) ledger(id string) store.LedgerEntry {
	w.t.Helper()
	e, err := w.st.Ledger().Get(w.ctx, "mail:"+ann, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return e
}

func want(t *testing.T, got []string, status string) {
	t.Helper()
	if !slices.Equal(got, []string{status}) {
		t.Errorf("labels %v, want exactly [%s]", got, status)
	}
}

const fromCarol = `From: "Carol Client" <carol@client.test>
To: Ann <ann@firm.test>
Subject: Portfolio review
Date: Mon, 16 Nov 2026 09:30:00 -0500
Message-ID: <c1@client.test>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/html; charset=utf-8

<p>Hello <script>alert(1)</script>Ann</p>
--b
Content-Type: application/pdf; name=statement.pdf
Content-Disposition: attachment; filename=statement.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--b--
`

func TestLabeledMailIsPostedAndRelabeled(t *testing.T) {
	w := newWorld(t, nil)
	id := w.deliver(fromCarol)
	w.label(id)
	r := w.process()
	if r.Posted != 1 {
		t.Fatalf("result %+v", r)
	}
	want(t, w.statusOf(id), "SmartOfficePosted")
	notes := w.notes("carol")
	if len(notes) != 1 {
		t.Fatalf("%d notes on Carol", len(notes))
	}
	n := notes[0]
	if n.Subject != "Portfolio review" || n.GmailMessageID != id || strings.Contains(n.HTML, "script") || len(n.Attachments) != 1 ||
		n.Attachments[0].Filename != "statement.pdf" || !n.Date.Equal(time.Date(2026, 11, 16, 14, 30, 0, 0, time.UTC)) {
		t.Errorf("note %+v", n)
	}
	// The relabeling made a history change of the trigger label: the
	// next notification finds nothing to do, so there is no loop.
	if r := w.process(); r.Posted+r.Failed+r.Unmatched != 0 {
		t.Errorf("a second pass did %+v", r)
	}
	// A redelivered notification, or re-adding the label to a Posted
	// message, never posts twice.
	w.label(id)
	w.process()
	w.process()
	if n := len(w.notes("carol")); n != 1 {
		t.Errorf("%d notes after redeliveries, want 1", n)
	}
	want(t, w.statusOf(id), "SmartOfficePosted")
}

func TestRules(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(*store.MailSetup)
		raw     string
		sent    bool
		status  string
		posted  map[string]int // notes per contact key
		reason  string
		noFiles bool
	}{
		{name: "unmatched", raw: "From: stranger@else.test\nTo: ann@firm.test\nSubject: x\n\nhi", status: "SmartOfficeUnmatched", reason: "no CRM contact"},
		{name: "unmatched to own record", setup: func(m *store.MailSetup) { m.PostUnmatchedToOwnRecord = true },
			raw: "From: stranger@else.test\nTo: ann@firm.test\nSubject: x\n\nhi", status: "SmartOfficePosted", posted: map[string]int{"ann": 1}},
		{name: "internal mail fails", raw: "From: bob@firm.test\nTo: ann@firm.test, carol@client.test\nSubject: x\n\nhi",
			status: "SmartOfficeFailed", reason: "internal e-mail"},
		{name: "internal mail posts with the option off", setup: func(m *store.MailSetup) { m.SkipInternal = false; m.Incoming = []string{"From", "To"} },
			raw: "From: bob@firm.test\nTo: ann@firm.test, carol@client.test\nSubject: x\n\nhi", status: "SmartOfficePosted", posted: map[string]int{"carol": 1}},
		{name: "attachment over the limit fails", raw: bigAttachment, status: "SmartOfficeFailed", reason: "over the firm's limit"},
		{name: "attachments off posts without them", setup: func(m *store.MailSetup) { m.IncludeAttachments = false },
			raw: bigAttachment, status: "SmartOfficePosted", posted: map[string]int{"carol": 1}, noFiles: true},
		{name: "outgoing mail matches recipients", raw: "From: ann@firm.test\nTo: dan@client.test\nCc: carol@client.test\nSubject: x\n\nhi", sent: true,
			status: "SmartOfficePosted", posted: map[string]int{"carol": 1, "dan": 1}},
		{name: "Bcc without the option is unmatched", setup: func(m *store.MailSetup) { m.Incoming = []string{"From", "To"} },
			raw: "From: carol@client.test\nTo: dan@client.test\nSubject: x\n\nhi", status: "SmartOfficeUnmatched", reason: "Bcc"},
		{name: "Bcc with the option goes only to the own record", setup: func(m *store.MailSetup) { m.Incoming = []string{"From", "To"}; m.PostUnmatchedToOwnRecord = true },
			raw: "From: carol@client.test\nTo: dan@client.test\nSubject: x\n\nhi", status: "SmartOfficePosted", posted: map[string]int{"ann": 1, "carol": 0, "dan": 0}},
		{name: "office security: a contact of another office is no target", raw: "From: eve@client.test\nTo: ann@firm.test\nSubject: x\n\nhi",
			status: "SmartOfficeUnmatched", posted: map[string]int{"secret": 0}},
		{name: "linked records are offered", setup: func(m *store.MailSetup) { m.OfferLinkedRecords = true },
			raw: "From: carol@client.test\nTo: ann@firm.test\nSubject: x\n\nhi", status: "SmartOfficePosted", posted: map[string]int{"carol": 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, tc.setup)
			labels := []string{"INBOX"}
			if tc.sent {
				labels = []string{"SENT"}
			}
			id := w.deliver(tc.raw, labels...)
			w.label(id)
			w.process()
			want(t, w.statusOf(id), tc.status)
			e := w.ledger(id)
			if !strings.Contains(e.Detail["reason"], tc.reason) {
				t.Errorf("reason %q, want it to say %q", e.Detail["reason"], tc.reason)
			}
			for key, n := range tc.posted {
				notes := w.notes(key)
				if len(notes) != n {
					t.Errorf("%d notes on %s, want %d", len(notes), key, n)
				}
				if n > 0 && tc.noFiles && len(notes[0].Attachments) != 0 {
					t.Errorf("posted with attachments although the option is off")
				}
			}
			if tc.setup != nil && strings.Contains(tc.name, "linked records") && e.Detail["offeredRecords"] != w.ids.Records["pol"] {
				t.Errorf("offered records %q, want the policy %s", e.Detail["offeredRecords"], w.ids.Records["pol"])
			}
		})
	}
}

var bigAttachment = "From: carol@client.test\nTo: ann@firm.test\nSubject: big\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee attached\n--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=big.bin\nContent-Transfer-Encoding: base64\n\n" +
	base64.StdEncoding.EncodeToString(make([]byte, 60_000)) + "\n--b--\n"

func TestReaddingTheLabelRetriesAFailedMessage(t *testing.T) {
	w := newWorld(t, nil)
	id := w.deliver("From: bob@firm.test\nTo: ann@firm.test\nCc: carol@client.test\nSubject: x\n\nhi")
	w.label(id)
	w.process()
	want(t, w.statusOf(id), "SmartOfficeFailed")
	// Ann turns "Do not post internal e-mail" off and labels it again.
	if _, err := w.st.Users().Update(w.ctx, ann, func(u *store.User) error {
		u.Mail.SkipInternal = false
		u.Mail.Incoming = []string{"From", "Cc"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	w.label(id)
	w.process()
	want(t, w.statusOf(id), "SmartOfficePosted")
	if n := len(w.notes("carol")); n != 1 {
		t.Errorf("%d notes, want 1", n)
	}
	// The day's counts add up over its passes; the last failure is kept.
	u, _ := w.st.Users().Get(w.ctx, ann)
	today := u.Passes["mail"].MailToday(time.Now())
	if today["failed"] != 1 || today["posted"] != 1 || !strings.Contains(u.Passes["mail"].LastFailure, "internal") {
		t.Errorf("today %v, last failure %q", today, u.Passes["mail"].LastFailure)
	}
}

func TestTransientFailuresAreRetriedThenFail(t *testing.T) {
	w := newWorld(t, func(m *store.MailSetup) {})
	w.engine.MaxAttempts = 3
	id := w.deliver("From: carol@client.test\nTo: ann@firm.test\nSubject: x\n\nhi")
	w.label(id)
	// The CRM is down for the notification's pass and a sweep: the message
	// keeps its trigger label.
	w.flaky.failures.Store(2)
	if r := w.process(); r.Retrying != 1 {
		t.Fatalf("pass during the outage: %+v", r)
	}
	if r, err := w.engine.Sweep(w.ctx, ann); err != nil || r.Retrying != 1 {
		t.Fatalf("sweep during the outage: %+v, %v", r, err)
	}
	want(t, w.statusOf(id), "SmartOffice")
	// A later pass (the sweep) posts it once the CRM is back.
	if r, err := w.engine.Sweep(w.ctx, ann); err != nil || r.Posted != 1 {
		t.Fatalf("sweep after the outage: %+v, %v", r, err)
	}
	want(t, w.statusOf(id), "SmartOfficePosted")

	// An outage longer than the budget: Failed, with the reason.
	id2 := w.deliver("From: dan@client.test\nTo: ann@firm.test\nSubject: y\n\nhi")
	w.label(id2)
	w.flaky.failures.Store(1000)
	for range 3 {
		w.engine.Sweep(w.ctx, ann)
	}
	want(t, w.statusOf(id2), "SmartOfficeFailed")
	if r := w.ledger(id2).Detail["reason"]; !strings.Contains(r, "gave up after 3 attempts") {
		t.Errorf("reason %q", r)
	}
	w.flaky.failures.Store(0)
}

// When Google answers that the user's quota is spent (another client of
// the user spent it), the engine waits for the quota to refill rather than
// spending its retries on more refusals: the message is posted in the
// same pass, though every retry comes at once.
func TestSpentQuotaIsWaitedFor(t *testing.T) {
	// Ann's Gmail budget: 10 units a second, up to 300 at once.
	w := newWorldOn(t, fakegoogle.Options{Clock: clock.Real{}, QuotaPerUserPerMinute: 600, QuotaBurst: 30 * time.Second}, nil)
	id := w.deliver(fromCarol)
	w.label(id)
	// Another client spends the rest of the budget, to less than a unit.
	for spent := false; !spent; {
		_, err := w.gm.Users.GetProfile("me").Do()
		spent = failure.KindOf(workspace.Classify("getProfile", err)) == failure.Quota
		if err != nil && !spent {
			t.Fatal(err)
		}
	}
	w.google.ResetUsage()
	e := &mailbox.Engine{Store: w.st, CRM: w.engine.CRM, Log: logging.Discard(), Clock: clock.Real{}, Topic: w.engine.Topic, Holder: "paced-worker",
		Google: w.engine.Google, UserUnitsPerMinute: 600,
		Retry: workspace.Retry{Attempts: 3, Sleep: func(context.Context, time.Duration) error { return nil }}}
	r, err := e.Process(w.ctx, ann)
	if err != nil || r.Posted != 1 || r.Retrying != 0 {
		t.Fatalf("pass with the quota spent: %+v, %v", r, err)
	}
	limited := 0
	for _, u := range w.google.Usage(ann) {
		limited += u.RateLimited
	}
	if limited == 0 {
		t.Error("no call met the spent quota; the test did not test it")
	}
}

// A labeled message costs what Gmail's quota page makes the floor: the
// history since the cursor (2 units), the raw message (5) and its relabel
// (5). No size is read first.
func TestALabeledMessageCostsTwelveUnits(t *testing.T) {
	w := newWorld(t, nil)
	id := w.deliver(fromCarol)
	w.label(id)
	w.google.ResetUsage()
	if r := w.process(); r.Posted != 1 {
		t.Fatalf("result %+v", r)
	}
	units, calls := 0, map[string]int{}
	for m, u := range w.google.Usage(ann) {
		units += u.Units
		calls[m] = u.Calls
	}
	if units != 12 {
		t.Errorf("%d units for one labeled message (%v), want 12", units, calls)
	}
}

// A sweep costs 2 quota units when nothing waits: it reads the history
// since the cursor (which holds whatever a lost notification was about)
// instead of listing the labeled messages (7 units). It lists them when a
// message waits to be tried again, which the history no longer shows.
func TestASweepReadsTheHistoryUnlessAMessageWaits(t *testing.T) {
	w := newWorld(t, nil)
	units := func() int {
		n := 0
		for _, u := range w.google.Usage(ann) {
			n += u.Units
		}
		return n
	}
	// The first sweep lists (none has yet), then a quiet one reads the
	// history.
	if _, err := w.engine.Sweep(w.ctx, ann); err != nil {
		t.Fatal(err)
	}
	w.google.ResetUsage()
	if r, err := w.engine.Sweep(w.ctx, ann); err != nil || r.Posted != 0 {
		t.Fatalf("a quiet sweep: %+v, %v", r, err)
	}
	if got := units(); got != 2 {
		t.Errorf("a quiet sweep spent %d units, want 2 (history.list)", got)
	}
	// A lost notification: the sweep finds the message in the history.
	lost := w.deliver(fromCarol)
	w.label(lost)
	if r, err := w.engine.Sweep(w.ctx, ann); err != nil || r.Posted != 1 {
		t.Fatalf("the sweep after a lost notification: %+v, %v", r, err)
	}
	// A message left for a later pass (the CRM failing) keeps its label
	// while the cursor moves past it; the next sweep lists the label.
	waiting := w.deliver("From: dan@client.test\nTo: ann@firm.test\nSubject: later\n\nhi")
	w.label(waiting)
	w.flaky.failures.Store(2)
	if r := w.process(); r.Retrying != 1 {
		t.Fatalf("pass during the outage: %+v", r)
	}
	w.flaky.failures.Store(0)
	if r := w.process(); r.Posted != 0 {
		t.Fatalf("a notification pass with nothing new: %+v", r)
	}
	w.google.ResetUsage()
	if r, err := w.engine.Sweep(w.ctx, ann); err != nil || r.Posted != 1 {
		t.Fatalf("the sweep after the outage: %+v, %v", r, err)
	}
	want(t, w.statusOf(waiting), "SmartOfficePosted")
	if got := w.google.Usage(ann)["gmail.users.messages.list"].Calls; got != 1 {
		t.Errorf("the sweep after the outage listed the label %d times, want once", got)
	}
	// Listed and nothing waits: back to the history.
	w.google.ResetUsage()
	if _, err := w.engine.Sweep(w.ctx, ann); err != nil {
		t.Fatal(err)
	}
	if got := units(); got != 2 {
		t.Errorf("the sweep after that spent %d units, want 2", got)
	}
}

func TestExpiredHistoryResyncsFromTheLabel(t *testing.T) {
	w := newWorld(t, nil)
	id := w.deliver(fromCarol)
	w.label(id)
	w.google.ExpireHistory(ann)
	r := w.process()
	if !r.Resynced || r.Posted != 1 {
		t.Fatalf("result %+v", r)
	}
	want(t, w.statusOf(id), "SmartOfficePosted")
	// The cursor moved to now: the next pass reads history again.
	id2 := w.deliver("From: dan@client.test\nTo: ann@firm.test\nSubject: x\n\nhi")
	w.label(id2)
	if r := w.process(); r.Resynced || r.Posted != 1 {
		t.Errorf("after the resync: %+v", r)
	}
}

func TestSweepFindsLabeledMailAndRemakesDeletedLabels(t *testing.T) {
	w := newWorld(t, nil)
	// Ann deletes the Posted label.
	if err := w.gm.Users.Labels.Delete("me", w.labelID("SmartOfficePosted")).Do(); err != nil {
		t.Fatal(err)
	}
	id := w.deliver(fromCarol)
	w.label(id) // no notification is processed: the sweep must find it
	r, err := w.engine.Sweep(w.ctx, ann)
	if err != nil || r.Posted != 1 {
		t.Fatalf("sweep: %+v, %v", r, err)
	}
	want(t, w.statusOf(id), "SmartOfficePosted")
}

func TestRevokedAccessDisconnectsTheUser(t *testing.T) {
	w := newWorld(t, nil)
	id := w.deliver(fromCarol)
	w.label(id)
	w.google.RevokeUser(ann)
	if _, err := w.engine.Process(w.ctx, ann); err != nil {
		t.Fatalf("a revoked user's notification must be acknowledged: %v", err)
	}
	u, _ := w.st.Users().Get(w.ctx, ann)
	if u.Connection.State != store.Disconnected || u.Attention == "" {
		t.Errorf("user after revocation: %+v", u.Connection)
	}
	// Later notifications are acknowledged without work.
	if r, err := w.engine.Process(w.ctx, ann); err != nil || r.Posted != 0 {
		t.Errorf("after disconnect: %+v, %v", r, err)
	}
}

func TestUnknownUsersAreAcknowledged(t *testing.T) {
	w := newWorld(t, nil)
	if _, err := w.engine.Process(w.ctx, "nobody@firm.test"); err != nil {
		t.Errorf("unknown user: %v", err)
	}
}

func TestManyMessagesInOnePass(t *testing.T) {
	w := newWorld(t, nil)
	var ids []string
	for i := range 30 {
		id := w.deliver(fmt.Sprintf("From: carol@client.test\nTo: ann@firm.test\nSubject: n%d\n\nhi", i))
		w.label(id)
		ids = append(ids, id)
	}
	before := w.google.Usage(ann)["gmail.users.messages.batchModify"].Calls
	if r := w.process(); r.Posted != 30 {
		t.Fatalf("result %+v", r)
	}
	for _, id := range ids {
		want(t, w.statusOf(id), "SmartOfficePosted")
	}
	if n := len(w.notes("carol")); n != 30 {
		t.Errorf("%d notes, want 30", n)
	}
	if calls := w.google.Usage(ann)["gmail.users.messages.batchModify"].Calls - before; calls != 1 {
		t.Errorf("%d batchModify calls for one outcome, want 1", calls)
	}
}

type recordingPublisher struct {
	mu     sync.Mutex
	topics []string
}

func (r *recordingPublisher) Publish(_ context.Context, topic string, _ []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.topics = append(r.topics, topic)
	return nil
}

func (r *recordingPublisher) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.topics)
}

// Connect starts the watch on the product's topic (labeling then
// notifies it; the watch itself does not, as Gmail's does not); Disconnect
// stops it, and label changes then notify nobody.
func TestConnectWatchesAndDisconnectStops(t *testing.T) {
	ctx := context.Background()
	pub := &recordingPublisher{}
	g := fakegoogle.Started(t, fakegoogle.Options{Clock: clock.Real{}, Publisher: pub, NotifyInterval: 10 * time.Millisecond})
	g.AddUser(fakegoogle.User{Email: ann})
	st := storetest.New(t, nil)
	st.Tenants().Create(ctx, store.Tenant{ID: "firm", Name: "Firm", CRMName: "SmartOffice"})
	st.Users().Create(ctx, store.User{TenantID: "firm", Email: ann, Connection: store.Connection{State: store.Connected}, SyncState: store.Active, Mail: store.MailSetup{Enabled: true}})
	c := refcrm.New(storetest.Client(t), "test", nil)
	c.Import(ctx, refcrm.Dataset{Users: []refcrm.ImportUser{{Key: "u", Email: ann, IntegrationEnabled: true}}})
	e := &mailbox.Engine{Store: st, CRM: c, Log: logging.Discard(), Clock: clock.Real{}, Topic: "projects/p/topics/gmail-notifications", Holder: "t",
		Google: &workspace.Factory{Endpoint: g.URL(), Tokens: g.Tokens}}
	if err := e.Connect(ctx, ann); err != nil {
		t.Fatal(err)
	}
	gm, _ := (&workspace.Factory{Endpoint: g.URL(), Tokens: g.Tokens}).Gmail(ctx, ann)
	label := func() {
		id, _ := g.InsertMessage(ann, []byte("From: carol@client.test\r\nSubject: x\r\n\r\nhi"), []string{"INBOX"})
		u, _ := st.Users().Get(ctx, ann)
		gm.Users.Messages.Modify("me", id, &gmail.ModifyMessageRequest{AddLabelIds: []string{u.Mail.Labels[mailbox.RoleTrigger]}}).Do()
	}
	time.Sleep(100 * time.Millisecond)
	if pub.count() != 0 {
		t.Errorf("the watch itself notified: %v", pub.topics)
	}
	label()
	deadline := time.Now().Add(5 * time.Second)
	for pub.count() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if pub.count() == 0 || pub.topics[0] != "projects/p/topics/gmail-notifications" {
		t.Fatalf("no notification on the topic after labeling: %v", pub.topics)
	}
	if u, _ := st.Users().Get(ctx, ann); u.Mail.WatchExpiration.Before(time.Now().Add(6 * 24 * time.Hour)) {
		t.Errorf("watch expiration %v, want about 7 days ahead", u.Mail.WatchExpiration)
	}
	if err := e.Disconnect(ctx, ann); err != nil {
		t.Fatal(err)
	}
	before := pub.count()
	label()
	time.Sleep(100 * time.Millisecond)
	if pub.count() != before {
		t.Errorf("%d notifications after Disconnect", pub.count()-before)
	}
}
