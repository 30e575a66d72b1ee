package wiring

import (
	"context"
	"testing"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/config"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/instance"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/secrets"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/store/storetest"
	"github.com/crmsync/crmsync/shared/workspace"
)

// Each tenant's users are acted for the way the tenant chose.
func TestTokensFollowTheTenantsAuthMode(t *testing.T) {
	ctx := context.Background()
	g := fakegoogle.New(fakegoogle.Options{Clock: clock.Real{}})
	g.Start()
	t.Cleanup(g.Close)
	for _, u := range []string{"ann@deleg.test", "bob@oauth.test"} {
		g.AddUser(fakegoogle.User{Email: u})
	}
	key, clientID, err := g.AddServiceAccount("sa@p.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	g.AuthorizeDelegation(clientID, workspace.GmailScopes...)
	vals := map[string]string{secrets.EnvName(secrets.GoogleDelegationKey): string(key)}
	sec, _ := secrets.NewLocal("", func(k string) (string, bool) { v, ok := vals[k]; return v, ok })
	st := storetest.New(t, nil)
	st.Tenants().Create(ctx, store.Tenant{ID: "deleg", Name: "D", CRMName: "X", AuthMode: store.AuthDelegation})
	st.Tenants().Create(ctx, store.Tenant{ID: "oauth", Name: "O", CRMName: "X", AuthMode: store.AuthUserOAuth})
	st.Users().Create(ctx, store.User{TenantID: "deleg", Email: "ann@deleg.test"})
	st.Users().Create(ctx, store.User{TenantID: "oauth", Email: "bob@oauth.test"})
	env := &instance.Env{Config: config.Config{ProjectID: "p", GoogleAPIEndpoint: g.URL(), GoogleTokenURL: g.URL() + "/token"},
		Log: logging.Discard(), Store: st, Secrets: sec}

	gm, err := Google(env).Gmail(ctx, "ann@deleg.test")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := gm.Users.GetProfile("me").Do(); err != nil || p.EmailAddress != "ann@deleg.test" {
		t.Errorf("delegated tenant: %v, %v", p, err)
	}
	if _, err := Google(env).Gmail(ctx, "bob@oauth.test"); !failure.Is(err, failure.AuthRevoked) {
		t.Errorf("a per-user tenant's user without a grant: %v, want AuthRevoked", err)
	}
	if _, err := CRM(ctx, env); !failure.Is(err, failure.Permanent) {
		t.Errorf("CRM without CRM_URL: %v, want Permanent", err)
	}
	env.Config.CRMURL = "http://127.0.0.1:1/"
	if _, err := CRM(ctx, env); !failure.Is(err, failure.NotFound) {
		t.Errorf("CRM without its key: %v, want the secret's NotFound", err)
	}
}
