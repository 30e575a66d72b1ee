// Package tokencrypt encrypts users' Google refresh tokens at rest with
// AES-256-GCM. The key is the token-encryption-key secret (32 bytes,
// base64); the ciphertext is bound to the user it belongs to (additional
// data), so a token copied to another user's record does not decrypt.
//
// Sealed form: "v1." + base64url(nonce || ciphertext || tag). The version
// prefix leaves room for a key rotation.
package tokencrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"strings"

	"github.com/crmsync/crmsync/shared/failure"
)

const prefix = "v1."

// Box seals and opens tokens with one key. It is safe for concurrent use.
type Box struct{ aead cipher.AEAD }

// New returns a Box for a key given as base64 (standard or URL, padded or
// not) of 32 bytes, as the secret holds it.
func New(key []byte) (*Box, error) {
	const op = "tokencrypt: key"
	s := strings.TrimRight(strings.TrimSpace(string(key)), "=")
	var raw []byte
	var err error
	if strings.ContainsAny(s, "-_") {
		raw, err = base64.RawURLEncoding.DecodeString(s)
	} else {
		raw, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil || len(raw) != 32 {
		return nil, failure.Errorf(op, failure.Permanent, "the token-encryption-key secret must be 32 random bytes in base64 (e.g. openssl rand -base64 32)")
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, failure.E(op, failure.Permanent, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, failure.E(op, failure.Permanent, err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts token for user.
func (b *Box) Seal(user, token string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", failure.E("tokencrypt: seal", failure.Transient, err)
	}
	out := b.aead.Seal(nonce, nonce, []byte(token), []byte(user))
	return prefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a sealed token of user. A token that was changed, sealed
// for another user or with another key is Permanent: the user reconnects.
func (b *Box) Open(user, sealed string) (string, error) {
	const op = "tokencrypt: open"
	body, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return "", failure.Errorf(op, failure.Permanent, "not a sealed token")
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	n := b.aead.NonceSize()
	if err != nil || len(raw) < n+b.aead.Overhead() {
		return "", failure.Errorf(op, failure.Permanent, "the sealed token is malformed")
	}
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(user))
	if err != nil {
		return "", failure.Errorf(op, failure.Permanent, "the sealed token does not open with this key for this user")
	}
	return string(plain), nil
}
