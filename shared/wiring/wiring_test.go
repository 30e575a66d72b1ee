package wiring

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/config"
	"github.com/crmsync/crmsync/shared/connect"
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
	g := fakegoogle.Started(t, fakegoogle.Options{Clock: clock.Real{}})
	for _, u := range []string{"ann@deleg.test", "bob@oauth.test"} {
		g.AddUser(fakegoogle.User{Email: u})
	}
	key, clientID, err := g.AddServiceAccount("sa@p.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	g.AuthorizeDelegation(clientID, workspace.GmailScopes()...)
	vals := map[string]string{secrets.EnvName(secrets.GoogleDelegationKey): string(key)}
	sec, _ := secrets.NewLocal("", func(k string) (string, bool) { v, ok := vals[k]; return v, ok })
	st := storetest.New(t, nil)
	st.Tenants().Create(ctx, store.Tenant{ID: "deleg", Name: "D", CRMName: "X", AuthMode: store.AuthDelegation})
	st.Tenants().Create(ctx, store.Tenant{ID: "oauth", Name: "O", CRMName: "X", AuthMode: store.AuthUserOAuth})
	st.Users().Create(ctx, store.User{TenantID: "deleg", Email: "ann@deleg.test"})
	st.Users().Create(ctx, store.User{TenantID: "oauth", Email: "bob@oauth.test"})
	env := &instance.Env{Config: config.Config{ProjectID: "p", GoogleAPIEndpoint: g.URL(), GoogleTokenURL: g.URL() + "/token"},
		Log: logging.Discard(), Store: st, Secrets: sec, Clock: clock.Real{}}

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

// A per-user tenant: the user connects through the consent page, and the
// engines' clients then act with the stored (sealed) grant.
func TestPerUserGrantFromTheConnectFlow(t *testing.T) {
	ctx := context.Background()
	g := fakegoogle.Started(t, fakegoogle.Options{Clock: clock.Real{}})
	g.AddUser(fakegoogle.User{Email: "cat@oauth.test"})
	const callback = "https://crmsync.example/Web/connect/callback"
	g.AddClient(fakegoogle.OAuthClient{ID: "client-1", Secret: "s3cret", RedirectURIs: []string{callback}})
	vals := map[string]string{secrets.EnvName(secrets.OAuthClientSecret): "s3cret",
		secrets.EnvName(secrets.TokenEncryptionKey): "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
	sec, _ := secrets.NewLocal("", func(k string) (string, bool) { v, ok := vals[k]; return v, ok })
	st := storetest.New(t, nil)
	st.Tenants().Create(ctx, store.Tenant{ID: "oauth", Name: "O", CRMName: "X", AuthMode: store.AuthUserOAuth, OAuthClientID: "client-1"})
	st.Users().Create(ctx, store.User{TenantID: "oauth", Email: "cat@oauth.test"})
	env := &instance.Env{Config: config.Config{ProjectID: "p", GoogleAPIEndpoint: g.URL(), GoogleTokenURL: g.URL() + "/token",
		GoogleAuthURL: g.URL() + "/o/oauth2/v2/auth", GoogleRevokeURL: g.URL() + "/revoke"}, Log: logging.Discard(), Store: st, Secrets: sec, Clock: clock.Real{}}
	flow, err := Flow(ctx, env, callback)
	if err != nil {
		t.Fatal(err)
	}
	authURL, err := flow.Begin(ctx, "cat@oauth.test", []connect.Feature{connect.Mail})
	if err != nil {
		t.Fatal(err)
	}
	back, err := fakegoogle.Consent(authURL, "cat@oauth.test", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := flow.Finish(ctx, back.Query().Get("state"), back.Query().Get("code")); err != nil {
		t.Fatal(err)
	}
	gm, err := Google(env).Gmail(ctx, "cat@oauth.test")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := gm.Users.GetProfile("me").Do(); err != nil || p.EmailAddress != "cat@oauth.test" {
		t.Errorf("Gmail with the user's own grant: %v, %v", p, err)
	}
}

// In production a push or scheduler endpoint does not start without its
// caller check; with it, only the allowed caller's token gets through.
func TestGuard(t *testing.T) {
	g := fakegoogle.Started(t, fakegoogle.Options{Clock: clock.Real{}})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	env := &instance.Env{Config: config.Config{Env: config.Production}, Log: logging.Discard(), Clock: clock.Real{}}
	if _, err := Guard(env, "Jobs", ok); !failure.Is(err, failure.Permanent) || !strings.Contains(err.Error(), "OIDC_AUDIENCES") {
		t.Errorf("production without OIDC settings: %v", err)
	}
	env.Config = config.Config{Env: config.Sandbox}
	if h, err := Guard(env, "Jobs", ok); err != nil || reflect.ValueOf(h).Pointer() != reflect.ValueOf(ok).Pointer() {
		t.Errorf("the sandbox without OIDC settings: %v", err)
	}
	const aud, push = "https://r-p.cloudfunctions.net/crmsync-jobs", "push@p.iam.gserviceaccount.com"
	env.Config = config.Config{Env: config.Production, GoogleJWKSURL: g.JWKSURL(), OIDCAudiences: []string{aud}, OIDCInvokers: []string{push}}
	h, err := Guard(env, "Jobs", ok)
	if err != nil {
		t.Fatal(err)
	}
	for token, want := range map[string]int{"": 401, g.OIDCToken(aud, push, time.Hour): 204, g.OIDCToken(aud, "other@p.iam.gserviceaccount.com", time.Hour): 403} {
		r := httptest.NewRequest("POST", "/", nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("token %.20q: %d, want %d", token, w.Code, want)
		}
	}
}

// A secret missing when the first pass asks (added a minute later by
// scripts/set-secrets.sh, or Secret Manager briefly away) is not
// remembered for the instance's life: the next call reads it again.
func TestTokensRetryAFailedSetup(t *testing.T) {
	ctx := context.Background()
	vals := map[string]string{}
	sec, _ := secrets.NewLocal("", func(k string) (string, bool) { v, ok := vals[k]; return v, ok })
	st := storetest.New(t, nil)
	st.Tenants().Create(ctx, store.Tenant{ID: "oauth", Name: "O", CRMName: "X", AuthMode: store.AuthUserOAuth, OAuthClientID: "c"})
	st.Users().Create(ctx, store.User{TenantID: "oauth", Email: "bob@oauth.test", Grant: store.Grant{SealedRefreshToken: "v1.sealed-elsewhere"}})
	env := &instance.Env{Config: config.Config{ProjectID: "p"}, Log: logging.Discard(), Store: st, Secrets: sec, Clock: clock.Real{}}
	tokens := Tokens(env)
	_, err := tokens(ctx, "bob@oauth.test", workspace.GmailScopes())
	if err == nil || failure.Is(err, failure.Configuration) {
		t.Fatalf("without the secrets: %v, want the missing secret", err)
	}
	vals[secrets.EnvName(secrets.OAuthClientSecret)] = "s3cret"
	vals[secrets.EnvName(secrets.TokenEncryptionKey)] = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	// Now the flow is built; the grant, sealed under another key, does not
	// open: the deployment's problem, which proves the secrets were read.
	if _, err := tokens(ctx, "bob@oauth.test", workspace.GmailScopes()); !failure.Is(err, failure.Configuration) {
		t.Errorf("after the secrets were added: %v, want the grant not opening (Configuration)", err)
	}
}

// The admin page's delegation client ID: the configured one first, else
// the service account key's, else none.
func TestDelegationClientID(t *testing.T) {
	ctx := context.Background()
	env := func(configured string, vals map[string]string) *instance.Env {
		sec, _ := secrets.NewLocal("", func(k string) (string, bool) { v, ok := vals[k]; return v, ok })
		return &instance.Env{Config: config.Config{DelegationClientID: configured}, Secrets: sec}
	}
	key := map[string]string{secrets.EnvName(secrets.GoogleDelegationKey): `{"type":"service_account","client_id":"1234567890"}`}
	for _, c := range []struct {
		name string
		env  *instance.Env
		want string
	}{
		{"configured", env("999", key), "999"},
		{"from the key", env("", key), "1234567890"},
		{"keyless, not configured", env("", nil), ""},
		{"an unreadable key", env("", map[string]string{secrets.EnvName(secrets.GoogleDelegationKey): "not json"}), ""},
	} {
		if got := DelegationClientID(ctx, c.env); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
