package fakegoogle

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/fnv"
	"html/template"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
)

// OAuth 2.0 and OpenID Connect, as accounts.google.com and
// oauth2.googleapis.com serve them.
//
//	GET  /o/oauth2/v2/auth             consent page (Allow / Deny)
//	POST /o/oauth2/v2/auth/decide      the page's form
//	POST /token                        authorization_code, refresh_token, JWT bearer
//	POST /revoke                       revoke a grant by access or refresh token
//	GET  /oauth2/v3/certs              JWKS of the id_token signing key
//	GET  /.well-known/openid-configuration

// Issuer is the iss of every id_token the fake signs, as Google's.
const Issuer = "https://accounts.google.com"

// Grant types of the token endpoint.
const (
	grantAuthCode = "authorization_code"
	grantRefresh  = "refresh_token"
	grantJWT      = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// OAuthClient is an OAuth client registered in the fake's Cloud project.
type OAuthClient struct {
	ID           string
	Secret       string
	RedirectURIs []string
}

type serviceAccount struct {
	email, clientID, keyID string
	key                    *rsa.PublicKey
	// private is the key of a keyless account, which only Google holds
	// (signJwt signs with it); nil for an account with a JSON key.
	private *rsa.PrivateKey
}

// authRequest is a pending consent: what the authorization request asked.
type authRequest struct {
	client                     *OAuthClient
	redirectURI, state, nonce  string
	scopes                     []string
	includeGranted             bool
	challenge, challengeMethod string
	offline, forceConsent      bool
	loginHint                  string
	created                    time.Time
}

type authCode struct {
	req     *authRequest
	email   string
	scopes  []string // what the user granted
	expires time.Time
	used    bool
}

type oauthState struct {
	clients    map[string]*OAuthClient
	accounts   map[string]*serviceAccount // by e-mail
	delegation map[string][]string        // service account client ID → scopes authorized in the Admin console
	// tokenCreators are, per service account, the identities that hold
	// roles/iam.serviceAccountTokenCreator on it (signJwt).
	tokenCreators map[string][]string
	pending       map[string]*authRequest
	codes         map[string]*authCode

	keyOnce sync.Once
	key     *rsa.PrivateKey
	keyID   string
}

func newOAuthState() *oauthState {
	return &oauthState{clients: map[string]*OAuthClient{}, accounts: map[string]*serviceAccount{},
		delegation: map[string][]string{}, pending: map[string]*authRequest{}, codes: map[string]*authCode{}}
}

// signingKey is the id_token key, made on first use (RSA generation is
// slow, and most tests never need it).
func (o *oauthState) signingKey() *rsa.PrivateKey {
	o.keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		o.key, o.keyID = k, randomToken("")[:16]
	})
	return o.key
}

func (s *Server) routeOAuth() {
	s.mux.HandleFunc("GET /o/oauth2/v2/auth", s.authorize)
	s.mux.HandleFunc("POST /o/oauth2/v2/auth/decide", s.decide)
	s.mux.HandleFunc("POST /token", s.token)
	s.mux.HandleFunc("POST /revoke", s.revoke)
	s.mux.HandleFunc("GET /oauth2/v3/certs", s.jwks)
	s.mux.HandleFunc("GET /.well-known/openid-configuration", s.openIDConfiguration)
	s.serveIAMCredentials()
}

// Endpoint is the fake's OAuth endpoint for golang.org/x/oauth2.
func (s *Server) Endpoint() oauth2.Endpoint {
	return oauth2.Endpoint{AuthURL: s.url + "/o/oauth2/v2/auth", TokenURL: s.url + "/token", AuthStyle: oauth2.AuthStyleInParams}
}

// JWKSURL is where the id_token signing key is published.
func (s *Server) JWKSURL() string { return s.url + "/oauth2/v3/certs" }

// AddClient registers an OAuth client.
func (s *Server) AddClient(c OAuthClient) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := c
	cp.RedirectURIs = slices.Clone(c.RedirectURIs)
	s.oauth.clients[c.ID] = &cp
}

// AddServiceAccount creates a service account key and returns it as the
// JSON key file Google's console would download (its token_uri pointing at
// the fake), and the account's OAuth client ID for AuthorizeDelegation.
func (s *Server) AddServiceAccount(email string) (keyJSON []byte, clientID string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, "", err
	}
	clientID = subjectID(email)
	sa := &serviceAccount{email: email, clientID: clientID, keyID: randomToken("")[:40], key: &key.PublicKey}
	s.mu.Lock()
	s.oauth.accounts[email] = sa
	s.mu.Unlock()
	keyJSON, err = json.Marshal(map[string]string{
		"type": "service_account", "project_id": "fake-project", "private_key_id": sa.keyID,
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": email, "client_id": clientID, "token_uri": s.url + "/token",
		"auth_uri": s.url + "/o/oauth2/v2/auth",
	})
	return keyJSON, clientID, err
}

// AuthorizeDelegation records domain-wide delegation of these scopes to
// the service account client ID, as a Workspace admin does in the Admin
// console. It replaces earlier scopes; none removes the delegation.
func (s *Server) AuthorizeDelegation(clientID string, scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(scopes) == 0 {
		delete(s.oauth.delegation, clientID)
		return
	}
	s.oauth.delegation[clientID] = slices.Clone(scopes)
}

// oauthError answers the token and revoke endpoints' error shape.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in – Google Accounts (fake)</title></head>
<body>
<main>
<h1>{{.Client}} wants to access your Google Account</h1>
<form method="post" action="/o/oauth2/v2/auth/decide">
<input type="hidden" name="request" value="{{.Request}}">
<label for="email">Account</label>
<select id="email" name="email">{{range .Users}}<option value="{{.}}"{{if eq . $.Hint}} selected{{end}}>{{.}}</option>{{end}}</select>
<input type="hidden" name="granular" value="1">
<p>{{.Client}} will know who you are ({{range $i, $s := .SignIn}}{{if $i}}, {{end}}{{$s}}{{end}}).</p>
{{if .Scopes}}<fieldset><legend>Select what {{.Client}} can access</legend>
{{range $i, $s := .Scopes}}<label><input type="checkbox" name="scope" value="{{$s}}" id="scope-{{$i}}" checked> {{$s}}</label><br>
{{end}}</fieldset>{{end}}
<button type="submit" name="decision" value="deny" id="deny">Cancel</button>
<button type="submit" name="decision" value="allow" id="allow">Allow</button>
</form>
</main>
</body></html>`))

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Error {{.Status}}: {{.Code}}</title></head>
<body><h1>Access blocked: authorization error</h1><p>Error {{.Status}}: {{.Code}}</p><p>{{.Detail}}</p></body></html>`))

func authErrorPage(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	errorPage.Execute(w, map[string]any{"Status": status, "Code": code, "Detail": detail})
}

func redirectWith(w http.ResponseWriter, r *http.Request, redirectURI string, params url.Values) {
	u, err := url.Parse(redirectURI)
	if err != nil {
		authErrorPage(w, 400, "invalid_request", "The redirect URI is not a URL.")
		return
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	client := s.oauth.clients[q.Get("client_id")]
	s.mu.Unlock()
	if client == nil {
		authErrorPage(w, 401, "invalid_client", "The OAuth client was not found.")
		return
	}
	redirect := q.Get("redirect_uri")
	if !slices.Contains(client.RedirectURIs, redirect) {
		authErrorPage(w, 400, "redirect_uri_mismatch", "The redirect URI in the request, "+redirect+", does not match the ones authorized for the OAuth client.")
		return
	}
	fail := func(code, desc string) {
		redirectWith(w, r, redirect, url.Values{"error": {code}, "error_description": {desc}, "state": {q.Get("state")}})
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "Only response_type=code is supported.")
		return
	}
	scopes := strings.Fields(q.Get("scope"))
	if len(scopes) == 0 {
		fail("invalid_request", "Missing required parameter: scope")
		return
	}
	method := q.Get("code_challenge_method")
	if q.Get("code_challenge") != "" && method != "S256" && method != "plain" && method != "" {
		fail("invalid_request", "Invalid code_challenge_method.")
		return
	}
	if method == "" && q.Get("code_challenge") != "" {
		method = "plain"
	}
	access := q.Get("access_type")
	if access != "" && access != "online" && access != "offline" {
		fail("invalid_request", "Invalid access_type: "+access)
		return
	}
	req := &authRequest{client: client, redirectURI: redirect, state: q.Get("state"), nonce: q.Get("nonce"), scopes: scopes,
		challenge: q.Get("code_challenge"), challengeMethod: method, offline: access == "offline",
		forceConsent: slices.Contains(strings.Fields(q.Get("prompt")), "consent"), loginHint: normalizeEmail(q.Get("login_hint")),
		includeGranted: q.Get("include_granted_scopes") == "true", created: s.opts.Clock.Now()}
	id := randomToken("ar-")
	s.mu.Lock()
	s.oauth.pending[id] = req
	var users []string
	for email := range s.users {
		if req.loginHint == "" || email == req.loginHint {
			users = append(users, email)
		}
	}
	s.mu.Unlock()
	slices.Sort(users)
	if len(users) == 0 {
		fail("access_denied", "No such account: "+req.loginHint)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var signIn, offered []string
	for _, sc := range scopes {
		if isSignInScope(sc) {
			signIn = append(signIn, sc)
		} else {
			offered = append(offered, sc)
		}
	}
	consentPage.Execute(w, map[string]any{"Client": client.ID, "Request": id, "Users": users, "Hint": req.loginHint, "SignIn": signIn, "Scopes": offered})
}

func (s *Server) decide(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		authErrorPage(w, 400, "invalid_request", "The form could not be read.")
		return
	}
	s.mu.Lock()
	req := s.oauth.pending[r.PostForm.Get("request")]
	delete(s.oauth.pending, r.PostForm.Get("request"))
	email := normalizeEmail(r.PostForm.Get("email"))
	known := s.users[email] != nil
	s.mu.Unlock()
	if req == nil || s.opts.Clock.Now().Sub(req.created) > time.Hour {
		authErrorPage(w, 400, "invalid_request", "This sign-in request has expired or was already answered. Start again.")
		return
	}
	if r.PostForm.Get("decision") != "allow" || !known {
		redirectWith(w, r, req.redirectURI, url.Values{"error": {"access_denied"}, "state": {req.state}})
		return
	}
	// Granular consent: the user may untick any scope but sign-in's; a
	// form without the page's choices (a test posting directly) grants all.
	granted := req.scopes
	if r.PostForm.Get("granular") != "" {
		granted = nil
		for _, sc := range req.scopes {
			if isSignInScope(sc) || slices.Contains(r.PostForm["scope"], sc) {
				granted = append(granted, sc)
			}
		}
	}
	code := randomToken("4/fake-code-")
	s.mu.Lock()
	if req.includeGranted {
		// Incremental authorization: the new grant also covers what the
		// user granted this client before.
		for _, g := range s.auth.grants {
			if g.email == email && g.clientID == req.client.ID && !g.revoked {
				for _, sc := range g.scopes {
					if !slices.Contains(granted, sc) {
						granted = append(granted, sc)
					}
				}
			}
		}
	}
	s.oauth.codes[code] = &authCode{req: req, email: email, scopes: granted, expires: s.opts.Clock.Now().Add(10 * time.Minute)}
	s.mu.Unlock()
	redirectWith(w, r, req.redirectURI, url.Values{"code": {code}, "state": {req.state}, "scope": {strings.Join(granted, " ")}})
}

// isSignInScope says whether a scope is one of sign-in's, which Google's
// consent screen grants without a choice (granular consent lets the user
// untick every other one).
func isSignInScope(sc string) bool {
	switch sc {
	case ScopeOpenID, ScopeEmail, ScopeProfile, "https://www.googleapis.com/auth/userinfo.email", "https://www.googleapis.com/auth/userinfo.profile":
		return true
	}
	return false
}

// clientCredentials reads the client's id and secret from HTTP Basic auth
// or the form.
func clientCredentials(r *http.Request) (string, string) {
	if id, secret, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		return id, secret
	}
	return r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, 400, "invalid_request", "The request body could not be read.")
		return
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case grantAuthCode, grantRefresh:
		id, secret := clientCredentials(r)
		s.mu.Lock()
		client := s.oauth.clients[id]
		s.mu.Unlock()
		if client == nil || subtle.ConstantTimeCompare([]byte(client.Secret), []byte(secret)) != 1 {
			oauthError(w, 401, "invalid_client", "Unauthorized")
			return
		}
		if gt == grantAuthCode {
			s.exchangeCode(w, r, client)
		} else {
			s.refresh(w, r, client)
		}
	case grantJWT:
		s.jwtBearer(w, r)
	case "":
		oauthError(w, 400, "invalid_request", "Missing required parameter: grant_type")
	default:
		oauthError(w, 400, "unsupported_grant_type", "Invalid grant_type: "+gt)
	}
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
	IDToken      string `json:"id_token,omitempty"`
}

func writeToken(w http.ResponseWriter, tr tokenResponse) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(tr)
}

// respondLocked issues an access token of g (and an id_token when openid
// was granted). s.mu must be held.
func (s *Server) respondLocked(g *grant, withRefresh bool, nonce string) tokenResponse {
	tok, exp := s.issueLocked(g, g.scopes)
	tr := tokenResponse{AccessToken: tok, ExpiresIn: int(exp.Sub(s.opts.Clock.Now()).Seconds()), Scope: strings.Join(g.scopes, " "), TokenType: "Bearer"}
	if withRefresh {
		tr.RefreshToken = g.refreshToken
	}
	if slices.Contains(g.scopes, ScopeOpenID) {
		acct := s.users[g.email]
		name := ""
		if acct != nil {
			name = acct.name
		}
		claims := jwt.MapClaims{"azp": g.clientID, "aud": g.clientID, "email": g.email, "email_verified": true, "name": name}
		if acct != nil && acct.domain != "" {
			claims["hd"] = acct.domain
		}
		if nonce != "" {
			claims["nonce"] = nonce
		}
		tr.IDToken = s.signLocked(g.email, claims, time.Hour)
	}
	return tr
}

func (s *Server) exchangeCode(w http.ResponseWriter, r *http.Request, client *OAuthClient) {
	s.mu.Lock()
	defer s.mu.Unlock()
	code := s.oauth.codes[r.PostForm.Get("code")]
	if code == nil || code.used || !s.opts.Clock.Now().Before(code.expires) || code.req.client.ID != client.ID {
		oauthError(w, 400, "invalid_grant", "Malformed auth code.")
		return
	}
	code.used = true
	req := code.req
	if r.PostForm.Get("redirect_uri") != req.redirectURI {
		oauthError(w, 400, "redirect_uri_mismatch", "Bad Request")
		return
	}
	if req.challenge != "" {
		verifier := r.PostForm.Get("code_verifier")
		if verifier == "" {
			oauthError(w, 400, "invalid_request", "code_verifier or verifier is not needed.")
			return
		}
		got := verifier
		if req.challengeMethod == "S256" {
			sum := sha256.Sum256([]byte(verifier))
			got = base64.RawURLEncoding.EncodeToString(sum[:])
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(req.challenge)) != 1 {
			oauthError(w, 400, "invalid_grant", "Invalid code verifier.")
			return
		}
	}
	// Google issues a refresh token on the first offline consent of a
	// user to a client, and again only when consent is forced.
	first := true
	for _, g := range s.auth.grants {
		if g.email == code.email && g.clientID == client.ID && !g.revoked && g.refreshToken != "" {
			first = false
		}
	}
	g := s.newGrantLocked(code.email, client.ID, code.scopes)
	withRefresh := req.offline && (first || req.forceConsent)
	if !withRefresh {
		delete(s.auth.refresh, g.refreshToken)
		g.refreshToken = ""
	}
	writeToken(w, s.respondLocked(g, withRefresh, req.nonce))
}

func (s *Server) refresh(w http.ResponseWriter, r *http.Request, client *OAuthClient) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.auth.refresh[r.PostForm.Get("refresh_token")]
	if g == nil || g.revoked {
		oauthError(w, 400, "invalid_grant", "Token has been expired or revoked.")
		return
	}
	if g.clientID != client.ID {
		oauthError(w, 401, "unauthorized_client", "Unauthorized")
		return
	}
	writeToken(w, s.respondLocked(g, false, ""))
}

// jwtBearer is the service account flow: a JWT signed with the account's
// key, with sub naming the user to act as under domain-wide delegation.
func (s *Server) jwtBearer(w http.ResponseWriter, r *http.Request) {
	var sa *serviceAccount
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(r.PostForm.Get("assertion"), claims, func(t *jwt.Token) (any, error) {
		iss, _ := claims["iss"].(string)
		s.mu.Lock()
		sa = s.oauth.accounts[iss]
		s.mu.Unlock()
		if sa == nil {
			return nil, fmt.Errorf("unknown service account %q", iss)
		}
		return sa.key, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(s.opts.Clock.Now), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	const badTime = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."
	switch {
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenUsedBeforeIssued), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		oauthError(w, 400, "invalid_grant", badTime)
		return
	case err != nil:
		oauthError(w, 400, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	aud, _ := claims.GetAudience()
	if !slices.Contains(aud, s.url+"/token") && !slices.Contains(aud, "https://oauth2.googleapis.com/token") {
		oauthError(w, 400, "invalid_grant", "Invalid JWT: audience must be the token endpoint.")
		return
	}
	iat, _ := claims.GetIssuedAt()
	exp, _ := claims.GetExpirationTime()
	if iat == nil || exp.Sub(iat.Time) > time.Hour {
		oauthError(w, 400, "invalid_grant", badTime)
		return
	}
	scope, _ := claims["scope"].(string)
	scopes := strings.Fields(scope)
	if len(scopes) == 0 {
		oauthError(w, 400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
		return
	}
	subject, _ := claims["sub"].(string)
	subject = normalizeEmail(subject)
	s.mu.Lock()
	defer s.mu.Unlock()
	as := sa.email
	if subject != "" && subject != sa.email {
		if s.users[subject] == nil || s.users[subject].suspended {
			oauthError(w, 400, "invalid_grant", "Invalid email or User ID")
			return
		}
		allowed := s.oauth.delegation[sa.clientID]
		for _, sc := range scopes {
			if !slices.Contains(allowed, sc) {
				oauthError(w, 401, "unauthorized_client", "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.")
				return
			}
		}
		as = subject
	}
	g := s.newGrantLocked(as, sa.clientID, scopes)
	delete(s.auth.refresh, g.refreshToken)
	g.refreshToken = ""
	tr := s.respondLocked(g, false, "")
	tr.IDToken = ""
	writeToken(w, tr)
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, 400, "invalid_request", "The request body could not be read.")
		return
	}
	tok := r.Form.Get("token")
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.auth.refresh[tok]
	if at := s.auth.tokens[tok]; g == nil && at != nil {
		g = s.auth.grants[at.grant]
	}
	if g == nil || g.revoked {
		oauthError(w, 400, "invalid_token", "Token expired or revoked")
		return
	}
	g.revoked = true
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write([]byte("{}"))
}

// subjectID is a stable numeric id for an address, as Google's sub.
func subjectID(email string) string {
	h := fnv.New64a()
	h.Write([]byte(email))
	return fmt.Sprintf("1%020d", h.Sum64())
}

// signLocked signs an OpenID Connect token for email with extra claims.
// s.mu must be held (only for the clock and key).
func (s *Server) signLocked(email string, extra jwt.MapClaims, ttl time.Duration) string {
	key := s.oauth.signingKey()
	now := s.opts.Clock.Now()
	claims := jwt.MapClaims{"iss": Issuer, "sub": subjectID(email), "iat": now.Unix(), "exp": now.Add(ttl).Unix()}
	for k, v := range extra {
		claims[k] = v
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = s.oauth.keyID
	signed, err := t.SignedString(key)
	if err != nil {
		panic(err)
	}
	return signed
}

// OIDCToken signs an OpenID Connect identity token of a service account,
// as Pub/Sub push subscriptions and Cloud Scheduler send to their
// endpoints: iss accounts.google.com, the audience, email and
// email_verified. Verify it with the keys at JWKSURL.
func (s *Server) OIDCToken(audience, serviceAccountEmail string, ttl time.Duration) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signLocked(serviceAccountEmail, jwt.MapClaims{"aud": audience, "azp": subjectID(serviceAccountEmail),
		"email": serviceAccountEmail, "email_verified": true}, ttl)
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	key := s.oauth.signingKey()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": s.oauth.keyID,
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}}})
}

func (s *Server) openIDConfiguration(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{
		"issuer": Issuer, "authorization_endpoint": s.url + "/o/oauth2/v2/auth", "token_endpoint": s.url + "/token",
		"revocation_endpoint": s.url + "/revoke", "jwks_uri": s.url + "/oauth2/v3/certs",
		"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "email", "profile"},
		"code_challenge_methods_supported":      []string{"plain", "S256"},
		"grant_types_supported":                 []string{grantAuthCode, grantRefresh, grantJWT},
	})
}

var requestField = regexp.MustCompile(`name="request" value="([^"]+)"`)

// Consent plays a user on the fake's consent page, as a browser would: it
// opens authURL, chooses the account and presses Allow (or Cancel), and
// returns the address the browser is sent back to (the client's redirect
// URI with code and state, or error).
func Consent(authURL, email string, allow bool) (*url.URL, error) {
	return consent(authURL, email, allow, nil)
}

// ConsentGranting is Consent where the user allows with only these of the
// offered scopes ticked (sign-in's are always granted), as Google's
// granular consent screen lets them.
func ConsentGranting(authURL, email string, scopes []string) (*url.URL, error) {
	if scopes == nil {
		scopes = []string{}
	}
	return consent(authURL, email, true, scopes)
}

func consent(authURL, email string, allow bool, scopes []string) (*url.URL, error) {
	resp, err := http.Get(authURL)
	if err != nil {
		return nil, err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fakegoogle: consent page answered %d: %s", resp.StatusCode, page)
	}
	m := requestField.FindSubmatch(page)
	if m == nil {
		return nil, fmt.Errorf("fakegoogle: the consent page has no request")
	}
	base, err := url.Parse(authURL)
	if err != nil {
		return nil, err
	}
	base.Path, base.RawQuery = "/o/oauth2/v2/auth/decide", ""
	decision := "deny"
	if allow {
		decision = "allow"
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := url.Values{"request": {string(m[1])}, "email": {email}, "decision": {decision}}
	if scopes != nil {
		form["granular"], form["scope"] = []string{"1"}, scopes
	}
	resp, err = noFollow.PostForm(base.String(), form)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return nil, fmt.Errorf("fakegoogle: the decision answered %d", resp.StatusCode)
	}
	return url.Parse(resp.Header.Get("Location"))
}
