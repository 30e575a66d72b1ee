package sandbox

import (
	"context"
	"testing"

	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/store/storetest"
)

// Seeding twice keeps what a user changed in between.
func TestSeedIsIdempotentAndKeepsChanges(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t, nil)
	if err := Seed(ctx, st, DemoFirm()); err != nil {
		t.Fatalf("Seed: %v", err)
	}
	if _, err := st.Users().Update(ctx, "ann@demo.test", func(u *store.User) error { u.Attention = "kept"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := Seed(ctx, st, DemoFirm()); err != nil {
		t.Fatalf("second Seed: %v", err)
	}
	u, err := st.Users().Get(ctx, "ann@demo.test")
	if err != nil || u.Attention != "kept" {
		t.Errorf("after reseed ann = %+v, %v; want her change kept", u, err)
	}
	users, _ := st.Users().ListByTenant(ctx, "demo")
	if len(users) != len(DemoFirm().Users) {
		t.Errorf("demo firm has %d users, want %d", len(users), len(DemoFirm().Users))
	}
}

// The demo firm's Google data loads into the fake, and its users are the
// firm's users.
func TestDemoGoogleSeedLoads(t *testing.T) {
	f := DemoFirm()
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
		if _, err := crmStore.Import(ctx, DemoFirm().CRM); err != nil {
			t.Fatalf("Import: %v", err)
		}
	}
	for _, u := range DemoFirm().Users {
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
