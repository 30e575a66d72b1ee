package fakegoogle_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	gmail "google.golang.org/api/gmail/v1"
	"google.golang.org/api/option"
	people "google.golang.org/api/people/v1"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/fakegoogle"
)

const (
	clientID    = "crmsync-web.apps.googleusercontent.com"
	redirectURL = "https://crmsync.example/oauth/callback"
)

func oauthConfig(f *fakegoogle.Server, scopes ...string) *oauth2.Config {
	f.AddClient(fakegoogle.OAuthClient{ID: clientID, Secret: "s3cret", RedirectURIs: []string{redirectURL}})
	return &oauth2.Config{ClientID: clientID, ClientSecret: "s3cret", RedirectURL: redirectURL, Endpoint: f.Endpoint(), Scopes: scopes}
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// consent opens the consent page like a browser and presses a button as
// the user; it returns the query the fake redirected to the client with.
func consent(t *testing.T, authURL, email, decision string) url.Values {
	t.Helper()
	resp, err := http.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("consent page: %d %s", resp.StatusCode, page)
	}
	m := regexp.MustCompile(`name="request" value="([^"]+)"`).FindSubmatch(page)
	if m == nil || !strings.Contains(string(page), `id="allow"`) {
		t.Fatalf("consent page has no request or Allow button:\n%s", page)
	}
	base := authURL[:strings.Index(authURL, "/o/oauth2")]
	resp, err = noRedirects.PostForm(base+"/o/oauth2/v2/auth/decide", url.Values{"request": {string(m[1])}, "email": {email}, "decision": {decision}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), redirectURL) {
		t.Fatalf("decision answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query()
}

// invalidGrant asserts err is the token endpoint's error code. The jwt
// flow's RetrieveError leaves ErrorCode empty, so the body decides there.
func invalidGrant(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not an oauth2.RetrieveError", err)
	}
	got := re.ErrorCode
	if got == "" {
		var body struct {
			Error string `json:"error"`
		}
		json.Unmarshal(re.Body, &body)
		got = body.Error
	}
	if got != code {
		t.Fatalf("error %v, want the token endpoint's %s", err, code)
	}
}

func TestOAuthCodeFlowWithPKCEAndRefresh(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	ctx := context.Background()
	cfg := oauthConfig(f, fakegoogle.ScopeOpenID, fakegoogle.ScopeEmail, fakegoogle.ScopeGmailModify)
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("state-123", oauth2.AccessTypeOffline, oauth2.ApprovalForce, oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("login_hint", "ann@acme.test"), oauth2.SetAuthURLParam("nonce", "n-1"))
	q := consent(t, authURL, "ann@acme.test", "allow")
	if q.Get("state") != "state-123" || q.Get("code") == "" {
		t.Fatalf("redirect query %v: want the state back and a code", q)
	}
	// Without the verifier, or with another, the code is refused.
	_, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
	invalidGrant(t, err, "invalid_grant")

	q = consent(t, authURL, "ann@acme.test", "allow")
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || tok.AccessToken == "" || tok.Expiry.IsZero() {
		t.Fatalf("token %+v: want access and refresh tokens and an expiry", tok)
	}
	// A code works once.
	_, err = cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	invalidGrant(t, err, "invalid_grant")

	// The id_token verifies against the published keys.
	raw, _ := tok.Extra("id_token").(string)
	verifier2 := oidc.NewVerifier(fakegoogle.Issuer, oidc.NewRemoteKeySet(ctx, f.JWKSURL()), &oidc.Config{ClientID: clientID, Now: func() time.Time { return t0 }})
	idt, err := verifier2.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("id_token: %v", err)
	}
	var claims struct {
		Email    string `json:"email"`
		Verified bool   `json:"email_verified"`
		HD       string `json:"hd"`
	}
	idt.Claims(&claims)
	if claims.Email != "ann@acme.test" || !claims.Verified || claims.HD != "acme.test" || idt.Nonce != "n-1" {
		t.Errorf("id_token claims %+v nonce %q", claims, idt.Nonce)
	}
	if _, err := oidc.NewVerifier(fakegoogle.Issuer, oidc.NewRemoteKeySet(ctx, f.JWKSURL()), &oidc.Config{ClientID: "other", Now: func() time.Time { return t0 }}).Verify(ctx, raw); err == nil {
		t.Error("an id_token for another audience verified")
	}

	// The refresh token gets new access tokens that work with the API.
	fresh, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil || fresh.AccessToken == tok.AccessToken {
		t.Fatalf("refresh: %+v, %v", fresh, err)
	}
	svc, _ := gmail.NewService(ctx, option.WithEndpoint(f.URL()+"/"), option.WithTokenSource(oauth2.StaticTokenSource(fresh)))
	if p, err := svc.Users.GetProfile("me").Do(); err != nil || p.EmailAddress != "ann@acme.test" {
		t.Fatalf("API call with the refreshed token: %v", err)
	}

	// A later consent without prompt=consent issues no new refresh token.
	again := cfg.AuthCodeURL("s2", oauth2.AccessTypeOffline, oauth2.SetAuthURLParam("login_hint", "ann@acme.test"))
	tok2, err := cfg.Exchange(ctx, consent(t, again, "ann@acme.test", "allow").Get("code"))
	if err != nil || tok2.RefreshToken != "" {
		t.Errorf("second consent: refresh token %q, %v; want none", tok2.RefreshToken, err)
	}

	// Revoking the grant stops the refresh token and its access tokens.
	resp, err := http.PostForm(f.URL()+"/revoke", url.Values{"token": {tok.RefreshToken}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke: %v %v", resp.Status, err)
	}
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	invalidGrant(t, err, "invalid_grant")
	_, err = svc.Users.GetProfile("me").Do()
	apiErr(t, err, 401, "authError")
	resp, _ = http.PostForm(f.URL()+"/revoke", url.Values{"token": {tok.RefreshToken}})
	if resp.StatusCode != 400 {
		t.Errorf("revoking twice: %d, want 400 invalid_token", resp.StatusCode)
	}
	// RevokeUser (a password change, an admin) does the same for every grant.
	f.RevokeUser("ann@acme.test")
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token()
	if err == nil {
		t.Error("a grant survived RevokeUser")
	}
}

func TestOAuthConsentRefusalsAndBadRequests(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	cfg := oauthConfig(f, fakegoogle.ScopeGmailModify)
	q := consent(t, cfg.AuthCodeURL("st"), "ann@acme.test", "deny")
	if q.Get("error") != "access_denied" || q.Get("state") != "st" || q.Get("code") != "" {
		t.Errorf("denied consent redirected with %v", q)
	}
	for name, u := range map[string]string{
		"unknown client":   strings.Replace(cfg.AuthCodeURL("st"), clientID, "nobody", 1),
		"unregistered URI": strings.Replace(cfg.AuthCodeURL("st"), url.QueryEscape(redirectURL), url.QueryEscape("https://evil.example/cb"), 1),
	} {
		resp, err := noRedirects.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 && resp.StatusCode != 400 {
			t.Errorf("%s: %d, want an error page and no redirect", name, resp.StatusCode)
		}
	}
	bad := *cfg
	bad.ClientSecret = "wrong"
	code := consent(t, cfg.AuthCodeURL("st"), "ann@acme.test", "allow").Get("code")
	_, err := bad.Exchange(context.Background(), code)
	invalidGrant(t, err, "invalid_client")
}

func TestOAuthDomainWideDelegation(t *testing.T) {
	// The JWT library signs with the real time, as Google checks it.
	f := newFake(t, fakegoogle.Options{Clock: clock.Real{}})
	ctx := context.Background()
	key, saClientID, err := f.AddServiceAccount("crmsync@proj.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	jc, err := google.JWTConfigFromJSON(key, fakegoogle.ScopeGmailModify)
	if err != nil {
		t.Fatal(err)
	}
	jc.Subject = "ann@acme.test"
	// Before the Workspace admin authorizes the client: refused.
	_, err = jc.TokenSource(ctx).Token()
	invalidGrant(t, err, "unauthorized_client")

	f.AuthorizeDelegation(saClientID, fakegoogle.ScopeGmailModify, fakegoogle.ScopeContacts)
	tok, err := jc.TokenSource(ctx).Token()
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := gmail.NewService(ctx, option.WithEndpoint(f.URL()+"/"), option.WithTokenSource(oauth2.StaticTokenSource(tok)))
	if p, err := svc.Users.GetProfile("me").Do(); err != nil || p.EmailAddress != "ann@acme.test" {
		t.Fatalf("acting as ann: %+v, %v", p, err)
	}
	// A scope beyond the authorized ones, or an unknown user: refused.
	jc2, _ := google.JWTConfigFromJSON(key, fakegoogle.ScopeCalendar)
	jc2.Subject = "ann@acme.test"
	_, err = jc2.TokenSource(ctx).Token()
	invalidGrant(t, err, "unauthorized_client")
	jc.Subject = "ghost@acme.test"
	_, err = jc.TokenSource(ctx).Token()
	invalidGrant(t, err, "invalid_grant")
	// A key the fake never issued.
	other := fakegoogle.New(fakegoogle.Options{})
	otherKey, _, _ := other.AddServiceAccount("crmsync@proj.iam.gserviceaccount.com")
	jc3, _ := google.JWTConfigFromJSON(otherKey, fakegoogle.ScopeGmailModify)
	jc3.TokenURL, jc3.Subject = f.URL()+"/token", "ann@acme.test"
	_, err = jc3.TokenSource(ctx).Token()
	invalidGrant(t, err, "invalid_grant")
	// An assertion from a skewed clock (two hours behind).
	slow := fakegoogle.New(fakegoogle.Options{Clock: clock.NewFake(time.Now().Add(2 * time.Hour))})
	slow.Start()
	defer slow.Close()
	slow.AddUser(fakegoogle.User{Email: "ann@acme.test"})
	slowKey, slowID, _ := slow.AddServiceAccount("crmsync@proj.iam.gserviceaccount.com")
	slow.AuthorizeDelegation(slowID, fakegoogle.ScopeGmailModify)
	jc4, _ := google.JWTConfigFromJSON(slowKey, fakegoogle.ScopeGmailModify)
	jc4.Subject = "ann@acme.test"
	_, err = jc4.TokenSource(ctx).Token()
	invalidGrant(t, err, "invalid_grant")
}

func TestOIDCTokensForPushEndpoints(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	ctx := context.Background()
	const aud = "https://gmail-push-abc.a.run.app/"
	tok := f.OIDCToken(aud, "pubsub-push@proj.iam.gserviceaccount.com", time.Hour)
	keys := oidc.NewRemoteKeySet(ctx, f.JWKSURL())
	v := oidc.NewVerifier(fakegoogle.Issuer, keys, &oidc.Config{ClientID: aud, Now: func() time.Time { return t0 }})
	idt, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Email string `json:"email"`
	}
	idt.Claims(&c)
	if c.Email != "pubsub-push@proj.iam.gserviceaccount.com" {
		t.Errorf("email claim %q", c.Email)
	}
	late := oidc.NewVerifier(fakegoogle.Issuer, keys, &oidc.Config{ClientID: aud, Now: func() time.Time { return t0.Add(2 * time.Hour) }})
	if _, err := late.Verify(ctx, tok); err == nil {
		t.Error("an expired token verified")
	}
	// The discovery document names the same keys.
	resp, err := http.Get(f.URL() + "/.well-known/openid-configuration")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("openid-configuration: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), f.JWKSURL()) || !strings.Contains(string(body), `"issuer":"https://accounts.google.com"`) {
		t.Errorf("openid-configuration: %s", body)
	}
}

// Granular consent, as Google's consent screen offers it
// (https://developers.google.com/identity/protocols/oauth2/resources/granular-permissions):
// every scope but sign-in's has a checkbox the user may untick; the token
// response's scope lists what was granted, and the token works for that
// only. Asking again with include_granted_scopes=true (incremental
// authorization) adds to what was granted before.
func TestGranularConsentAndIncrementalAuthorization(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	ctx := context.Background()
	cfg := oauthConfig(f, fakegoogle.ScopeOpenID, fakegoogle.ScopeEmail, fakegoogle.ScopeGmailModify, fakegoogle.ScopeContacts)
	authURL := cfg.AuthCodeURL("s", oauth2.AccessTypeOffline, oauth2.ApprovalForce, oauth2.SetAuthURLParam("login_hint", "ann@acme.test"))
	resp, err := http.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, sc := range []string{fakegoogle.ScopeGmailModify, fakegoogle.ScopeContacts} {
		if !strings.Contains(string(page), `type="checkbox" name="scope" value="`+sc+`"`) {
			t.Errorf("the consent page offers no choice for %s", sc)
		}
	}
	if strings.Contains(string(page), `value="openid"`) {
		t.Error("sign-in's scope is offered as a choice")
	}

	back, err := fakegoogle.ConsentGranting(authURL, "ann@acme.test", []string{fakegoogle.ScopeContacts})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cfg.Exchange(ctx, back.Query().Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	granted := strings.Fields(tok.Extra("scope").(string))
	slices.Sort(granted)
	if want := []string{fakegoogle.ScopeEmail, fakegoogle.ScopeContacts, fakegoogle.ScopeOpenID}; !slices.Equal(granted, want) {
		t.Errorf("granted %v, want %v", granted, want)
	}
	ts := option.WithTokenSource(cfg.TokenSource(ctx, tok))
	mail, _ := gmail.NewService(ctx, option.WithEndpoint(f.URL()+"/"), ts)
	_, err = mail.Users.GetProfile("me").Do()
	apiErr(t, err, 403, "insufficientPermissions")
	ppl, _ := people.NewService(ctx, option.WithEndpoint(f.URL()+"/"), ts)
	if _, err := ppl.People.Connections.List("people/me").PersonFields("names").Do(); err != nil {
		t.Errorf("contacts, granted: %v", err)
	}

	// Incremental: ask for Gmail only, including what was granted.
	more := oauthConfig(f, fakegoogle.ScopeOpenID, fakegoogle.ScopeEmail, fakegoogle.ScopeGmailModify)
	back, err = fakegoogle.Consent(more.AuthCodeURL("s2", oauth2.AccessTypeOffline, oauth2.ApprovalForce,
		oauth2.SetAuthURLParam("include_granted_scopes", "true")), "ann@acme.test", true)
	if err != nil {
		t.Fatal(err)
	}
	tok, err = more.Exchange(ctx, back.Query().Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range []string{fakegoogle.ScopeGmailModify, fakegoogle.ScopeContacts} {
		if !strings.Contains(tok.Extra("scope").(string), sc) {
			t.Errorf("after incremental authorization the grant lacks %s: %v", sc, tok.Extra("scope"))
		}
	}
}
