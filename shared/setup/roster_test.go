package setup_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/connect"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/setup"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/store/storetest"
	"github.com/crmsync/crmsync/shared/workspace"
)

// The roster merges the users set up here with the CRM users of the
// firm's domains (and no one else's), sums them up over the whole firm,
// and filters by name or address.
func TestRosterMergesCountsAndSearches(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t, nil)
	c := refcrm.New(storetest.Client(t), "roster", nil)
	if _, err := c.Import(ctx, refcrm.Dataset{Users: []refcrm.ImportUser{
		{Key: "ann", Email: "Ann@Firm.test", Name: "Ann Archer", IntegrationEnabled: true},
		{Key: "bob", Email: "bob@firm.test", Name: "Bob Baker", IntegrationEnabled: false},
		{Key: "dan", Email: "dan@firm.test", Name: "Dan Dean", IntegrationEnabled: true},
		{Key: "eve", Email: "eve@other.test", Name: "Eve Else", IntegrationEnabled: true},
	}}); err != nil {
		t.Fatal(err)
	}
	firm := store.Tenant{ID: "firm", Name: "Firm", Domains: []string{"firm.test"}, Admins: []string{"ann@firm.test"}}
	for _, u := range []store.User{
		{Email: "ann@firm.test", Connection: store.Connection{State: store.Connected}, SyncState: store.Active},
		{Email: "bob@firm.test", Connection: store.Connection{State: store.Connected}, SyncState: store.Active},
		{Email: "cat@firm.test", SyncState: store.PendingApproval, Attention: "Google access was lost."},
	} {
		u.TenantID = "firm"
		if _, err := st.Users().Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	s := &setup.Service{Store: st, CRM: c, Clock: clock.Real{}}
	r, err := s.Roster(ctx, firm, "")
	if err != nil {
		t.Fatal(err)
	}
	var emails []string
	for _, u := range r.Users {
		emails = append(emails, u.Email)
	}
	if !slices.Equal(emails, []string{"ann@firm.test", "bob@firm.test", "cat@firm.test", "dan@firm.test"}) {
		t.Errorf("roster: %v (eve is of another domain)", emails)
	}
	ann, dan := r.Users[0], r.Users[3]
	if !ann.Admin || ann.Integration == nil || !*ann.Integration || dan.Name != "Dan Dean" || dan.Stored || dan.Connection != store.NotConnected {
		t.Errorf("ann %+v, dan %+v", ann, dan)
	}
	want := map[string]int{"all": 4, "syncing": 1, "noRight": 1, "pending": 1, "attention": 1}
	for k, n := range want {
		if r.Counts[k] != n {
			t.Errorf("count %s = %d, want %d (all counts %v)", k, r.Counts[k], n, r.Counts)
		}
	}
	found, err := s.Roster(ctx, firm, "  BAKER ")
	if err != nil {
		t.Fatal(err)
	}
	if len(found.Users) != 1 || found.Users[0].Email != "bob@firm.test" || found.Query != "baker" || found.Counts["all"] != 4 {
		t.Errorf("search for Baker: %+v", found)
	}
}

func TestGrantedFollowsTheConsentScreen(t *testing.T) {
	perUser := store.Tenant{AuthMode: store.AuthUserOAuth}
	connected := store.Connection{State: store.Connected}
	cases := []struct {
		name   string
		tenant store.Tenant
		user   store.User
		want   []connect.Feature
	}{
		{"not connected", perUser, store.User{}, nil},
		{"delegation covers all", store.Tenant{AuthMode: store.AuthDelegation}, store.User{Connection: connected}, []connect.Feature{connect.Mail, connect.Contacts, connect.Calendar}},
		{"Calendar unticked", perUser, store.User{Connection: connected, Grant: store.Grant{Scopes: connect.Scopes([]connect.Feature{connect.Mail, connect.Contacts})}},
			[]connect.Feature{connect.Mail, connect.Contacts}},
		{"only sign-in scopes", perUser, store.User{Connection: connected, Grant: store.Grant{Scopes: []string{"openid", "email"}}}, []connect.Feature{}},
	}
	for _, c := range cases {
		if got := setup.Granted(c.tenant, c.user); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// The form's suggestions: the user's own contact labels (not Google's
// system groups) and every calendar of theirs.
func TestGoogleSuggestions(t *testing.T) {
	ctx := context.Background()
	g := fakegoogle.Started(t, fakegoogle.Options{Clock: clock.Real{}})
	g.AddUser(fakegoogle.User{Email: "ann@firm.test"})
	if _, err := g.AddContact(fakegoogle.SeedContact{User: "ann@firm.test", Given: "Carol", Groups: []string{"Clients"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.AddCalendar("ann@firm.test", "Work"); err != nil {
		t.Fatal(err)
	}
	fac := &workspace.Factory{Endpoint: g.URL(), Tokens: g.Tokens}
	labels, err := setup.GoogleLabels(ctx, fac, "ann@firm.test")
	if err != nil || !slices.Equal(labels, []string{"Clients"}) {
		t.Errorf("labels %v, %v", labels, err)
	}
	cals, err := setup.GoogleCalendars(ctx, fac, "ann@firm.test")
	if err != nil || !slices.Contains(cals, "Work") || len(cals) < 2 {
		t.Errorf("calendars %v, %v (want the primary and Work)", cals, err)
	}
	if _, err := setup.GoogleLabels(ctx, fac, "nobody@firm.test"); err == nil {
		t.Error("labels of a user Google does not know: no error")
	}
}

// The roster's users say what their mail came to today (not another
// day's counts) and their newest failure.
func TestRosterShowsTodayAndTheLastError(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2030, 3, 4, 15, 0, 0, 0, time.UTC))
	st := storetest.New(t, clk)
	c := refcrm.New(storetest.Client(t), "roster", nil)
	now := clk.Now()
	for _, u := range []store.User{
		{Email: "ann@firm.test", Passes: map[string]store.PassStatus{
			"mail":     {At: now, OK: true, Day: now.Format(time.DateOnly), Today: map[string]int{"posted": 3, "failed": 1}, LastFailure: `attachment "a.pdf" is 3 bytes, over the firm's limit of 2`},
			"contacts": {At: now.Add(-time.Hour), OK: false, Error: "people: connections.list: 503"},
		}},
		{Email: "bob@firm.test", Passes: map[string]store.PassStatus{
			"mail": {At: now.AddDate(0, 0, -1), OK: true, Day: now.AddDate(0, 0, -1).Format(time.DateOnly), Today: map[string]int{"posted": 9}, LastFailure: "no contact"},
		}},
	} {
		u.TenantID = "firm"
		if _, err := st.Users().Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	s := &setup.Service{Store: st, CRM: c, Clock: clk}
	r, err := s.Roster(ctx, store.Tenant{ID: "firm", Domains: []string{"firm.test"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	ann, bob := r.Users[0], r.Users[1]
	if ann.Today["posted"] != 3 || ann.Today["failed"] != 1 || ann.LastError != "contacts: people: connections.list: 503" {
		t.Errorf("ann: today %v, last error %q", ann.Today, ann.LastError)
	}
	if bob.Today != nil || bob.LastError != "a message failed: no contact" {
		t.Errorf("bob: today %v (yesterday's counts are not today's), last error %q", bob.Today, bob.LastError)
	}
}
