package sandbox

import (
	"context"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/store/storetest"
)

// Seeding twice keeps what a user changed in between.
func TestSeedIsIdempotentAndKeepsChanges(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t, nil)
	if err := Seed(ctx, st, DemoFirm(time.Now())); err != nil {
		t.Fatalf("Seed: %v", err)
	}
	if _, err := st.Users().Update(ctx, "ann@demo.test", func(u *store.User) error { u.Attention = "kept"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := Seed(ctx, st, DemoFirm(time.Now())); err != nil {
		t.Fatalf("second Seed: %v", err)
	}
	u, err := st.Users().Get(ctx, "ann@demo.test")
	if err != nil || u.Attention != "kept" {
		t.Errorf("after reseed ann = %+v, %v; want her change kept", u, err)
	}
	users, _ := st.Users().ListByTenant(ctx, "demo")
	if len(users) != len(DemoFirm(time.Now()).Users) {
		t.Errorf("demo firm has %d users, want %d", len(users), len(DemoFirm(time.Now()).Users))
	}
}

// The demo firm's Google data loads into the fake, and its users are the
// firm's users.
func TestDemoGoogleSeedLoads(t *testing.T) {
	f := DemoFirm(time.Now())
	g := fakegoogle.New(fakegoogle.Options{})
	if err := g.LoadSeed(f.Google); err != nil {
		t.Fatalf("LoadSeed: %v", err)
	}
	google := map[string]bool{}
	for _, u := range f.Google.Users {
		google[u.Email] = true
	}
	for _, u := range f.Users {
		if !google[u.Email] {
			t.Errorf("firm user %s has no Google account", u.Email)
		}
	}
	for _, u := range f.CRM.Users {
		if !google[u.Email] {
			t.Errorf("CRM user %s has no Google account", u.Email)
		}
	}
	if !google[SystemSender] {
		t.Errorf("the system sender %s has no mailbox", SystemSender)
	}
}

// The demo firm's CRM data imports, twice, and every firm user is a CRM
// user with the integration right and an own contact record.
func TestDemoCRMImports(t *testing.T) {
	ctx := context.Background()
	crmStore := refcrm.New(storetest.Client(t), "demo", nil)
	for range 2 {
		if _, err := crmStore.Import(ctx, DemoFirm(time.Now()).CRM); err != nil {
			t.Fatalf("Import: %v", err)
		}
	}
	for _, u := range DemoFirm(time.Now()).Users {
		cu, err := crmStore.UserByEmail(ctx, u.Email)
		if err != nil || !cu.IntegrationEnabled || cu.ContactID == "" {
			t.Errorf("CRM user for %s: %+v, %v", u.Email, cu, err)
		}
	}
	carol, err := crmStore.FindContacts(ctx, "", "carol@client.test")
	if err != nil || len(carol) != 1 || len(carol[0].ClientIDs) != 2 {
		t.Errorf("carol, the contact of two clients: %+v, %v", carol, err)
	}
}

// The demo firm's mail and events are dated from the sandbox's start, so
// the demo (and every test that uses it) is the same on any day: the
// review with Carol is tomorrow and the message from Carol yesterday,
// whether the sandbox starts today or a year from now.
func TestDemoFirmIsRelativeToItsStart(t *testing.T) {
	for _, now := range []time.Time{time.Now(), time.Now().AddDate(1, 0, 0), time.Now().AddDate(5, 3, 0).Add(-7 * time.Hour)} {
		f := DemoFirm(now)
		for _, e := range f.Google.Events {
			var start, end time.Time
			var err error
			if len(e.Start) == len(time.DateOnly) {
				start, err = time.ParseInLocation(time.DateOnly, e.Start, time.UTC)
				end, _ = time.ParseInLocation(time.DateOnly, e.End, time.UTC)
			} else {
				start, err = time.Parse(time.RFC3339, e.Start)
				end, _ = time.Parse(time.RFC3339, e.End)
			}
			if err != nil || !end.After(start) {
				t.Fatalf("%s: event %q runs %q to %q", now, e.Summary, e.Start, e.End)
			}
			if d := start.Sub(now); d < -24*time.Hour || d > 4*24*time.Hour {
				t.Errorf("start %s: event %q starts %v from the start, want within a few days", now, e.Summary, d.Round(time.Hour))
			}
			if e.Summary == "Portfolio review with Carol" && !start.After(now) {
				t.Errorf("start %s: the review with Carol (%s) is not ahead, so the console would not show it moving", now, e.Start)
			}
		}
		for _, m := range f.Google.Messages {
			msg, err := mail.ReadMessage(strings.NewReader(m.Raw))
			if err != nil {
				t.Fatal(err)
			}
			date, err := msg.Header.Date()
			if err != nil || date.After(now) || now.Sub(date) > 48*time.Hour {
				t.Errorf("start %s: demo message dated %v (%v), want within the last two days", now, date, err)
			}
		}
	}
}
