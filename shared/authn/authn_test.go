package authn

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/keyring"
)

func ring(t *testing.T, lines ...string) *keyring.Ring {
	t.Helper()
	r, err := keyring.Parse(SecretName, []byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newKey(t *testing.T, id string) string {
	k, err := keyring.New(id)
	if err != nil {
		t.Fatal(err)
	}
	return k.Line()
}

func TestSessions(t *testing.T) {
	clk := clock.NewFake(time.Now())
	s, err := NewSessions(ring(t, newKey(t, "a")), true, clk)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	sess, err := s.Issue(rec, "Cat@Firm.test")
	if err != nil {
		t.Fatal(err)
	}
	cookie := rec.Result().Cookies()[0]
	if !cookie.HttpOnly || !cookie.Secure || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" {
		t.Errorf("cookie attributes: %+v", cookie)
	}
	req := func(value string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: CookieName, Value: value})
		return r
	}
	got, err := s.Read(req(cookie.Value))
	if err != nil || got.Email != "cat@firm.test" || got.ID != sess.ID {
		t.Fatalf("Read = %+v, %v", got, err)
	}
	payload, sig, _ := strings.Cut(cookie.Value, ".")
	another, _ := NewSigner(ring(t, newKey(t, "a")), "session") // same id, another key
	forged, _ := another.Sign(Session{ID: "x", Email: "ann@firm.test", Expires: clk.Now().Add(time.Hour)})
	unknown, _ := NewSigner(ring(t, newKey(t, "zz")), "session")
	unknownKey, _ := unknown.Sign(Session{ID: "x", Email: "ann@firm.test", Expires: clk.Now().Add(time.Hour)})
	for name, v := range map[string]string{"tampered": payload + "A." + sig, "forged": forged, "a key the ring lacks": unknownKey, "no key id": strings.TrimSuffix(cookie.Value, ".a"), "empty": ""} {
		if _, err := s.Read(req(v)); !failure.Is(err, failure.Unauthenticated) {
			t.Errorf("%s cookie: %v, want Unauthenticated", name, err)
		}
	}
	if _, err := s.Read(httptest.NewRequest("GET", "/", nil)); !failure.Is(err, failure.Unauthenticated) {
		t.Errorf("no cookie: %v", err)
	}
	// CSRF tokens are the session's: another session's does not pass.
	form := func(token string) *http.Request {
		r := httptest.NewRequest("POST", "/", strings.NewReader(url.Values{"csrf": {token}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	if !s.CheckCSRF(form(s.CSRF(sess)), sess) {
		t.Error("the session's own CSRF token was refused")
	}
	other := Session{ID: "other"}
	if s.CheckCSRF(form(s.CSRF(other)), sess) || s.CheckCSRF(form(""), sess) {
		t.Error("a foreign or empty CSRF token passed")
	}
	hdr := httptest.NewRequest("POST", "/", nil)
	hdr.Header.Set("X-CSRF-Token", s.CSRF(sess))
	if !s.CheckCSRF(hdr, sess) {
		t.Error("the X-CSRF-Token header was refused")
	}
	clk.Advance(13 * time.Hour)
	if _, err := s.Read(req(cookie.Value)); !failure.Is(err, failure.Unauthenticated) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("an expired session: %v", err)
	}
}

// A signing-key rotation ends no session and voids no form: the new key is
// added, then promoted (what it signs is read by instances that have both
// keys), then the old one retired, which ends what only it signed.
func TestSigningKeyRotation(t *testing.T) {
	clk := clock.NewFake(time.Now())
	oldKey, newer := newKey(t, "k1"), newKey(t, "k2")
	before, _ := NewSessions(ring(t, oldKey), true, clk)
	adding, _ := NewSessions(ring(t, oldKey, newer), true, clk)
	promoted, _ := NewSessions(ring(t, newer, oldKey), true, clk)
	retired, _ := NewSessions(ring(t, newer), true, clk)
	issue := func(s *Sessions) (string, Session) {
		rec := httptest.NewRecorder()
		sess, err := s.Issue(rec, "cat@firm.test")
		if err != nil {
			t.Fatal(err)
		}
		return rec.Result().Cookies()[0].Value, sess
	}
	read := func(s *Sessions, v string) error {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: CookieName, Value: v})
		_, err := s.Read(r)
		return err
	}
	csrfOK := func(s *Sessions, tok string, sess Session) bool {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("X-CSRF-Token", tok)
		return s.CheckCSRF(r, sess)
	}
	oldCookie, oldSess := issue(before)
	oldCSRF := before.CSRF(oldSess)
	if !strings.HasSuffix(oldCookie, ".k1") {
		t.Errorf("a cookie signed with k1 does not name it: %q", oldCookie)
	}
	for name, s := range map[string]*Sessions{"k2 added": adding, "k2 promoted": promoted} {
		if err := read(s, oldCookie); err != nil || !csrfOK(s, oldCSRF, oldSess) {
			t.Errorf("%s: a session signed before it ended: %v", name, err)
		}
	}
	// While some instances already sign with k2, the others (k2 added,
	// not promoted) read what those sign.
	newCookie, newSess := issue(promoted)
	if !strings.HasSuffix(newCookie, ".k2") || read(adding, newCookie) != nil || !csrfOK(adding, promoted.CSRF(newSess), newSess) {
		t.Errorf("a session signed with the promoted key is not read by an instance that has it as a second key: %q", newCookie)
	}
	if read(before, newCookie) == nil {
		t.Error("an instance without k2 accepted a cookie it signed")
	}
	if err := read(retired, oldCookie); !failure.Is(err, failure.Unauthenticated) || csrfOK(retired, oldCSRF, oldSess) {
		t.Errorf("after k1 is retired what only it signed still passes: %v", err)
	}
	if err := read(retired, newCookie); err != nil {
		t.Errorf("after k1 is retired a k2 session ended: %v", err)
	}
}

// Identity tokens: only Google-signed (here: the fake's keys), unexpired,
// for the audience, with a verified address.
func TestIDTokens(t *testing.T) {
	ctx := context.Background()
	g, other := google(t), google(t) // the signer, and another
	v := NewIDTokens(ctx, g.JWKSURL(), clock.Real{})
	const aud = "https://web.example/Jobs"
	id, err := v.Verify(ctx, g.OIDCToken(aud, "pubsub@p.iam.gserviceaccount.com", time.Hour), aud)
	if err != nil || id.Email != "pubsub@p.iam.gserviceaccount.com" {
		t.Fatalf("a good token: %+v, %v", id, err)
	}
	for name, tok := range map[string]string{
		"wrong audience": g.OIDCToken("https://elsewhere.example", "pubsub@p.iam.gserviceaccount.com", time.Hour),
		"wrong signer":   other.OIDCToken(aud, "pubsub@p.iam.gserviceaccount.com", time.Hour),
		"expired":        g.OIDCToken(aud, "pubsub@p.iam.gserviceaccount.com", -time.Minute),
		"missing":        "",
		"garbage":        "not.a.token",
	} {
		if _, err := v.Verify(ctx, tok, aud); !failure.Is(err, failure.Unauthenticated) {
			t.Errorf("%s: %v, want Unauthenticated", name, err)
		}
	}
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("Authorization", "Bearer abc.def")
	if BearerToken(r) != "abc.def" {
		t.Errorf("BearerToken = %q", BearerToken(r))
	}
}

// Push and scheduler endpoints take only Google-signed tokens for their
// audience from the allowed callers.
func TestCallersGuardAnEndpoint(t *testing.T) {
	ctx := context.Background()
	g, other := google(t), google(t) // the signer, and another
	const aud, push = "https://us-east1-p.cloudfunctions.net/crmsync-jobs", "crmsync-pubsub-push@p.iam.gserviceaccount.com"
	c := &Callers{Tokens: NewIDTokens(ctx, g.JWKSURL(), clock.Real{}), Audiences: []string{"https://jobs-x.a.run.app", aud}, Emails: []string{push}}
	reached := 0
	h := c.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++; w.WriteHeader(204) }))
	for name, tc := range map[string]struct {
		token string
		want  int
	}{
		"right token":     {g.OIDCToken(aud, push, time.Hour), 204},
		"other audience":  {g.OIDCToken("https://elsewhere.example", push, time.Hour), 401},
		"other signer":    {other.OIDCToken(aud, push, time.Hour), 401},
		"expired":         {g.OIDCToken(aud, push, -time.Minute), 401},
		"missing":         {"", 401},
		"another account": {g.OIDCToken(aud, "attacker@evil.iam.gserviceaccount.com", time.Hour), 403},
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader("{}"))
		if tc.token != "" {
			r.Header.Set("Authorization", "Bearer "+tc.token)
		}
		w := httptest.NewRecorder()
		before := reached
		h.ServeHTTP(w, r)
		if w.Code != tc.want || (tc.want == 204) != (reached > before) {
			t.Errorf("%s: %d (handler reached: %v), want %d", name, w.Code, reached > before, tc.want)
		}
		if tc.want == 401 && w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", name)
		}
	}
}

// google starts a fake Google whose keys sign identity tokens.
func google(t *testing.T) *fakegoogle.Server {
	g := fakegoogle.Started(t, fakegoogle.Options{Clock: clock.Real{}})
	return g
}

// stripped is a token as Cloud Run passes it on after its own invoker
// check: the signature replaced by SignatureRemoved.
func stripped(tok string) string {
	return tok[:strings.LastIndexByte(tok, '.')+1] + SignatureRemoved
}

// Behind Cloud Run's invoker check the function gets the caller's token
// with its signature removed (Cloud Run's troubleshooting guide, "Signature
// removed"): such a token is accepted on its claims, and only there. A
// function not declared behind the check refuses it, and every claim is
// still checked: audience, expiry, issuer, caller.
func TestCallersBehindCloudRunsInvokerCheck(t *testing.T) {
	ctx := context.Background()
	g, other := google(t), google(t)
	const aud, push = "https://us-east1-p.cloudfunctions.net/crmsync-jobs", "crmsync-pubsub-push@p.iam.gserviceaccount.com"
	forged := func(claims string) string {
		enc := base64.RawURLEncoding.EncodeToString
		return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc([]byte(claims)) + "." + SignatureRemoved
	}
	now := time.Now().Unix()
	for name, tc := range map[string]struct {
		token  string
		behind bool
		want   int
	}{
		"stripped, behind the check":             {stripped(g.OIDCToken(aud, push, time.Hour)), true, 204},
		"stripped, public function":              {stripped(g.OIDCToken(aud, push, time.Hour)), false, 401},
		"signed, behind the check":               {g.OIDCToken(aud, push, time.Hour), true, 204},
		"stripped other audience":                {stripped(g.OIDCToken("https://elsewhere.example", push, time.Hour)), true, 401},
		"stripped expired":                       {stripped(g.OIDCToken(aud, push, -time.Minute)), true, 401},
		"stripped another account":               {stripped(g.OIDCToken(aud, "attacker@evil.iam.gserviceaccount.com", time.Hour)), true, 403},
		"another signer's token, signed":         {other.OIDCToken(aud, push, time.Hour), true, 401},
		"not Google's issuer, stripped":          {forged(fmt.Sprintf(`{"iss":"https://evil.example","aud":%q,"email":%q,"email_verified":true,"exp":%d,"iat":%d}`, aud, push, now+600, now)), true, 401},
		"an unverified address, stripped":        {forged(fmt.Sprintf(`{"iss":"https://accounts.google.com","aud":%q,"email":%q,"exp":%d,"iat":%d}`, aud, push, now+600, now)), true, 401},
		"another marker in place of a signature": {strings.TrimSuffix(stripped(g.OIDCToken(aud, push, time.Hour)), SignatureRemoved) + "c2ln", true, 401},
	} {
		c := &Callers{Tokens: NewIDTokens(ctx, g.JWKSURL(), clock.Real{}), Audiences: []string{aud}, Emails: []string{push}, CheckedByPlatform: tc.behind}
		h := c.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
		r := httptest.NewRequest("POST", "/", strings.NewReader("{}"))
		r.Header.Set("Authorization", "Bearer "+tc.token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s: %d, want %d", name, w.Code, tc.want)
		}
	}
}
