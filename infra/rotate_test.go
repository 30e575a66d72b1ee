package infra_test

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/shared/keyring"
)

// scripts/rotate-key.sh against a fake gcloud that keeps one secret's
// versions in a file: add, promote and retire each add one version, the
// keyring stays readable by the product, the old keys stay as they were,
// and no key is printed.
func TestRotateKeyScript(t *testing.T) {
	dir := t.TempDir()
	versions := filepath.Join(dir, "versions")
	fake := `#!/usr/bin/env bash
case "$*" in
  "secrets versions access latest --secret=token-encryption-key --project=acme-crm-sync") tail -c +1 "` + versions + `.latest" ;;
  "secrets versions add token-encryption-key --project=acme-crm-sync --data-file=-") cat > "` + versions + `.latest"; echo x >> "` + versions + `" ;;
  *) echo "ERROR: (gcloud) unexpected call: $*" >&2; exit 1 ;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "gcloud"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	legacy := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	os.WriteFile(versions+".latest", []byte(legacy), 0o600) // a bare key, from before keyrings
	run := func(args ...string) (string, error) {
		cmd := exec.Command("bash", append([]string{"../scripts/rotate-key.sh", "acme-crm-sync", "token-encryption-key"}, args...)...)
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	ring := func() *keyring.Ring {
		b, _ := os.ReadFile(versions + ".latest")
		r, err := keyring.Parse("token-encryption-key", b)
		if err != nil {
			t.Fatalf("the secret no longer parses: %v", err)
		}
		return r
	}
	ids := func(r *keyring.Ring) string {
		var out []string
		for _, k := range r.Keys {
			out = append(out, k.ID)
		}
		return strings.Join(out, " ")
	}
	steps := []struct {
		args []string
		ids  string
	}{
		{[]string{"add", "k2"}, "1 k2"},
		{[]string{"promote", "k2"}, "k2 1"},
		{[]string{"retire", "1"}, "k2"},
	}
	var k2 []byte
	for _, s := range steps {
		out, err := run(s.args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", s.args, err, out)
		}
		r := ring()
		if ids(r) != s.ids {
			t.Errorf("after %v the keys are %q, want %q", s.args, ids(r), s.ids)
		}
		if k, ok := r.Get("k2"); ok {
			if k2 != nil && string(k.Bytes) != string(k2) {
				t.Errorf("%v changed key k2", s.args)
			}
			k2 = k.Bytes
		}
		if k, ok := r.Get("1"); ok && base64.StdEncoding.EncodeToString(k.Bytes) != legacy {
			t.Errorf("%v changed the old key", s.args)
		}
		for _, k := range r.Keys {
			if strings.Contains(out, base64.StdEncoding.EncodeToString(k.Bytes)) {
				t.Errorf("%v printed a key", s.args)
			}
		}
	}
	if b, _ := os.ReadFile(versions); strings.Count(string(b), "x") != 3 {
		t.Errorf("%d versions added, want 3", strings.Count(string(b), "x"))
	}
	for _, bad := range [][]string{{"retire", "k2"}, {"promote", "k9"}, {"add", "k2"}, {"add", "bad id"}, {"shred", "k2"}} {
		if out, err := run(bad...); err == nil {
			t.Errorf("%v was accepted: %s", bad, out)
		}
	}
	if ids(ring()) != "k2" {
		t.Errorf("a refused step changed the secret: %q", ids(ring()))
	}
}
