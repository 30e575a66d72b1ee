// Package keyring reads a secret that holds several keys, so a key can be
// replaced without making what the old one sealed or signed unreadable.
//
// The secret's value is one key per line, "ID:KEY", KEY being 32 or more
// random bytes in base64. The first line is the primary key: it seals and
// signs everything new. The lines after it are older (or not yet promoted)
// keys that are only read. Blank lines and lines starting with # are
// skipped. A value of one bare base64 key, as the product stored before it
// had keyrings, is a ring of one key whose ID is LegacyID.
//
// Rotation (docs/operations.md) is three edits of the secret, each a new
// secret version: add the new key as a second line (every instance learns
// to read it), promote it to the first line (new data uses it; what is
// read with the old key is sealed again with the new one), then retire the
// old line once nothing needs it. scripts/rotate-key.sh makes those edits
// in Secret Manager (infra's TestRotateKeyScript checks that what it
// writes parses here).
package keyring

import (
	"crypto/rand"
	"encoding/base64"
	"regexp"
	"slices"
	"strings"

	"github.com/crmsync/crmsync/shared/failure"
)

// LegacyID is the ID of a key stored bare, before keyrings.
const LegacyID = "1"

// KeySize is the size of the keys New makes, and the least a key may have.
const KeySize = 32

// Key is one key of a ring.
type Key struct {
	ID    string
	Bytes []byte
}

// Ring is a parsed keyring: Keys[0] is primary.
type Ring struct {
	// Secret is the secret's name, for messages.
	Secret string
	Keys   []Key
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,24}$`)

// Parse reads the keyring of the secret named name from its value.
func Parse(name string, value []byte) (*Ring, error) {
	op := "keyring: " + name
	r := &Ring{Secret: name}
	lines := strings.Split(string(value), "\n")
	for n, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, enc, ok := strings.Cut(line, ":")
		if !ok {
			id, enc = LegacyID, line
		}
		id, enc = strings.TrimSpace(id), strings.TrimSpace(enc)
		if !idPattern.MatchString(id) {
			return nil, failure.Errorf(op, failure.Configuration, "line %d: key id %q (want 1 to 24 letters, digits or -)", n+1, id)
		}
		b, err := decode(enc)
		if err != nil || len(b) < KeySize {
			return nil, failure.Errorf(op, failure.Configuration, "line %d: key %s must be at least %d random bytes in base64 (e.g. openssl rand -base64 32)", n+1, id, KeySize)
		}
		if _, dup := r.Get(id); dup {
			return nil, failure.Errorf(op, failure.Configuration, "line %d: key id %s appears twice", n+1, id)
		}
		r.Keys = append(r.Keys, Key{ID: id, Bytes: b})
	}
	if len(r.Keys) == 0 {
		return nil, failure.Errorf(op, failure.Configuration, "the secret holds no key (want lines of ID:KEY, the first one primary; scripts/set-secrets.sh makes one)")
	}
	return r, nil
}

func decode(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// Primary returns the key that seals and signs new data.
func (r *Ring) Primary() Key { return r.Keys[0] }

// Get returns the key id.
func (r *Ring) Get(id string) (Key, bool) {
	i := slices.IndexFunc(r.Keys, func(k Key) bool { return k.ID == id })
	if i < 0 {
		return Key{}, false
	}
	return r.Keys[i], true
}

// Line is the key as a line of the secret, "ID:base64".
func (k Key) Line() string { return k.ID + ":" + base64.StdEncoding.EncodeToString(k.Bytes) }

// New returns a new random key with id.
func New(id string) (Key, error) {
	if !idPattern.MatchString(id) {
		return Key{}, failure.Errorf("keyring: new key", failure.Invalid, "key id %q (want 1 to 24 letters, digits or -)", id)
	}
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		return Key{}, failure.E("keyring: new key", failure.Transient, err)
	}
	return Key{ID: id, Bytes: b}, nil
}
