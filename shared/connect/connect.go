// Package connect is how a user connects Google with their own consent
// (per-user OAuth): the authorization code flow with state and PKCE,
// offline access with forced consent so a refresh token is issued, the
// scopes of the chosen features and no more, the refresh token sealed
// (package tokencrypt) before it is stored, and disconnecting: revoke at
// Google, wipe the token. It also gives the engines a token source from
// the stored grant.
package connect

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/tokencrypt"
	"github.com/crmsync/crmsync/shared/workspace"
)

// Feature names what a user syncs; each needs its scope.
type Feature string

// Features.
const (
	Mail     Feature = "mail"
	Contacts Feature = "contacts"
	Calendar Feature = "calendar"
)

// FeatureScopes are the scopes a feature needs.
func FeatureScopes(f Feature) []string {
	switch f {
	case Mail:
		return workspace.GmailScopes()
	case Contacts:
		return workspace.PeopleScopes()
	case Calendar:
		return workspace.CalendarScopes()
	}
	return nil
}

// Scopes returns the scopes features need, with openid and email to know
// whose account it is.
func Scopes(features []Feature) []string {
	out := []string{"openid", "email"}
	for _, f := range features {
		out = append(out, FeatureScopes(f)...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Lacking returns the features whose scopes are not all in granted: on
// Google's consent screen the user may untick each feature's access.
func Lacking(granted []string, features []Feature) []Feature {
	var out []Feature
	for _, f := range features {
		for _, sc := range FeatureScopes(f) {
			if !slices.Contains(granted, sc) {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// featuresOf returns the features whose scopes are all in scopes.
func featuresOf(scopes []string) []Feature {
	var out []Feature
	for _, f := range []Feature{Mail, Contacts, Calendar} {
		if len(Lacking(scopes, []Feature{f})) == 0 {
			out = append(out, f)
		}
	}
	return out
}

// Flow connects and disconnects users' Google accounts.
type Flow struct {
	Store *store.Store
	// Box seals refresh tokens.
	Box *tokencrypt.Box
	// ClientSecret is the tenant OAuth client's secret.
	ClientSecret string
	// Endpoint is Google's OAuth endpoint (google.Endpoint) or the fake's.
	Endpoint oauth2.Endpoint
	// RevokeURL is Google's revocation endpoint or the fake's.
	RevokeURL string
	// RedirectURL is the web function's callback.
	RedirectURL string
	Clock       clock.Clock
	HTTP        *http.Client
	// Log, when set, hears about grants not sealed again after a key
	// rotation.
	Log *slog.Logger
}

// GoogleRevokeURL is Google's token revocation endpoint.
const GoogleRevokeURL = "https://oauth2.googleapis.com/revoke"

// DefaultEndpoint is Google's OAuth endpoint.
var DefaultEndpoint = google.Endpoint

func (f *Flow) config(t store.Tenant, scopes []string) *oauth2.Config {
	return &oauth2.Config{ClientID: t.OAuthClientID, ClientSecret: f.ClientSecret, Endpoint: f.Endpoint, RedirectURL: f.RedirectURL, Scopes: scopes}
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// stateTTL bounds how long a user may take on the consent page.
const stateTTL = 15 * time.Minute

// Begin starts a connection for the user with the features' scopes and
// returns the URL of Google's consent page to send the browser to.
func (f *Flow) Begin(ctx context.Context, email string, features []Feature) (string, error) {
	return f.begin(ctx, email, features, false)
}

// AddAccess starts a connection that asks only for the features' access
// and keeps what the user granted before (incremental authorization,
// include_granted_scopes=true): the one click that fixes a feature whose
// access the user unticked on Google's consent screen.
func (f *Flow) AddAccess(ctx context.Context, email string, features []Feature) (string, error) {
	return f.begin(ctx, email, features, true)
}

func (f *Flow) begin(ctx context.Context, email string, features []Feature, incremental bool) (string, error) {
	const op = "connect: begin"
	u, err := f.Store.Users().Get(ctx, email)
	if err != nil {
		return "", err
	}
	t, err := f.Store.Tenants().Get(ctx, u.TenantID)
	if err != nil {
		return "", err
	}
	if t.OAuthClientID == "" {
		return "", failure.Errorf(op, failure.Permanent, "the firm has no OAuth client ID yet: an admin enters it on the office settings page")
	}
	if len(features) == 0 {
		return "", failure.Errorf(op, failure.Invalid, "features: choose at least one of mail, contacts, calendar")
	}
	scopes := Scopes(features)
	state, verifier := randomString(24), oauth2.GenerateVerifier()
	if err := f.Store.OAuthStates().Put(ctx, state, store.OAuthState{User: u.ID, Verifier: verifier, Scopes: scopes, Purpose: "connect",
		Expires: f.Clock.Now().Add(stateTTL)}); err != nil {
		return "", err
	}
	return f.config(t, scopes).AuthCodeURL(state, oauth2.AccessTypeOffline, oauth2.ApprovalForce, oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("login_hint", u.Email), oauth2.SetAuthURLParam("include_granted_scopes", strconv.FormatBool(incremental))), nil
}

// ResetSteps is what a user does when connecting fails, after the product
// description ("If you encounter an error message…").
const ResetSteps = "Open https://myaccount.google.com/permissions, remove this app's access, sign out of other Google accounts in this browser, then connect again and choose the account you sign in to the firm with."

// FinishFor is Finish for the user signed in to the browser the callback
// came to: a connection another user started is refused, and its state
// stays for them.
func (f *Flow) FinishFor(ctx context.Context, signedIn, state, code string) (store.User, error) {
	st, err := f.Store.OAuthStates().Peek(ctx, state)
	if err != nil {
		return store.User{}, err
	}
	if !strings.EqualFold(st.User, signedIn) {
		return store.User{}, failure.Errorf("connect: finish", failure.Forbidden, "this Google connection was started by another user")
	}
	return f.Finish(ctx, state, code)
}

// Cancel uses up a connection's state when Google answered with an error
// (the user denied access): its link works no more.
func (f *Flow) Cancel(ctx context.Context, state string) {
	f.Store.OAuthStates().Take(ctx, state)
}

// Finish completes a connection from the callback's state and code. It
// refuses a consent given by another Google account than the user's.
func (f *Flow) Finish(ctx context.Context, state, code string) (store.User, error) {
	const op = "connect: finish"
	st, err := f.Store.OAuthStates().Take(ctx, state)
	if err != nil {
		return store.User{}, err
	}
	if st.Purpose != "connect" {
		return store.User{}, failure.Errorf(op, failure.Invalid, "this link is not a Google connection")
	}
	u, err := f.Store.Users().Get(ctx, st.User)
	if err != nil {
		return store.User{}, err
	}
	t, err := f.Store.Tenants().Get(ctx, u.TenantID)
	if err != nil {
		return store.User{}, err
	}
	if f.HTTP != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, f.HTTP)
	}
	tok, err := f.config(t, st.Scopes).Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return store.User{}, workspace.Classify(op+": code exchange", err)
	}
	if tok.RefreshToken == "" {
		return store.User{}, failure.Errorf(op, failure.Permanent, "Google issued no refresh token. %s", ResetSteps)
	}
	who, err := emailOf(tok)
	if err != nil {
		return store.User{}, failure.E(op, failure.Permanent, err)
	}
	if !strings.EqualFold(who, u.Email) {
		f.revoke(ctx, tok.RefreshToken)
		return store.User{}, failure.Errorf(op, failure.Forbidden, "you chose the Google account %s, but you sign in to the firm as %s. %s", who, u.Email, ResetSteps)
	}
	granted := st.Scopes
	if s, ok := tok.Extra("scope").(string); ok && s != "" {
		granted = strings.Fields(s)
		slices.Sort(granted)
	}
	_ = f.Box.Refresh(ctx) // a failed re-read seals with the keys in hand
	sealed, err := f.Box.Seal(u.ID, tok.RefreshToken)
	if err != nil {
		return store.User{}, err
	}
	now := f.Clock.Now()
	// What the user chose but unticked on Google's consent screen.
	var missing []string
	for _, ft := range Lacking(granted, featuresOf(st.Scopes)) {
		missing = append(missing, string(ft))
	}
	return f.Store.Users().Update(ctx, u.ID, func(u *store.User) error {
		u.Grant = store.Grant{SealedRefreshToken: sealed, Scopes: granted, GrantedAt: now}
		u.Connection = store.Connection{State: store.Connected, ChangedAt: now, Scopes: granted, Missing: missing}
		if u.Attention != "" && strings.Contains(u.Attention, "reconnect") {
			u.Attention = ""
		}
		return nil
	})
}

// emailOf reads the account's address from the id_token the token
// endpoint returned (straight from Google over TLS, so its claims are
// taken as they are, as OpenID Connect allows for the code flow).
func emailOf(tok *oauth2.Token) (string, error) {
	raw, _ := tok.Extra("id_token").(string)
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", errors.New("no id_token came back from Google; the openid and email scopes are needed")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("the id_token is malformed")
	}
	var claims struct {
		Email    string `json:"email"`
		Verified bool   `json:"email_verified"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Email == "" || !claims.Verified {
		return "", fmt.Errorf("the id_token has no verified address")
	}
	return claims.Email, nil
}

func (f *Flow) revoke(ctx context.Context, token string) error {
	hc := f.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	revoke := f.RevokeURL
	if revoke == "" {
		revoke = GoogleRevokeURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, revoke, strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return failure.E("connect: revoke", failure.Transient, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return failure.Errorf("connect: revoke", failure.Transient, "Google answered %d", resp.StatusCode)
	}
	return nil // 400 means already revoked or unknown: the grant is gone either way
}

// Disconnect revokes the user's grant at Google and wipes the token. The
// caller stops the user's Gmail watch and Calendar channel first, while
// the grant still works.
func (f *Flow) Disconnect(ctx context.Context, email string) (store.User, error) {
	u, err := f.Store.Users().Get(ctx, email)
	if err != nil {
		return store.User{}, err
	}
	if u.Grant.SealedRefreshToken != "" {
		if rt, err := f.Box.Open(u.ID, u.Grant.SealedRefreshToken); err == nil {
			if err := f.revoke(ctx, rt); err != nil {
				return store.User{}, err
			}
		}
	}
	now := f.Clock.Now()
	return f.Store.Users().Update(ctx, u.ID, func(u *store.User) error {
		u.Grant = store.Grant{}
		u.Connection = store.Connection{State: store.NotConnected, ChangedAt: now, Reason: "disconnected by the user"}
		u.Mail.WatchExpiration = time.Time{}
		u.Calendar.Channel = store.PushChannel{}
		return nil
	})
}

// reseal stores the user's refresh token sealed with the primary key, so
// the key it was sealed with can be retired. A failure is logged and tried
// again at the next read; the token in hand works either way.
func (f *Flow) reseal(ctx context.Context, u store.User, token string) {
	sealed, err := f.Box.Seal(u.ID, token)
	if err == nil {
		_, err = f.Store.Users().Reseal(ctx, u.ID, u.Grant.SealedRefreshToken, sealed)
	}
	if err != nil && f.Log != nil {
		f.Log.Warn("connect: grant not sealed again with the newest key; the next read tries again", "user", u.ID, "err", err)
	}
}

// Tokens returns a token source from the user's stored grant. A user with
// no grant is AuthRevoked (they connect again); a grant that no longer
// opens is Configuration (the token-encryption key changed).
func (f *Flow) Tokens(ctx context.Context, u store.User, t store.Tenant, scopes []string) (oauth2.TokenSource, error) {
	const op = "connect: tokens"
	if u.Grant.SealedRefreshToken == "" {
		return nil, failure.Errorf(op, failure.AuthRevoked, "%s has not connected Google", u.Email)
	}
	// A failed re-read keeps the keys the instance has.
	_ = f.Box.Refresh(ctx)
	rt, err := f.Box.Open(u.ID, u.Grant.SealedRefreshToken)
	if err != nil {
		// Every grant was sealed with the token-encryption key; one that
		// no longer opens means the key changed, not that the user left.
		// (%v: this message, not the inner one, is what the admin reads.)
		return nil, failure.Errorf(op, failure.Configuration, "the stored Google grant does not open with the token-encryption keyring: put back the key it was sealed with (Secret Manager, token-encryption-key; docs/operations.md, key rotation): %v", err)
	}
	if f.Box.Stale(u.Grant.SealedRefreshToken) {
		f.reseal(ctx, u, rt)
	}
	if f.HTTP != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, f.HTTP)
	}
	return f.config(t, scopes).TokenSource(context.WithoutCancel(ctx), &oauth2.Token{RefreshToken: rt}), nil
}
