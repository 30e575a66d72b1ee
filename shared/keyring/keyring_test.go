package keyring

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/shared/failure"
)

func enc(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }

func TestParse(t *testing.T) {
	r, err := Parse("k", []byte("# newest first\n\nk2:"+enc(32)+"\n k1 : "+strings.TrimRight(base64.RawURLEncoding.EncodeToString(make([]byte, 48)), "=")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Primary().ID != "k2" || len(r.Keys) != 2 || len(r.Keys[1].Bytes) != 48 {
		t.Errorf("ring: %+v", r.Keys)
	}
	legacy, err := Parse("k", []byte(enc(32)+"\n"))
	if err != nil || legacy.Primary().ID != LegacyID {
		t.Errorf("a bare key: %+v, %v", legacy, err)
	}
	for name, v := range map[string]string{
		"empty":          "",
		"only comments":  "# nothing\n",
		"short key":      "k1:" + enc(16),
		"not base64":     "k1:%%%",
		"bad id":         "k.1:" + enc(32),
		"duplicate id":   "k1:" + enc(32) + "\nk1:" + enc(32),
		"two bare lines": enc(32) + "\n" + enc(32),
	} {
		if _, err := Parse("k", []byte(v)); !failure.Is(err, failure.Configuration) {
			t.Errorf("%s: %v, want a Configuration error", name, err)
		} else if strings.Contains(err.Error(), enc(32)) {
			t.Errorf("%s: the error shows the key", name)
		}
	}
}

func TestNewKeys(t *testing.T) {
	k, err := New("k2")
	if err != nil || len(k.Bytes) != KeySize {
		t.Fatal(k, err)
	}
	r, err := Parse("k", []byte(k.Line()))
	if err != nil || r.Primary().ID != "k2" || string(r.Primary().Bytes) != string(k.Bytes) {
		t.Errorf("a new key's line does not parse back: %v, %v", r, err)
	}
	if _, err := New("bad id"); !failure.Is(err, failure.Invalid) {
		t.Errorf("a bad id: %v", err)
	}
}
