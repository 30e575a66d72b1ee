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
	back, err := Parse("k", []byte(r.String()))
	if err != nil || back.String() != r.String() {
		t.Errorf("String does not parse back: %v", err)
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

func TestRotationEdits(t *testing.T) {
	r, _ := Parse("k", []byte("k1:"+enc(32)))
	k2, err := New("k2")
	if err != nil || len(k2.Bytes) != KeySize {
		t.Fatal(k2, err)
	}
	added, err := r.Add(k2)
	if err != nil || added.Primary().ID != "k1" || len(added.Keys) != 2 {
		t.Fatalf("Add: %+v, %v", added, err)
	}
	if _, err := added.Add(k2); err == nil {
		t.Error("a key id was added twice")
	}
	promoted, err := added.Promote("k2")
	if err != nil || promoted.Primary().ID != "k2" || promoted.Keys[1].ID != "k1" {
		t.Fatalf("Promote: %+v, %v", promoted, err)
	}
	if _, err := promoted.Retire("k2"); err == nil {
		t.Error("the primary key was retired")
	}
	retired, err := promoted.Retire("k1")
	if err != nil || len(retired.Keys) != 1 || retired.Primary().ID != "k2" {
		t.Fatalf("Retire: %+v, %v", retired, err)
	}
	if len(r.Keys) != 1 || len(added.Keys) != 2 {
		t.Error("an edit changed the ring it was made from")
	}
	if _, err := r.Promote("nope"); !failure.Is(err, failure.NotFound) {
		t.Errorf("promoting an unknown key: %v", err)
	}
}
