package authn

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/store"
)

// Google's OpenID Connect issuer and signing keys.
const (
	GoogleIssuer  = "https://accounts.google.com"
	GoogleJWKSURL = "https://www.googleapis.com/oauth2/v3/certs"
)

// IDTokens verifies tokens Google signed: the signature against Google's
// published keys (fetched and cached by go-oidc), the issuer, the
// audience and the expiry.
type IDTokens struct {
	keys  oidc.KeySet
	clock clock.Clock
}

// NewIDTokens verifies against the keys at jwksURL (GoogleJWKSURL, or the
// fake Google's outside production).
func NewIDTokens(ctx context.Context, jwksURL string, clk clock.Clock) *IDTokens {
	if jwksURL == "" {
		jwksURL = GoogleJWKSURL
	}
	return &IDTokens{keys: oidc.NewRemoteKeySet(context.WithoutCancel(ctx), jwksURL), clock: clk}
}

// Identity is what a verified token says about its holder.
type Identity struct {
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	Nonce         string `json:"nonce"`
	// HostedDomain is the Workspace domain (hd) of a user's account.
	HostedDomain string `json:"hd"`
}

// Verify checks raw for audience and returns its identity. Any failure is
// Unauthenticated and says what was wrong.
func (v *IDTokens) Verify(ctx context.Context, raw, audience string) (Identity, error) {
	const op = "authn: verify identity token"
	if raw == "" {
		return Identity{}, failure.Errorf(op, failure.Unauthenticated, "no identity token")
	}
	return v.verify(ctx, op, raw, audience, false)
}

// verify checks raw's issuer, audience, expiry and verified address, and
// its signature unless skipSignature.
func (v *IDTokens) verify(ctx context.Context, op, raw, audience string, skipSignature bool) (Identity, error) {
	cfg := &oidc.Config{ClientID: audience, Now: v.clock.Now, InsecureSkipSignatureCheck: skipSignature}
	tok, err := oidc.NewVerifier(GoogleIssuer, v.keys, cfg).Verify(ctx, raw)
	if err != nil {
		return Identity{}, failure.Errorf(op, failure.Unauthenticated, "the identity token is not valid: %v", err)
	}
	var id Identity
	if err := tok.Claims(&id); err != nil {
		return Identity{}, failure.Errorf(op, failure.Unauthenticated, "the identity token's claims are not readable")
	}
	id.Email = strings.ToLower(id.Email)
	if id.Email == "" || !id.EmailVerified {
		return Identity{}, failure.Errorf(op, failure.Unauthenticated, "the identity token has no verified e-mail address")
	}
	return id, nil
}

// SignatureRemoved is what Cloud Run puts in place of an identity token's
// signature once its own invoker check has verified the token, before it
// passes the request to the container ("Signature removed", Cloud Run's
// troubleshooting guide, https://cloud.google.com/run/docs/troubleshooting#signature-removed).
const SignatureRemoved = "SIGNATURE_REMOVED_BY_GOOGLE"

// VerifyCheckedByPlatform reads a token whose signature Cloud Run removed
// after verifying it, and checks the rest as Verify does: Google's issuer,
// the audience, the expiry and a verified e-mail address. It refuses any
// token that still has a signature or has another one: only the platform's
// removal marker is taken on trust, and only a function whose invoker
// check stands in front may call this (a public function must not: anyone
// could send the marker).
func (v *IDTokens) VerifyCheckedByPlatform(ctx context.Context, raw, audience string) (Identity, error) {
	const op = "authn: verify a platform-checked identity token"
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || parts[2] != SignatureRemoved {
		return Identity{}, failure.Errorf(op, failure.Unauthenticated, "not a token Cloud Run checked")
	}
	return v.verify(ctx, op, raw, audience, true)
}

// BearerToken returns the token of an "Authorization: Bearer …" header.
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// SignIn is "Sign in with Google": the OpenID Connect authorization code
// flow with state, nonce and PKCE, asking only for openid and email.
type SignIn struct {
	Store        *store.Store
	Endpoint     oauth2.Endpoint
	ClientSecret string
	RedirectURL  string
	IDTokens     *IDTokens
	Clock        clock.Clock
	HTTP         *http.Client
}

func (s *SignIn) config(clientID string) *oauth2.Config {
	return &oauth2.Config{ClientID: clientID, ClientSecret: s.ClientSecret, Endpoint: s.Endpoint, RedirectURL: s.RedirectURL,
		Scopes: []string{oidc.ScopeOpenID, "email"}}
}

// Begin returns the URL of Google's sign-in page for the firm's OAuth
// client, hinting the address the user typed; next is where the browser
// goes once signed in.
func (s *SignIn) Begin(ctx context.Context, clientID, email, next string) (string, error) {
	if clientID == "" {
		return "", failure.Errorf("authn: sign in", failure.Permanent, "the firm has no OAuth client ID yet: an admin enters it on the office settings page")
	}
	state, nonce, verifier := RandomID(24), RandomID(16), oauth2.GenerateVerifier()
	if err := s.Store.OAuthStates().Put(ctx, state, store.OAuthState{User: strings.ToLower(email), Verifier: verifier, Nonce: nonce, ClientID: clientID,
		Purpose: "signin", Next: next, Scopes: []string{oidc.ScopeOpenID, "email"}, Expires: s.Clock.Now().Add(15 * time.Minute)}); err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "select_account")}
	if email != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", email))
	}
	return s.config(clientID).AuthCodeURL(state, opts...), nil
}

// Cancel uses up a sign-in's state when Google answered with an error:
// its link works no more.
func (s *SignIn) Cancel(ctx context.Context, state string) {
	s.Store.OAuthStates().Take(ctx, state)
}

// Finish exchanges the callback's code and returns the verified identity
// and where to go next. The state works once; the id_token must be signed
// by Google for the client and carry the state's nonce.
func (s *SignIn) Finish(ctx context.Context, state, code string) (Identity, string, error) {
	const op = "authn: sign in"
	st, err := s.Store.OAuthStates().Take(ctx, state)
	if err != nil {
		return Identity{}, "", err
	}
	if st.Purpose != "signin" {
		return Identity{}, "", failure.Errorf(op, failure.Invalid, "this link is not a sign-in")
	}
	if s.HTTP != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, s.HTTP)
	}
	tok, err := s.config(st.ClientID).Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return Identity{}, "", failure.Errorf(op, failure.Unauthenticated, "Google did not accept the sign-in: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	id, err := s.IDTokens.Verify(ctx, raw, st.ClientID)
	if err != nil {
		return Identity{}, "", err
	}
	if !Equal(id.Nonce, st.Nonce) {
		return Identity{}, "", failure.Errorf(op, failure.Unauthenticated, "the sign-in answer does not belong to this browser's sign-in")
	}
	return id, st.Next, nil
}

// Callers guards a push or scheduler endpoint: the request must carry a
// Google-signed identity token ("Authorization: Bearer …") for one of
// Audiences, issued to one of Emails (the Pub/Sub push or Cloud Scheduler
// service account). Cloud Run's invoker check does the same in front of
// the function; this keeps the function safe if that is ever opened.
type Callers struct {
	Tokens    *IDTokens
	Audiences []string
	Emails    []string
	// CheckedByPlatform says Cloud Run's invoker check stands in front of
	// the function (it is not public). Cloud Run then passes the token on
	// with its signature removed, so such a token is taken on its claims
	// (VerifyCheckedByPlatform); a signed token is still verified whole.
	CheckedByPlatform bool
	Log               *slog.Logger
}

// Check returns who called, or why the call is refused: Unauthenticated
// (no token, not Google's, expired, another audience) or Forbidden
// (another caller).
func (c *Callers) Check(r *http.Request) (Identity, error) {
	raw := BearerToken(r)
	var last error = failure.Errorf("authn: caller", failure.Unauthenticated, "no identity token")
	if raw == "" {
		return Identity{}, last
	}
	verify := c.Tokens.Verify
	if c.CheckedByPlatform && strings.HasSuffix(raw, "."+SignatureRemoved) {
		verify = c.Tokens.VerifyCheckedByPlatform
	}
	for _, aud := range c.Audiences {
		id, err := verify(r.Context(), raw, aud)
		if err != nil {
			last = err
			continue
		}
		if !slices.ContainsFunc(c.Emails, func(e string) bool { return strings.EqualFold(e, id.Email) }) {
			return id, failure.Errorf("authn: caller", failure.Forbidden, "%s may not call this endpoint", id.Email)
		}
		return id, nil
	}
	return Identity{}, last
}

// Wrap refuses requests Check refuses (401 or 403) and passes the rest.
func (c *Callers) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := c.Check(r); err != nil {
			status := http.StatusUnauthorized
			if failure.Is(err, failure.Forbidden) {
				status = http.StatusForbidden
			} else {
				w.Header().Set("WWW-Authenticate", `Bearer realm="crmsync"`)
			}
			if c.Log != nil {
				c.Log.Warn("authn: call refused", "path", r.URL.Path, "status", status, "err", err)
			}
			http.Error(w, http.StatusText(status), status)
			return
		}
		next.ServeHTTP(w, r)
	})
}
