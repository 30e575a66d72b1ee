package tokencrypt

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/keyring"
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
	if strings.Contains(sealed, tok) || !strings.HasPrefix(sealed, "v2."+keyring.LegacyID+".") {
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
		"truncated":             {box, "ann@demo.test", "v2.1.AAAA"},
		"an unknown key id":     {box, "ann@demo.test", strings.Replace(sealed, "v2.1.", "v2.9.", 1)},
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

func line(t *testing.T, id string) string {
	k, err := keyring.New(id)
	if err != nil {
		t.Fatal(err)
	}
	return k.Line()
}

// A token sealed before keyrings ("v1.", a bare key) still opens once that
// key is line "1" of a ring, and is stale once another key is primary.
func TestLegacyTokensOpenAfterTheKeyBecomesARing(t *testing.T) {
	bare := key(t)
	legacy, _ := New(bare)
	sealed, _ := legacy.Seal("ann@demo.test", "rt")
	v1 := "v1." + strings.TrimPrefix(sealed, "v2.1.") // what the product stored before keyrings
	ring, err := New([]byte(line(t, "k2") + "\n1:" + string(bare)))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ring.Open("ann@demo.test", v1); err != nil || got != "rt" {
		t.Fatalf("a v1 token under the ring: %q, %v", got, err)
	}
	if !ring.Stale(v1) || legacy.Stale(v1) {
		t.Errorf("Stale(v1) = %v under k2 primary, %v under the bare key", ring.Stale(v1), legacy.Stale(v1))
	}
	again, _ := ring.Seal("ann@demo.test", "rt")
	if !strings.HasPrefix(again, "v2.k2.") || ring.Stale(again) {
		t.Errorf("a new seal: %q", again)
	}
}

// A reloading box reads its secret again once its interval has passed, and
// keeps its keys when the read fails.
func TestReloadingBoxLearnsARotatedRing(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Now())
	k1, k2 := line(t, "k1"), line(t, "k2")
	var secret string
	var fail error
	load := func(context.Context) ([]byte, error) { return []byte(secret), fail }
	secret = k1
	box, err := NewReloading(ctx, load, 5*time.Minute, clk)
	if err != nil {
		t.Fatal(err)
	}
	s1, _ := box.Seal("ann@demo.test", "rt")
	secret = k2 + "\n" + k1
	box.Refresh(ctx)
	if s, _ := box.Seal("ann@demo.test", "rt"); !strings.HasPrefix(s, "v2.k1.") {
		t.Errorf("read again before its interval: %q", s)
	}
	clk.Advance(5 * time.Minute)
	if err := box.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	s2, _ := box.Seal("ann@demo.test", "rt")
	if !strings.HasPrefix(s2, "v2.k2.") || !box.Stale(s1) {
		t.Errorf("after the interval: %q, stale(k1) %v", s2, box.Stale(s1))
	}
	fail = failure.Errorf("secrets", failure.Transient, "Secret Manager unavailable")
	clk.Advance(5 * time.Minute)
	if err := box.Refresh(ctx); err == nil {
		t.Error("a failed read was not reported")
	}
	for _, s := range []string{s1, s2} {
		if got, err := box.Open("ann@demo.test", s); err != nil || got != "rt" {
			t.Errorf("after a failed read: %q, %v", got, err)
		}
	}
	fail, secret = nil, "not a key"
	clk.Advance(5 * time.Minute)
	if err := box.Refresh(ctx); !failure.Is(err, failure.Configuration) {
		t.Errorf("a broken ring: %v", err)
	}
	if got, err := box.Open("ann@demo.test", s2); err != nil || got != "rt" {
		t.Errorf("a broken ring replaced the keys: %q, %v", got, err)
	}
}
