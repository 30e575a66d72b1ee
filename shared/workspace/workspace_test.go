package workspace_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"
	gmail "google.golang.org/api/gmail/v1"
	iamcredentials "google.golang.org/api/iamcredentials/v1"
	"google.golang.org/api/option"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/workspace"
	"google.golang.org/api/googleapi"
)

func fake(t *testing.T, opts fakegoogle.Options) *fakegoogle.Server {
	f := fakegoogle.Started(t, opts)
	f.AddUser(fakegoogle.User{Email: "ann@demo.test"})
	return f
}

var noWait = workspace.Retry{Sleep: func(context.Context, time.Duration) error { return nil }}

func TestClassifyAndRetry(t *testing.T) {
	ctx := context.Background()
	f := fake(t, fakegoogle.Options{Clock: clock.Real{}})
	fac := &workspace.Factory{Tokens: f.Tokens, Endpoint: f.URL()}
	g, err := fac.Gmail(ctx, "ann@demo.test")
	if err != nil {
		t.Fatal(err)
	}
	_, err = workspace.Call(ctx, noWait, "messages.get", func() (any, error) { return g.Users.Messages.Get("me", "nope").Do() })
	if failure.KindOf(err) != failure.NotFound {
		t.Errorf("missing message: %v", err)
	}
	// Two 503s and a 429 are retried through; the call names itself.
	f.SetFault("gmail.users.getProfile", &fakegoogle.Fault{Script: []int{503, 500, 429}})
	p, err := workspace.Call(ctx, noWait, "getProfile", func() (any, error) { return g.Users.GetProfile("me").Do() })
	if err != nil || p == nil {
		t.Fatalf("through three transient errors: %v", err)
	}
	// Out of budget: the last error, with its kind.
	f.SetFault("gmail.users.getProfile", &fakegoogle.Fault{Rate: 1, Codes: []int{503}})
	_, err = workspace.Call(ctx, workspace.Retry{Attempts: 3, Sleep: noWait.Sleep}, "getProfile", func() (any, error) { return g.Users.GetProfile("me").Do() })
	if failure.KindOf(err) != failure.Transient || !failure.Is(err, failure.Transient) {
		t.Errorf("after the budget: %v", err)
	}
	f.SetFault("gmail.users.getProfile", nil)
	// Gmail's and Calendar's usage-limit 403s (the project's rate limit,
	// rateLimitExceeded) are rate limits, retried like 429; a 403 that
	// is a permission problem is not.
	f.SetFault("gmail.users.getProfile", &fakegoogle.Fault{Script: []int{403, 403}})
	calls := 0
	if _, err := workspace.Call(ctx, noWait, "getProfile", func() (any, error) { calls++; return g.Users.GetProfile("me").Do() }); err != nil || calls != 3 {
		t.Errorf("through two rate-limit 403s: %v after %d calls", err, calls)
	}
	f.SetFault("gmail.users.getProfile", &fakegoogle.Fault{Rate: 1, Codes: []int{403}})
	_, err = workspace.Call(ctx, workspace.Retry{Attempts: 2, Sleep: noWait.Sleep}, "getProfile", func() (any, error) { return g.Users.GetProfile("me").Do() })
	if failure.KindOf(err) != failure.Quota {
		t.Errorf("a 403 rate limit: %v, want kind Quota", err)
	}
	f.SetFault("gmail.users.getProfile", nil)
	for reason, want := range map[string]failure.Kind{"userRateLimitExceeded": failure.Quota, "rateLimitExceeded": failure.Quota,
		"dailyLimitExceeded": failure.Quota, "quotaExceeded": failure.Quota, "domainPolicy": failure.Forbidden, "forbidden": failure.Forbidden} {
		err := workspace.Classify("op", &googleapi.Error{Code: 403, Errors: []googleapi.ErrorItem{{Reason: reason}}})
		if failure.KindOf(err) != want {
			t.Errorf("403 %s: %v, want %v", reason, failure.KindOf(err), want)
		}
	}
	// A revoked grant is AuthRevoked and not retried.
	f.RevokeUser("ann@demo.test")
	calls = 0
	_, err = workspace.Call(ctx, noWait, "getProfile", func() (any, error) { calls++; return g.Users.GetProfile("me").Do() })
	if failure.KindOf(err) != failure.AuthRevoked || calls != 1 {
		t.Errorf("revoked: %v after %d calls", err, calls)
	}
}

func TestExpiredCursorsAreCursorExpired(t *testing.T) {
	ctx := context.Background()
	f := fake(t, fakegoogle.Options{Clock: clock.Real{}})
	fac := &workspace.Factory{Tokens: f.Tokens, Endpoint: f.URL()}
	cal, _ := fac.Calendar(ctx, "ann@demo.test")
	list, err := cal.Events.List("primary").Do()
	if err != nil {
		t.Fatal(err)
	}
	ppl, _ := fac.People(ctx, "ann@demo.test")
	conn, err := ppl.People.Connections.List("people/me").PersonFields("names").RequestSyncToken(true).Do()
	if err != nil {
		t.Fatal(err)
	}
	f.InvalidateSyncTokens("ann@demo.test")
	_, err = workspace.Call(ctx, noWait, "events.list", func() (*calendar.Events, error) { return cal.Events.List("primary").SyncToken(list.NextSyncToken).Do() })
	if failure.KindOf(err) != failure.CursorExpired {
		t.Errorf("Calendar 410: %v", err)
	}
	_, err = workspace.Call(ctx, noWait, "connections.list", func() (any, error) {
		return ppl.People.Connections.List("people/me").PersonFields("names").SyncToken(conn.NextSyncToken).Do()
	})
	if failure.KindOf(err) != failure.CursorExpired {
		t.Errorf("People EXPIRED_SYNC_TOKEN: %v", err)
	}
}

func TestDelegatedTokens(t *testing.T) {
	ctx := context.Background()
	f := fake(t, fakegoogle.Options{Clock: clock.Real{}})
	key, clientID, err := f.AddServiceAccount("crmsync@p.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	fac := &workspace.Factory{Tokens: workspace.Delegated(key, "", nil), Endpoint: f.URL()}
	g, _ := fac.Gmail(ctx, "ann@demo.test")
	_, err = workspace.Call(ctx, noWait, "getProfile", func() (any, error) { return g.Users.GetProfile("me").Do() })
	// Google's unauthorized_client: the Admin console does not authorize
	// the client for the scopes. The deployment's to fix, not the user's.
	if failure.KindOf(err) != failure.Configuration || !strings.Contains(failure.Message(err), "Domain-wide delegation") {
		t.Errorf("before the admin authorizes the client: %v, want Configuration saying where to authorize it", err)
	}
	f.AuthorizeDelegation(clientID, workspace.GmailScopes()...)
	g, _ = fac.Gmail(ctx, "ann@demo.test")
	p, err := g.Users.GetProfile("me").Do()
	if err != nil || p.EmailAddress != "ann@demo.test" {
		t.Errorf("delegated: %v, %v", p, err)
	}
}

// The delegation assertion is stamped with the product's clock: on a
// sandbox whose clock is a year ahead (fake Google and product alike) it is
// accepted, and one stamped with the system clock is refused as Google
// refuses an assertion outside its time window.
func TestDelegationAssertionUsesTheProductsClock(t *testing.T) {
	ctx := context.Background()
	ahead := clock.Offset{By: 365 * 24 * time.Hour}
	f := fake(t, fakegoogle.Options{Clock: ahead})
	key, clientID, err := f.AddServiceAccount("crmsync@p.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	f.AuthorizeDelegation(clientID, workspace.GmailScopes()...)
	for _, tt := range []struct {
		name string
		clk  clock.Clock
		ok   bool
	}{{"on the sandbox's clock", ahead, true}, {"on the system clock", clock.Real{}, false}} {
		fac := &workspace.Factory{Tokens: workspace.Delegated(key, f.URL()+"/token", tt.clk), Endpoint: f.URL()}
		g, _ := fac.Gmail(ctx, "ann@demo.test")
		p, err := workspace.Call(ctx, noWait, "getProfile", func() (*gmail.Profile, error) { return g.Users.GetProfile("me").Do() })
		if tt.ok && (err != nil || p.EmailAddress != "ann@demo.test") {
			t.Errorf("%s: %v, %v", tt.name, p, err)
		}
		if !tt.ok && (!failure.Is(err, failure.Configuration) || !strings.Contains(err.Error(), "Invalid JWT")) {
			t.Errorf("%s: %v, want the token endpoint's Invalid JWT, as Configuration", tt.name, err)
		}
	}
}

// Keyless delegation: the function's own identity has Google sign the
// assertion (IAM Credentials signJwt) as the delegation account, so no
// service-account key exists. Without roles/iam.serviceAccountTokenCreator
// on that account, signing is refused: Configuration (the deployment's,
// not the user's grant).
func TestKeylessDelegationSignsThroughIAMCredentials(t *testing.T) {
	ctx := context.Background()
	f := fake(t, fakegoogle.Options{Clock: clock.Real{}})
	const delegation, fn = "crmsync-delegation@p.iam.gserviceaccount.com", "crmsync-web@p.iam.gserviceaccount.com"
	clientID, err := f.AddKeylessServiceAccount(delegation)
	if err != nil {
		t.Fatal(err)
	}
	f.AuthorizeDelegation(clientID, workspace.GmailScopes()...)
	iam, err := iamcredentials.NewService(ctx, option.WithEndpoint(f.URL()+"/"),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: f.IdentityToken(fn)})))
	if err != nil {
		t.Fatal(err)
	}
	fac := &workspace.Factory{Tokens: workspace.Keyless(delegation, iam, f.URL()+"/token", clock.Real{}), Endpoint: f.URL()}
	profile := func() (*gmail.Profile, error) {
		g, err := fac.Gmail(ctx, "ann@demo.test")
		if err != nil {
			return nil, err
		}
		return workspace.Call(ctx, noWait, "getProfile", func() (*gmail.Profile, error) { return g.Users.GetProfile("me").Do() })
	}
	if _, err := profile(); failure.KindOf(err) != failure.Configuration || !strings.Contains(err.Error(), "signJwt") ||
		!strings.Contains(failure.Message(err), "roles/iam.serviceAccountTokenCreator") {
		t.Errorf("without the token creator role: %v, want Configuration naming signJwt and the role", err)
	}
	f.GrantTokenCreator(fn, delegation)
	if p, err := profile(); err != nil || p.EmailAddress != "ann@demo.test" {
		t.Errorf("keyless delegation: %v, %v", p, err)
	}
}

// Whose fault a token-endpoint error is, for the answers Google's token
// endpoint gives (https://developers.google.com/identity/protocols/oauth2/web-server#exchange-errors,
// https://developers.google.com/identity/protocols/oauth2/service-account#error-codes):
// a revoked or expired grant, or a user who no longer exists, is the
// user's (AuthRevoked: reconnect); a refused client, client scopes or
// assertion is the deployment's (Configuration: never disconnect); a rate
// limit or Google's outage is retried.
func TestTokenEndpointErrorsAreAttributed(t *testing.T) {
	for _, tt := range []struct {
		status     int
		code, desc string
		want       failure.Kind
	}{
		{400, "invalid_grant", "Token has been expired or revoked.", failure.AuthRevoked},
		{400, "invalid_grant", "Invalid email or User ID", failure.AuthRevoked},
		{400, "invalid_grant", "Invalid JWT Signature.", failure.Configuration},
		{400, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.", failure.Configuration},
		{401, "invalid_client", "Unauthorized", failure.Configuration},
		{401, "invalid_client", "The OAuth client was not found.", failure.Configuration},
		{401, "unauthorized_client", "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.", failure.Configuration},
		{403, "access_denied", "Requested client not authorized.", failure.AuthRevoked},
		{429, "rate_limit_exceeded", "Rate limit exceeded", failure.Quota},
		{503, "", "", failure.Transient},
		{400, "invalid_request", "Missing required parameter: refresh_token", failure.Other},
	} {
		body := `{"error":"` + tt.code + `","error_description":"` + tt.desc + `"}`
		err := workspace.Classify("token", &oauth2.RetrieveError{Response: &http.Response{StatusCode: tt.status}, Body: []byte(body), ErrorCode: tt.code, ErrorDescription: tt.desc})
		if got := failure.KindOf(err); got != tt.want {
			t.Errorf("%d %s %q: %v, want %v", tt.status, tt.code, tt.desc, got, tt.want)
		}
	}
}
