package functions_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docs/security.md backs each attack it lists with a test it names: every
// name in backquotes that looks like a test must be a test function of the
// repository, so the page cannot promise a test that was renamed or never
// written.
func TestSecurityDocNamesRealTests(t *testing.T) {
	doc, err := os.ReadFile("../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	defined := definedTests()
	named := regexp.MustCompile("`(Test\\w+)`").FindAllStringSubmatch(string(doc), -1)
	if len(named) < 20 {
		t.Fatalf("the page names %d tests; its table was expected to name more", len(named))
	}
	for _, m := range named {
		if !defined[m[1]] {
			t.Errorf("docs/security.md names %s, which is no test of the repository", m[1])
		}
	}
}

// The runbook (docs/operations.md) backs its procedures with tests it
// names, and its offboarding command is the one TestOffboardAWholeFirm
// runs.
func TestRunbookNamesRealTests(t *testing.T) {
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	defined := definedTests()
	for _, m := range regexp.MustCompile("`(Test\\w+)`").FindAllStringSubmatch(string(doc), -1) {
		if !defined[m[1]] {
			t.Errorf("docs/operations.md names %s, which is no test of the repository", m[1])
		}
	}
	for _, cmd := range []string{"go run ./shared/wiring/cmd/offboard-firm -tenant TENANT -export TENANT-export.jsonl -yes", "go run ./shared/topology/cmd/replay"} {
		if !strings.Contains(string(doc), cmd) {
			t.Errorf("docs/operations.md lacks the command %q", cmd)
		}
	}
}

// definedTests are the test functions of the repository.
func definedTests() map[string]bool {
	defined := map[string]bool{}
	decl := regexp.MustCompile(`(?m)^func (Test\w+)\(`)
	filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != ".." {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, "_test.go") {
			b, _ := os.ReadFile(path)
			for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
				defined[m[1]] = true
			}
		}
		return nil
	})
	return defined
}

// docs/development.md's package map names every package of the tree (test
// helpers and commands are described with their parents), so a newcomer
// finds each one there.
func TestThePackageMapMatchesTheTree(t *testing.T) {
	doc, err := os.ReadFile("../docs/development.md")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, root := range []string{"../shared", "../functions"} {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return err
			}
			// Test helpers (storetest, crmtest, jobstest) and commands
			// are described with the package they serve.
			if name := d.Name(); name == "testdata" || name == "cmd" || name == "templates" || strings.HasSuffix(name, "test") && path != "../shared/loadtest" {
				return filepath.SkipDir
			}
			entries, _ := os.ReadDir(path)
			for _, e := range entries {
				if strings.HasSuffix(e.Name(), ".go") && !strings.HasSuffix(e.Name(), "_test.go") {
					pkg := strings.TrimPrefix(path, "../")
					if !strings.Contains(string(doc), "`"+pkg+"`") {
						missing = append(missing, pkg)
					}
					break
				}
			}
			return nil
		})
	}
	if len(missing) > 0 {
		t.Errorf("docs/development.md's package map lacks %v", missing)
	}
}
