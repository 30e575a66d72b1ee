package sandbox

import (
	"context"

	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/store"
)

// Firm is the demo data the sandbox starts with.
type Firm struct {
	Tenant store.Tenant
	Users  []store.User
}

// DemoFirm returns the sandbox's demo firm: Demo Advisors, whose CRM is
// called SmartOffice as in the product description, with an admin and a
// user.
func DemoFirm() Firm {
	return Firm{
		Tenant: store.Tenant{
			ID:                   "demo",
			Name:                 "Demo Advisors",
			CRMName:              "SmartOffice",
			Domains:              []string{"demo.test"},
			Admins:               []string{"ann@demo.test"},
			AuthMode:             store.AuthUserOAuth,
			AttachmentLimitBytes: 10 << 20,
			AllowAllContacts:     true,
		},
		Users: []store.User{
			{TenantID: "demo", Email: "ann@demo.test", DisplayName: "Ann Archer"},
			{TenantID: "demo", Email: "bob@demo.test", DisplayName: "Bob Brandt"},
		},
	}
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
