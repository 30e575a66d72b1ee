// Package authn says who is calling the product's HTTP functions: browser
// sessions (signed cookies) with CSRF tokens for the web function, and
// verification of Google-signed OpenID Connect tokens (the id_token of a
// Google sign-in; the identity tokens Pub/Sub push and Cloud Scheduler
// send).
//
// Keys are derived (HKDF-SHA-256) from one root secret with a label per
// use, so a session key never signs a link and rotating the root secret
// ends every session and outstanding link at once.
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
)

// DeriveKey returns the 32-byte key for purpose from the root secret.
func DeriveKey(root []byte, purpose string) ([]byte, error) {
	if len(root) < 32 {
		return nil, failure.Errorf("authn: derive key", failure.Permanent, "the root secret has %d bytes, want at least 32", len(root))
	}
	return hkdf.Key(sha256.New, root, nil, "crmsync "+purpose, 32)
}

// Signer makes and checks tamper-proof tokens: a JSON payload and its
// HMAC-SHA-256, both base64url, joined by a dot.
type Signer struct{ key []byte }

// NewSigner returns a signer with the key for purpose.
func NewSigner(root []byte, purpose string) (*Signer, error) {
	k, err := DeriveKey(root, purpose)
	if err != nil {
		return nil, err
	}
	return &Signer{key: k}, nil
}

func (s *Signer) mac(b []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(b)
	return m.Sum(nil)
}

// Sign returns the token of v (JSON-encoded).
func (s *Signer) Sign(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(s.mac(b)), nil
}

// Open checks token's signature and decodes its payload into v. A token
// that is malformed or signed with another key is Invalid.
func (s *Signer) Open(token string, v any) error {
	const op = "authn: open token"
	payload, sig, ok := strings.Cut(token, ".")
	b, err1 := base64.RawURLEncoding.DecodeString(payload)
	m, err2 := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err1 != nil || err2 != nil || !hmac.Equal(m, s.mac(b)) {
		return failure.Errorf(op, failure.Invalid, "the link or token is damaged or was not made by this product")
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
	csrf   []byte
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

// NewSessions returns sessions keyed from the root secret.
func NewSessions(root []byte, secure bool, clk clock.Clock) (*Sessions, error) {
	signer, err := NewSigner(root, "session")
	if err != nil {
		return nil, err
	}
	csrf, err := DeriveKey(root, "csrf")
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

// CSRF returns the anti-forgery token of a session, for its forms.
func (s *Sessions) CSRF(sess Session) string {
	m := hmac.New(sha256.New, s.csrf)
	fmt.Fprint(m, sess.ID)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckCSRF says whether a state-changing request carries the session's
// token, in the csrf form field or the X-CSRF-Token header.
func (s *Sessions) CheckCSRF(r *http.Request, sess Session) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return got != "" && Equal(got, s.CSRF(sess))
}
