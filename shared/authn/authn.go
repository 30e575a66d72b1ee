// Package authn says who is calling the product's HTTP functions: browser
// sessions (signed cookies) with CSRF tokens for the web function, and
// verification of Google-signed OpenID Connect tokens (the id_token of a
// Google sign-in; the identity tokens Pub/Sub push and Cloud Scheduler
// send).
//
// Keys come from the signing-key secret, a keyring (package keyring), and
// are derived from each of its keys (HKDF-SHA-256) with a label per use, so
// a session key never makes a CSRF token. The primary key signs; every key
// of the ring verifies, so a rotation ends no session. The secret is not
// the token-encryption key: a leaked signing key opens no refresh token.
package authn

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/keyring"
)

// SecretName is the secret the signing keys come from.
const SecretName = "signing-key"

// DeriveKey returns the 32-byte key for purpose from a key of the ring.
func DeriveKey(root []byte, purpose string) ([]byte, error) {
	if len(root) < 32 {
		return nil, failure.Errorf("authn: derive key", failure.Permanent, "the signing key has %d bytes, want at least 32", len(root))
	}
	return hkdf.Key(sha256.New, root, nil, "crmsync "+purpose, 32)
}

// keys are a purpose's keys, by the id of the ring key they come from.
type keys struct {
	primary string
	byID    map[string][]byte
}

func derive(ring *keyring.Ring, purpose string) (keys, error) {
	k := keys{primary: ring.Primary().ID, byID: map[string][]byte{}}
	for _, rk := range ring.Keys {
		d, err := DeriveKey(rk.Bytes, purpose)
		if err != nil {
			return keys{}, err
		}
		k.byID[rk.ID] = d
	}
	return k, nil
}

func (k keys) mac(id string, b []byte) []byte {
	m := hmac.New(sha256.New, k.byID[id])
	m.Write(b)
	return m.Sum(nil)
}

// Signer makes and checks tamper-proof tokens: a JSON payload, its
// HMAC-SHA-256 (both base64url) and the id of the key that signed, joined
// by dots.
type Signer struct{ k keys }

// NewSigner returns a signer with the ring's keys for purpose.
func NewSigner(ring *keyring.Ring, purpose string) (*Signer, error) {
	k, err := derive(ring, purpose)
	if err != nil {
		return nil, err
	}
	return &Signer{k: k}, nil
}

// Sign returns the token of v (JSON-encoded), signed with the primary key.
func (s *Signer) Sign(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	id := s.k.primary
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(s.k.mac(id, b)) + "." + id, nil
}

// Open checks token's signature and decodes its payload into v. A token
// that is malformed or signed with a key the ring does not hold is Invalid.
func (s *Signer) Open(token string, v any) error {
	const op = "authn: open token"
	parts := strings.Split(token, ".")
	bad := failure.Errorf(op, failure.Invalid, "the link or token is damaged or was not made by this product")
	if len(parts) != 3 {
		return bad
	}
	if _, ok := s.k.byID[parts[2]]; !ok {
		return bad
	}
	b, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	m, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	if err1 != nil || err2 != nil || !hmac.Equal(m, s.k.mac(parts[2], b)) {
		return bad
	}
	if err := json.Unmarshal(b, v); err != nil {
		return failure.Errorf(op, failure.Invalid, "the token's content is not readable")
	}
	return nil
}

// Equal compares two secrets in constant time.
func Equal(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }

// Session is a signed-in browser.
type Session struct {
	// ID is random per sign-in; CSRF tokens are bound to it.
	ID      string    `json:"sid"`
	Email   string    `json:"email"`
	Expires time.Time `json:"exp"`
	// Issued is when the user signed in: a session issued before the
	// user's SessionsFrom (sign-out, a withdrawn right) is over.
	Issued time.Time `json:"iat"`
}

// Sessions issues and reads session cookies.
type Sessions struct {
	signer *Signer
	csrf   keys
	// Secure marks the cookie Secure (always, except on the sandbox's
	// plain-HTTP localhost).
	Secure bool
	// Path scopes the cookie to the Web function's path on a host that
	// every function of the project shares ("" is "/").
	Path  string
	TTL   time.Duration
	Clock clock.Clock
}

func (s *Sessions) path() string {
	if s.Path == "" {
		return "/"
	}
	return s.Path
}

// CookieName is the session cookie's name.
const CookieName = "crmsync_session"

// NewSessions returns sessions keyed from the signing keyring.
func NewSessions(ring *keyring.Ring, secure bool, clk clock.Clock) (*Sessions, error) {
	signer, err := NewSigner(ring, "session")
	if err != nil {
		return nil, err
	}
	csrf, err := derive(ring, "csrf")
	if err != nil {
		return nil, err
	}
	return &Sessions{signer: signer, csrf: csrf, Secure: secure, TTL: 12 * time.Hour, Clock: clk}, nil
}

// RandomID returns n random bytes, hex-encoded.
func RandomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Issue starts a session for email and sets its cookie.
func (s *Sessions) Issue(w http.ResponseWriter, email string) (Session, error) {
	now := s.Clock.Now().UTC()
	sess := Session{ID: RandomID(16), Email: strings.ToLower(email), Expires: now.Add(s.TTL).Truncate(time.Second), Issued: now}
	v, err := s.signer.Sign(sess)
	if err != nil {
		return Session{}, err
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: v, Path: s.path(), Expires: sess.Expires, HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode})
	return sess, nil
}

// Clear ends the browser's session.
func (s *Sessions) Clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: s.path(), MaxAge: -1, HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode})
}

// Read returns the request's session; Unauthenticated when there is none,
// it was tampered with, or it expired.
func (s *Sessions) Read(r *http.Request) (Session, error) {
	const op = "authn: session"
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return Session{}, failure.Errorf(op, failure.Unauthenticated, "not signed in")
	}
	var sess Session
	if err := s.signer.Open(c.Value, &sess); err != nil {
		return Session{}, failure.Errorf(op, failure.Unauthenticated, "the session cookie is not valid; sign in again")
	}
	if !s.Clock.Now().Before(sess.Expires) || sess.Email == "" || sess.ID == "" {
		return Session{}, failure.Errorf(op, failure.Unauthenticated, "the session expired; sign in again")
	}
	return sess, nil
}

// CSRF returns the anti-forgery token of a session, for its forms: its
// HMAC under the primary key, and that key's id.
func (s *Sessions) CSRF(sess Session) string {
	return s.csrfWith(s.csrf.primary, sess)
}

func (s *Sessions) csrfWith(id string, sess Session) string {
	var b strings.Builder
	fmt.Fprint(&b, sess.ID)
	return base64.RawURLEncoding.EncodeToString(s.csrf.mac(id, []byte(b.String()))) + "." + id
}

// CheckCSRF says whether a state-changing request carries the session's
// token, in the csrf form field or the X-CSRF-Token header. A token made
// with an older key of the ring is still good.
func (s *Sessions) CheckCSRF(r *http.Request, sess Session) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	_, id, ok := strings.Cut(got, ".")
	if _, known := s.csrf.byID[id]; !ok || !known {
		return false
	}
	return Equal(got, s.csrfWith(id, sess))
}
