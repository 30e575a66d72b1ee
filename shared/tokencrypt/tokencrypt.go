// Package tokencrypt encrypts users' Google refresh tokens at rest with
// AES-256-GCM. The keys are the token-encryption-key secret, a keyring
// (package keyring): the primary key seals, every key of the ring opens.
// The ciphertext is bound to the user it belongs to (additional data), so a
// token copied to another user's record does not decrypt.
//
// Sealed forms:
//
//	"v2." + key id + "." + base64url(nonce || ciphertext || tag)
//	"v1." + base64url(nonce || ciphertext || tag)    (before keyrings; key id "1")
//
// Stale says when a sealed token should be sealed again with the primary
// key, which is how a rotation reaches every stored grant.
package tokencrypt

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"sync"
	"time"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/keyring"
)

// SecretName is the secret the keys come from.
const SecretName = "token-encryption-key"

// Box seals and opens tokens with a keyring. It is safe for concurrent use.
type Box struct {
	// load, when set, reads the secret again (Refresh).
	load    func(ctx context.Context) ([]byte, error)
	every   time.Duration
	clock   clock.Clock
	mu      sync.Mutex
	primary string
	aeads   map[string]cipher.AEAD
	loaded  time.Time
}

// New returns a Box for the keyring secret's value.
func New(secret []byte) (*Box, error) {
	b := &Box{}
	if err := b.set(secret); err != nil {
		return nil, err
	}
	return b, nil
}

// NewReloading returns a Box that reads its keyring through load and reads
// it again at Refresh once every interval, so an instance learns a rotated
// keyring without a redeployment.
func NewReloading(ctx context.Context, load func(ctx context.Context) ([]byte, error), every time.Duration, clk clock.Clock) (*Box, error) {
	secret, err := load(ctx)
	if err != nil {
		return nil, err
	}
	b := &Box{load: load, every: every, clock: clk}
	if err := b.set(secret); err != nil {
		return nil, err
	}
	b.loaded = clk.Now()
	return b, nil
}

func (b *Box) set(secret []byte) error {
	ring, err := keyring.Parse(SecretName, secret)
	if err != nil {
		return err
	}
	aeads := make(map[string]cipher.AEAD, len(ring.Keys))
	for _, k := range ring.Keys {
		if len(k.Bytes) != 32 {
			return failure.Errorf("tokencrypt: key", failure.Configuration, "key %s of %s has %d bytes; AES-256 needs exactly 32", k.ID, SecretName, len(k.Bytes))
		}
		block, err := aes.NewCipher(k.Bytes)
		if err != nil {
			return failure.E("tokencrypt: key", failure.Configuration, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return failure.E("tokencrypt: key", failure.Configuration, err)
		}
		aeads[k.ID] = aead
	}
	b.mu.Lock()
	b.primary, b.aeads = ring.Primary().ID, aeads
	b.mu.Unlock()
	return nil
}

// Refresh reads the keyring again when the last read is older than the
// Box's interval. A failed read keeps the keys it has (and says why).
func (b *Box) Refresh(ctx context.Context) error {
	if b.load == nil {
		return nil
	}
	b.mu.Lock()
	due := b.clock.Now().Sub(b.loaded) >= b.every
	if due {
		b.loaded = b.clock.Now()
	}
	b.mu.Unlock()
	if !due {
		return nil
	}
	secret, err := b.load(ctx)
	if err != nil {
		return err
	}
	return b.set(secret)
}

func (b *Box) keys() (string, map[string]cipher.AEAD) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.primary, b.aeads
}

// Seal encrypts token for user with the primary key.
func (b *Box) Seal(user, token string) (string, error) {
	id, aeads := b.keys()
	aead := aeads[id]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", failure.E("tokencrypt: seal", failure.Transient, err)
	}
	out := aead.Seal(nonce, nonce, []byte(token), []byte(user))
	return "v2." + id + "." + base64.RawURLEncoding.EncodeToString(out), nil
}

// keyOf returns the key id and body of a sealed token.
func keyOf(sealed string) (id, body string, ok bool) {
	if body, ok := strings.CutPrefix(sealed, "v1."); ok {
		return keyring.LegacyID, body, true
	}
	if rest, ok := strings.CutPrefix(sealed, "v2."); ok {
		return strings.Cut(rest, ".")
	}
	return "", "", false
}

// Stale says whether sealed was sealed with a key other than the primary:
// the caller seals it again so the old key can be retired.
func (b *Box) Stale(sealed string) bool {
	id, _, ok := keyOf(sealed)
	primary, _ := b.keys()
	return ok && id != primary
}

// Open decrypts a sealed token of user. A token that was changed, sealed
// for another user or with a key the ring does not hold is Permanent.
func (b *Box) Open(user, sealed string) (string, error) {
	const op = "tokencrypt: open"
	id, body, ok := keyOf(sealed)
	if !ok {
		return "", failure.Errorf(op, failure.Permanent, "not a sealed token")
	}
	_, aeads := b.keys()
	aead, ok := aeads[id]
	if !ok {
		return "", failure.Errorf(op, failure.Permanent, "the token was sealed with key %s, which the %s keyring does not hold (was it retired too early?)", id, SecretName)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	n := aead.NonceSize()
	if err != nil || len(raw) < n+aead.Overhead() {
		return "", failure.Errorf(op, failure.Permanent, "the sealed token is malformed")
	}
	plain, err := aead.Open(nil, raw[:n], raw[n:], []byte(user))
	if err != nil {
		return "", failure.Errorf(op, failure.Permanent, "the sealed token does not open with key %s for this user", id)
	}
	return string(plain), nil
}
