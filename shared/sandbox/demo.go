package sandbox

import (
	"context"
	"time"
	_ "time/tzdata" // the demo's zone on a machine without a zone database

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/store"
)

// Firm is the demo data the sandbox starts with.
type Firm struct {
	Tenant store.Tenant
	Users  []store.User
	// Google is the firm's fake Google Workspace: its users' mailboxes,
	// contacts and calendars.
	Google fakegoogle.Seed
	// CRM is the firm's data in the reference CRM.
	CRM refcrm.Dataset
}

// The demo firm's OAuth client and system sender.
const (
	OAuthClientID     = "crmsync-sandbox.apps.googleusercontent.com"
	OAuthClientSecret = "sandbox-oauth-secret"
	SystemSender      = "crmsync@demo.test"
)

// demoZone is the demo users' time zone.
const demoZone = "America/New_York"

// DemoFirm returns the sandbox's demo firm: Demo Advisors, whose CRM is
// called SmartOffice as in the product description, with an admin and a
// user. Its mail and events are dated relative to now (the sandbox's
// start), so the demo looks the same on any day: a message from yesterday,
// a review with Carol tomorrow, a weekly planning series from today.
func DemoFirm(now time.Time) Firm {
	ny, err := time.LoadLocation(demoZone)
	if err != nil {
		panic(err) // time/tzdata is embedded
	}
	local := now.In(ny)
	// at is the demo users' wall clock days after today, at hour:minute.
	at := func(days, hour, minute int) string {
		return time.Date(local.Year(), local.Month(), local.Day()+days, hour, minute, 0, 0, ny).Format(time.RFC3339)
	}
	day := func(days int) string {
		return time.Date(local.Year(), local.Month(), local.Day()+days, 0, 0, 0, 0, ny).Format(time.DateOnly)
	}
	return Firm{
		Tenant: store.Tenant{
			ID:      "demo",
			Name:    "Demo Advisors",
			CRMName: "SmartOffice",
			Domains: []string{"demo.test"},
			Admins:  []string{"ann@demo.test"},
			// Users connect Google themselves (per-user OAuth); the sandbox
			// connects Ann and Bob at start through the consent page, as
			// they would. Cat signs in and sets up on the web pages.
			AuthMode:             store.AuthUserOAuth,
			OAuthClientID:        OAuthClientID,
			AttachmentLimitBytes: 10 << 20,
			AllowAllContacts:     true,
			AutoMailSync:         true,
		},
		Users: []store.User{
			{TenantID: "demo", Email: "ann@demo.test", DisplayName: "Ann Archer", Connection: store.Connection{State: store.Connected}, SyncState: store.Active, Mail: demoMail(), Contacts: demoContacts(), Calendar: demoCalendar()},
			// Bob also has automatic mail sync to clients.
			{TenantID: "demo", Email: "bob@demo.test", DisplayName: "Bob Brandt", Connection: store.Connection{State: store.Connected}, SyncState: store.Active, Mail: autoMail(), Contacts: demoContacts(), Calendar: demoCalendar()},
		},
		CRM: refcrm.Dataset{
			Sets:    []string{"Newsletter"},
			Clients: []refcrm.ImportClient{{Key: "client-household", Name: "Client household"}, {Key: "client-co", Name: "Client Co."}},
			Contacts: []refcrm.ImportContact{
				{Key: "ann", Type: crm.TypeAdvisor, FirstName: "Ann", LastName: "Archer", Emails: []string{"ann@demo.test"}},
				{Key: "bob", Type: crm.TypeAdvisor, FirstName: "Bob", LastName: "Brandt", Emails: []string{"bob@demo.test"}},
				// Carol belongs to two clients: auto sync must guess and ask for review.
				{Key: "carol", FirstName: "Carol", LastName: "Client", Emails: []string{"carol@client.test"}, Phones: []string{"+1 212 555 0100"},
					BirthDate: "1968-04-12", Sets: []string{"Newsletter"}, Clients: []string{"client-household", "client-co"}},
				{Key: "dan", Type: crm.TypeDependent, FirstName: "Dan", LastName: "Client", Emails: []string{"dan@client.test"}, Clients: []string{"client-household"}},
				{Key: "frank", FirstName: "Frank", LastName: "Finance", Emails: []string{"frank@corp.test"}, Sets: []string{"Newsletter"}, Clients: []string{"client-co"}},
			},
			Records: []refcrm.ImportRecord{{Key: "carol-life", Type: crm.RecordPolicy, Contact: "carol", Title: "Life policy L-1001"}},
			Users: []refcrm.ImportUser{
				{Key: "ann", Email: "ann@demo.test", Name: "Ann Archer", Domains: []string{"demo.test"}, IntegrationEnabled: true, Contact: "ann"},
				{Key: "bob", Email: "bob@demo.test", Name: "Bob Brandt", Domains: []string{"demo.test"}, IntegrationEnabled: true, Contact: "bob"},
				{Key: "cat", Email: "cat@demo.test", Name: "Cat Chen", Domains: []string{"demo.test"}, IntegrationEnabled: true},
				{Key: "dora", Email: "dora@demo.test", Name: "Dora Diaz", Domains: []string{"demo.test"}},
			},
		},
		Google: fakegoogle.Seed{
			Users: []fakegoogle.User{
				{Email: "ann@demo.test", Name: "Ann Archer", TimeZone: demoZone},
				{Email: "bob@demo.test", Name: "Bob Brandt", TimeZone: demoZone},
				{Email: "cat@demo.test", Name: "Cat Chen", TimeZone: demoZone},
				{Email: "dora@demo.test", Name: "Dora Diaz", TimeZone: demoZone},
				{Email: SystemSender, Name: "CRM Sync", TimeZone: demoZone},
			},
			Messages: []fakegoogle.SeedMessage{{User: "ann@demo.test", LabelIDs: []string{"INBOX", "UNREAD"},
				Raw: "From: \"Carol Client\" <carol@client.test>\r\nTo: ann@demo.test\r\nSubject: Portfolio review\r\n" +
					"Date: " + now.Add(-24*time.Hour).In(ny).Format(time.RFC1123Z) + "\r\nMessage-ID: <demo-1@client.test>\r\n\r\n" +
					"Hello Ann,\r\n\r\nCould we go over my portfolio next week?\r\n\r\nCarol\r\n"}},
			Contacts: []fakegoogle.SeedContact{
				{User: "ann@demo.test", Given: "Carol", Family: "Client", Emails: []string{"carol@client.test"}, Phones: []string{"+1 212 555 0100"}},
				{User: "ann@demo.test", Given: "Dan", Family: "Dependent", Emails: []string{"dan@client.test"}, Groups: []string{"SmartOffice"}},
				{User: "cat@demo.test", Given: "Frank", Family: "Finance", Emails: []string{"frank@corp.test"}},
				{User: "cat@demo.test", Given: "Gina", Family: "Green", Emails: []string{"gina@green.test"}, Phones: []string{"+1 212 555 0199"}},
			},
			Events: []fakegoogle.SeedEvent{
				{User: "ann@demo.test", Summary: "Portfolio review with Carol", Start: at(1, 10, 0), End: at(1, 11, 0),
					TimeZone: demoZone, Attendees: []string{"carol@client.test"}},
				{User: "ann@demo.test", Summary: "Weekly planning", Start: at(0, 9, 0), End: at(0, 9, 30),
					TimeZone: demoZone, Recurrence: []string{"RRULE:FREQ=WEEKLY;COUNT=10"}},
				{User: "bob@demo.test", Summary: "Compliance training", Start: day(2), End: day(3)},
				{User: "cat@demo.test", Summary: "Plan review with Frank", Start: at(2, 14, 0), End: at(2, 15, 0),
					TimeZone: demoZone, Attendees: []string{"frank@corp.test"}},
			},
		},
	}
}

// demoMail is the demo users' e-mail posting setup: the product's defaults.
func demoMail() store.MailSetup {
	return store.MailSetup{Enabled: true, Outgoing: []string{"To", "Cc", "Bcc"}, Incoming: []string{"From"},
		SkipInternal: true, IncludeAttachments: true, OfferLinkedRecords: true}
}

// autoMail is label posting plus automatic mail sync.
func autoMail() store.MailSetup {
	m := demoMail()
	m.AutoSync = true
	return m
}

// demoContacts is the demo users' contact sync: both ways, all contacts.
func demoContacts() store.ContactsSetup {
	return store.ContactsSetup{Direction: "both", BirthDates: true, CreateType: "contact", OnGoogleDelete: "delete"}
}

// demoCalendar is the demo users' calendar sync: both ways, primary
// calendar, every option on.
func demoCalendar() store.CalendarSetup {
	return store.CalendarSetup{Direction: "both", Recurring: true, AllDay: true, Documents: true, ContactAssociation: true}
}

// Seed stores f where it is not stored yet. What exists is left as it is, so
// a restarted sandbox keeps what the user changed.
func Seed(ctx context.Context, st *store.Store, f Firm) error {
	if _, err := st.Tenants().Create(ctx, f.Tenant); err != nil && !failure.Is(err, failure.Conflict) {
		return err
	}
	for _, u := range f.Users {
		if _, err := st.Users().Create(ctx, u); err != nil && !failure.Is(err, failure.Conflict) {
			return err
		}
	}
	return nil
}
