package tokencrypt

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/shared/failure"
)

func key(t *testing.T) []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return []byte(base64.StdEncoding.EncodeToString(b))
}

func TestSealOpen(t *testing.T) {
	box, err := New(key(t))
	if err != nil {
		t.Fatal(err)
	}
	const tok = "1//0gRefreshTokenValue"
	sealed, err := box.Seal("ann@demo.test", tok)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, tok) || !strings.HasPrefix(sealed, "v1.") {
		t.Fatalf("sealed form %q", sealed)
	}
	again, _ := box.Seal("ann@demo.test", tok)
	if again == sealed {
		t.Error("two seals of one token are equal: the nonce is not random")
	}
	if got, err := box.Open("ann@demo.test", sealed); err != nil || got != tok {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other, _ := New(key(t))
	flipped := []byte(sealed)
	flipped[len(flipped)-3] ^= 1
	for name, tc := range map[string]struct {
		box         *Box
		user, value string
	}{
		"another user's record": {box, "bob@demo.test", sealed},
		"another key":           {other, "ann@demo.test", sealed},
		"a changed byte":        {box, "ann@demo.test", string(flipped)},
		"plain text":            {box, "ann@demo.test", tok},
		"truncated":             {box, "ann@demo.test", "v1.AAAA"},
	} {
		if _, err := tc.box.Open(tc.user, tc.value); !failure.Is(err, failure.Permanent) {
			t.Errorf("%s: %v, want a Permanent error", name, err)
		}
	}
}

func TestKeyMustBe32Bytes(t *testing.T) {
	for _, k := range []string{"", "short", base64.StdEncoding.EncodeToString(make([]byte, 16))} {
		if _, err := New([]byte(k)); err == nil {
			t.Errorf("key %q accepted", k)
		}
	}
	raw := make([]byte, 32)
	if _, err := New([]byte(base64.RawURLEncoding.EncodeToString(raw) + "\n")); err != nil {
		t.Errorf("URL alphabet without padding: %v", err)
	}
}
