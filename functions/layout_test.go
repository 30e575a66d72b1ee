package functions_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/crmsync/crmsync/"

// tiers place each package of the tree in the layout of
// ../shared/ARCHITECTURE.md, lowest first: ports and pure rules (the
// store, the CRM port, Google clients, fakes), engines (every decision),
// the assembly of an instance, then the functions, thin adapters. A
// package is named by its path, or by a parent path ending in "/".
var tiers = []struct {
	name     string
	packages []string
}{
	{"ports and pure rules", []string{"shared/store/", "shared/crm/", "shared/workspace", "shared/secrets", "shared/config", "shared/logging",
		"shared/failure", "shared/clock", "shared/twoway", "shared/direction", "shared/matching", "shared/mailparse", "shared/tokencrypt",
		"shared/keyring", "shared/authn", "shared/gmailnotify", "shared/pubsubpush", "shared/topology", "shared/fakegoogle", "shared/golden", "shared/seeded"}},
	{"engines", []string{"shared/syncpass/", "shared/contactsync", "shared/calendarsync", "shared/mailbox", "shared/setup", "shared/preview",
		"shared/jobs/", "shared/reconnect", "shared/notify", "shared/connect", "shared/sidepanel"}},
	{"assembly", []string{"shared/wiring/", "shared/instance", "shared/sandbox/", "shared/loadtest", "shared/topology/cmd/"}},
	{"functions", []string{"functions/"}},
}

// tierOf is the tier of a package path relative to the module, or -1.
func tierOf(pkg string) int {
	best, at := -1, 0
	for i, tier := range tiers {
		for _, p := range tier.packages {
			if (pkg == p || pkg == strings.TrimSuffix(p, "/") || strings.HasSuffix(p, "/") && strings.HasPrefix(pkg, p)) && len(p) > at {
				best, at = i, len(p)
			}
		}
	}
	return best
}

// Imports go down the layout (functions → assembly → engines → ports),
// never up; only the sandbox, which runs the functions on this machine,
// imports them. Every package has its tier, so a new one must be placed.
func TestImportsGoDownTheLayout(t *testing.T) {
	for _, root := range []string{"../shared", "../functions"} {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() || d.Name() == "testdata" || d.Name() == "templates" {
				return err
			}
			pkg := strings.TrimPrefix(path, "../")
			entries, _ := os.ReadDir(path)
			for _, e := range entries {
				if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
					continue
				}
				from := tierOf(pkg)
				if from < 0 {
					t.Errorf("%s has no tier in this test's layout", pkg)
					return filepath.SkipDir
				}
				f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(path, e.Name()), nil, parser.ImportsOnly)
				if err != nil {
					t.Fatal(err)
				}
				for _, imp := range f.Imports {
					target, _ := strconv.Unquote(imp.Path.Value)
					target, ok := strings.CutPrefix(target, module)
					if !ok {
						continue
					}
					to := tierOf(target)
					if strings.HasPrefix(target, "functions/") && strings.HasPrefix(pkg, "shared/sandbox") {
						continue // the sandbox runs the functions
					}
					if to > from {
						t.Errorf("%s (%s) imports %s (%s): an import up the layout", pkg, tiers[from].name, target, tiers[to].name)
					}
				}
			}
			return nil
		})
	}
}

// The tiers themselves hold: a port importing an engine is refused.
func TestTierOf(t *testing.T) {
	for pkg, want := range map[string]int{"shared/store": 0, "shared/store/storetest": 0, "shared/crm/refcrm": 0, "shared/syncpass/syncpasstest": 1,
		"shared/contactsync": 1, "shared/wiring": 2, "shared/topology/cmd/replay": 2, "shared/topology": 0, "functions/web": 3, "shared/unknown": -1} {
		if got := tierOf(pkg); got != want {
			t.Errorf("tier of %s: %d, want %d", pkg, got, want)
		}
	}
}
