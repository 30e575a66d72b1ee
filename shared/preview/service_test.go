package preview_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/notify"
	"github.com/crmsync/crmsync/shared/preview"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/store/storetest"
	"github.com/crmsync/crmsync/shared/twoway"
)

type planner struct {
	plan twoway.Plan
	err  error
}

func (p *planner) Preview(context.Context, string) (twoway.Plan, error) { return p.plan, p.err }

type outbox struct{ sent []notify.Message }

func (o *outbox) Send(_ context.Context, m notify.Message) error {
	o.sent = append(o.sent, m)
	return nil
}

// A preview job runs once per settings version: redelivered, or for
// settings saved since, it sends nothing; a passing failure is retried
// and a lasting one is reported in the e-mail.
func TestRunSendsOncePerVersion(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Now())
	st := storetest.New(t, clk)
	st.Tenants().Create(ctx, store.Tenant{ID: "firm", Name: "Firm", CRMName: "SmartOffice"})
	st.Users().Create(ctx, store.User{TenantID: "firm", Email: "cat@firm.test", SettingsVersion: 2, SyncState: store.PendingApproval,
		Contacts: store.ContactsSetup{Direction: "both"}, Calendar: store.CalendarSetup{Direction: "google-to-crm"}})
	contacts := &planner{plan: twoway.Plan{Actions: []twoway.Action{{Op: twoway.Create, Side: twoway.B, Name: "Gina Green"}}}}
	cal := &planner{err: failure.Errorf("calendar", failure.Transient, "Google answered 503")}
	out := &outbox{}
	s := &preview.Service{Store: st, Contacts: contacts, Calendar: cal, Sender: out, WebURL: "https://web.example", Clock: clk, Log: logging.Discard()}

	if err := s.Run(ctx, "cat@firm.test", 2); !failure.Is(err, failure.Transient) || len(out.sent) != 0 {
		t.Fatalf("a passing failure: %v, %d sent; want the error (retried) and nothing sent", err, len(out.sent))
	}
	cal.err = failure.Errorf("calendar", failure.Permanent, "cat@firm.test has no Google calendar named \"Work\"")
	if err := s.Run(ctx, "cat@firm.test", 2); err != nil || len(out.sent) != 1 {
		t.Fatalf("Run: %v, %d sent", err, len(out.sent))
	}
	m := out.sent[0]
	for _, want := range []string{"Gina Green", `no Google calendar named &#34;Work&#34;`, "https://web.example/preview/approve?p="} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if err := s.Run(ctx, "cat@firm.test", 2); err != nil || len(out.sent) != 1 {
		t.Errorf("a redelivered job: %v, %d sent", err, len(out.sent))
	}
	if err := s.Run(ctx, "cat@firm.test", 1); err != nil || len(out.sent) != 1 {
		t.Errorf("a job for older settings: %v, %d sent", err, len(out.sent))
	}
	p, err := st.Previews().Get(ctx, store.PreviewID("cat@firm.test", 2))
	if err != nil || p.SentAt.IsZero() || p.Summary["contacts.createCRM"] != 1 {
		t.Errorf("the stored preview: %+v, %v", p, err)
	}
	// The link in the e-mail approves it.
	id := m.Text[strings.Index(m.Text, "?p=")+3:]
	id = id[:strings.IndexByte(id, '\n')]
	id, _ = url.QueryUnescape(id)
	st.Users().Create(ctx, store.User{TenantID: "firm", Email: "bob@firm.test", SettingsVersion: 2, SyncState: store.PendingApproval})
	if _, err := s.Decide(ctx, "bob@firm.test", id, true); !failure.Is(err, failure.Forbidden) {
		t.Errorf("another user decided Cat's preview: %v", err)
	}
	u, err := s.Decide(ctx, "cat@firm.test", id, true)
	if err != nil || u.SyncState != store.Active || u.Decision.State != store.PreviewApproved {
		t.Errorf("Decide: %+v, %v", u.Decision, err)
	}
}
