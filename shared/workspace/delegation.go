package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/googleapi"
	iamcredentials "google.golang.org/api/iamcredentials/v1"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/failure"
)

// GoogleTokenURL is Google's OAuth 2.0 token endpoint, the audience of a
// delegation assertion.
const GoogleTokenURL = "https://oauth2.googleapis.com/token"

// JWTSigner signs a delegation assertion's claims as a service account.
type JWTSigner interface {
	// Email is the service account's address, the assertion's issuer.
	Email() string
	// SignJWT returns the signed JWT of claims.
	SignJWT(ctx context.Context, claims jwt.MapClaims) (string, error)
}

// KeySigner signs with a service account's JSON key.
type KeySigner struct {
	email, keyID string
	key          any
	// TokenURL is the key's token_uri.
	TokenURL string
}

// NewKeySigner reads a service account's JSON key.
func NewKeySigner(keyJSON []byte) (*KeySigner, error) {
	const op = "workspace: service account key"
	cfg, err := google.JWTConfigFromJSON(keyJSON)
	if err != nil {
		return nil, failure.E(op, failure.Permanent, err)
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM(cfg.PrivateKey)
	if err != nil {
		return nil, failure.E(op, failure.Permanent, err)
	}
	return &KeySigner{email: cfg.Email, keyID: cfg.PrivateKeyID, key: key, TokenURL: cfg.TokenURL}, nil
}

// Email is the key's service account.
func (k *KeySigner) Email() string { return k.email }

// SignJWT signs claims with RS256 under the key's id.
func (k *KeySigner) SignJWT(_ context.Context, claims jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	if k.keyID != "" {
		t.Header["kid"] = k.keyID
	}
	return t.SignedString(k.key)
}

var _ JWTSigner = (*KeySigner)(nil)

// Delegation acts as a firm's users through domain-wide delegation: an
// assertion (RFC 7523) whose subject is the user, signed as the service
// account, exchanged at the token endpoint for an access token. Its claims
// are stamped with Clock, so the assertion's time is the product's time
// (the sandbox's tests run on a moved clock).
type Delegation struct {
	Signer JWTSigner
	// TokenURL is the token endpoint and the assertion's audience; ""
	// means Google's.
	TokenURL string
	// HTTP posts the assertion; nil means a client with a 30 s timeout.
	HTTP  *http.Client
	Clock clock.Clock
}

// TokenSource returns tokens acting as email with scopes.
func (d *Delegation) TokenSource(ctx context.Context, email string, scopes []string) oauth2.TokenSource {
	return &assertionSource{d: d, ctx: context.WithoutCancel(ctx), subject: email, scopes: scopes}
}

// Delegated acts as users through domain-wide delegation of the service
// account whose JSON key this is. tokenURL, when set, replaces the key's
// token endpoint (the fake's, in tests); clk nil means the real clock.
func Delegated(keyJSON []byte, tokenURL string, clk clock.Clock) TokenSourceFunc {
	s, err := NewKeySigner(keyJSON) // once, not for every user's client
	if err != nil {
		return func(context.Context, string, []string) (oauth2.TokenSource, error) { return nil, err }
	}
	if tokenURL == "" {
		tokenURL = s.TokenURL
	}
	d := &Delegation{Signer: s, TokenURL: tokenURL, Clock: clk}
	return func(ctx context.Context, email string, scopes []string) (oauth2.TokenSource, error) {
		return d.TokenSource(ctx, email, scopes), nil
	}
}

type assertionSource struct {
	d       *Delegation
	ctx     context.Context
	subject string
	scopes  []string
}

// assertionLifetime is how long an assertion is valid: Google takes at most
// an hour.
const assertionLifetime = time.Hour

func (s *assertionSource) Token() (*oauth2.Token, error) {
	d := s.d
	tokenURL := d.TokenURL
	if tokenURL == "" {
		tokenURL = GoogleTokenURL
	}
	clk := d.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	now := clk.Now()
	claims := jwt.MapClaims{"iss": d.Signer.Email(), "sub": s.subject, "scope": strings.Join(s.scopes, " "), "aud": tokenURL,
		"iat": now.Unix(), "exp": now.Add(assertionLifetime).Unix()}
	assertion, err := d.Signer.SignJWT(s.ctx, claims)
	if err != nil {
		return nil, fmt.Errorf("workspace: signing the delegation assertion: %w", err)
	}
	hc := d.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("workspace: token endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("workspace: token endpoint: %w", err)
	}
	// Errors keep x/oauth2's shape, so Classify treats them alike.
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		re := &oauth2.RetrieveError{Response: resp, Body: body}
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(body, &e) == nil {
			re.ErrorCode, re.ErrorDescription = e.Error, e.Description
		}
		return nil, re
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "" && ct != "application/json" {
		return nil, fmt.Errorf("workspace: token endpoint answered %s, want application/json", ct)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return nil, &oauth2.RetrieveError{Response: resp, Body: body, ErrorDescription: "no access_token in the token endpoint's answer"}
	}
	tok := &oauth2.Token{AccessToken: tr.AccessToken, TokenType: tr.TokenType}
	if tr.ExpiresIn > 0 {
		// x/oauth2 checks expiry against the system clock.
		tok.Expiry = time.Now().Add(time.Duration(tr.ExpiresIn) * time.Second)
	}
	return tok, nil
}

// IAMSigner signs as a service account through the IAM Service Account
// Credentials API's signJwt: Google signs with a key it manages, so no
// service-account key exists anywhere (organizations with Google's
// secure-by-default policies forbid creating one). The caller (the
// function's own identity) needs roles/iam.serviceAccountTokenCreator on
// the account.
type IAMSigner struct {
	Account string
	// Service is the IAM Credentials client, acting as the caller.
	Service *iamcredentials.Service
}

// Email is the signing service account.
func (s *IAMSigner) Email() string { return s.Account }

// SignJWT has Google sign claims as the account.
func (s *IAMSigner) SignJWT(ctx context.Context, claims jwt.MapClaims) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	resp, err := s.Service.Projects.ServiceAccounts.SignJwt("projects/-/serviceAccounts/"+s.Account,
		&iamcredentials.SignJwtRequest{Payload: string(payload)}).Context(ctx).Do()
	if err != nil {
		op := "iamcredentials: signJwt as " + s.Account
		var ge *googleapi.Error
		if errors.As(err, &ge) && (ge.Code == http.StatusForbidden || ge.Code == http.StatusNotFound || ge.Code == http.StatusBadRequest) {
			// The function's identity may not sign as the account, or the
			// account does not exist: the deployment's, not a user's.
			return "", failure.E(op, failure.Configuration, fmt.Errorf("this function's identity cannot sign as %s: grant it roles/iam.serviceAccountTokenCreator on that account (the Terraform iam module's delegation_signers), and check DELEGATION_SERVICE_ACCOUNT: %w", s.Account, err))
		}
		return "", Classify(op, err)
	}
	return resp.SignedJwt, nil
}

var _ JWTSigner = (*IAMSigner)(nil)

// Keyless acts as users through domain-wide delegation of the service
// account account, its assertions signed by signJwt through svc. tokenURL,
// when set, replaces Google's token endpoint (the fake's, in tests).
func Keyless(account string, svc *iamcredentials.Service, tokenURL string, clk clock.Clock) TokenSourceFunc {
	d := &Delegation{Signer: &IAMSigner{Account: account, Service: svc}, TokenURL: tokenURL, Clock: clk}
	return func(ctx context.Context, email string, scopes []string) (oauth2.TokenSource, error) {
		return d.TokenSource(ctx, email, scopes), nil
	}
}
