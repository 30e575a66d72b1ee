// Tests that every function stages into a tree the Cloud Functions Go
// buildpack can build and serve.
package functions_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// registered maps each folder of functions/ to the name its init registers
// (the deployment's FUNCTION_TARGET).
var registered = map[string]string{
	"health":       "Health",
	"crmapi":       "CRMAPI",
	"gmailpush":    "GmailPush",
	"dispatch":     "Dispatch",
	"jobs":         "Jobs",
	"calendarpush": "CalendarPush",
	"web":          "Web",
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestEveryFunctionIsListed(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			if _, ok := registered[e.Name()]; !ok {
				t.Errorf("functions/%s is not in the registered table of this test", e.Name())
			}
		}
	}
}

// Each function is staged, built as the buildpack builds it (a main module
// that requires ours and replaces it with the staged tree), started with
// FUNCTION_TARGET, and answers over HTTP.
func TestStagedFunctionsBuildAndServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every function; skipped with -short")
	}
	root := repoRoot(t)
	module := strings.TrimSpace(run(t, root, nil, "go", "list", "-m"))
	for dir, target := range registered {
		t.Run(dir, func(t *testing.T) {
			staged := filepath.Join(t.TempDir(), "src")
			run(t, root, nil, "scripts/stage.sh", dir, staged)
			if _, err := os.Stat(filepath.Join(staged, "functions", dir)); err != nil {
				t.Fatalf("staged tree lacks the function: %v", err)
			}
			matches, _ := filepath.Glob(filepath.Join(staged, "*", "*", "*_test.go"))
			if len(matches) > 0 {
				t.Errorf("staged tree contains tests: %v", matches)
			}

			app := filepath.Join(t.TempDir(), "app")
			os.MkdirAll(app, 0o755)
			os.WriteFile(filepath.Join(app, "main.go"), []byte(fmt.Sprintf(`package main

import (
	"log"
	"os"

	_ %q
	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
)

func main() {
	if err := funcframework.StartHostPort("127.0.0.1", os.Getenv("PORT")); err != nil {
		log.Fatal(err)
	}
}
`, module)), 0o644)
			gomod := fmt.Sprintf("module functions.local/app\n\ngo 1.26\n\nrequire %s v0.0.0\n\nreplace %s => %s\n", module, module, staged)
			os.WriteFile(filepath.Join(app, "go.mod"), []byte(gomod), 0o644)
			sum, _ := os.ReadFile(filepath.Join(staged, "go.sum"))
			os.WriteFile(filepath.Join(app, "go.sum"), sum, 0o644)
			run(t, app, nil, "go", "mod", "tidy")
			bin := filepath.Join(app, "fn")
			run(t, app, nil, "go", "build", "-o", bin, ".")

			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
			l.Close()
			emulator := os.Getenv("FIRESTORE_EMULATOR_HOST")
			if emulator == "" {
				emulator = "127.0.0.1:1" // nothing listens: Health answers 503, still proving the wiring
			}
			cmd := exec.Command(bin)
			cmd.Env = append(os.Environ(), "PORT="+port, "FUNCTION_TARGET="+target, "GOOGLE_CLOUD_PROJECT=staging-test",
				"CRMSYNC_ENV=test", "CRMSYNC_VERSION=staged-1", "FIRESTORE_EMULATOR_HOST="+emulator, "CRMSYNC_SECRET_CRM_API_KEY=staged-key", "CRM_URL=http://127.0.0.1:1/",
				"WEB_URL=http://127.0.0.1:"+port, "CRMSYNC_SECRET_TOKEN_ENCRYPTION_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
				"CRMSYNC_SECRET_OAUTH_CLIENT_SECRET=staged-secret")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

			var resp *http.Response
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				if resp, err = http.Get("http://127.0.0.1:" + port + "/"); err == nil {
					break
				}
			}
			if err != nil {
				t.Fatalf("staged %s never answered: %v", target, err)
			}
			defer resp.Body.Close()
			probes[target](t, resp, "http://127.0.0.1:"+port)
		})
	}
}

// probes check each staged function's answer to GET / and whatever else
// proves its wiring.
var probes = map[string]func(t *testing.T, root *http.Response, url string){
	"Health": func(t *testing.T, resp *http.Response, _ string) {
		var rep struct{ Version string }
		if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil || rep.Version != "staged-1" {
			t.Errorf("staged Health answered %d with version %q (%v)", resp.StatusCode, rep.Version, err)
		}
	},
	// Dispatch refuses GET and an unknown kind.
	"Dispatch": func(t *testing.T, resp *http.Response, url string) {
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("staged Dispatch GET: %d, want 405", resp.StatusCode)
		}
		r, err := http.Post(url+"/", "application/json", strings.NewReader(`{"kind":"tea"}`))
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusBadRequest && r.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("staged Dispatch with an unknown kind: %d, want 400 (or 503 without Pub/Sub)", r.StatusCode)
		}
	},
	// CalendarPush refuses a notification of no channel it knows.
	"CalendarPush": func(t *testing.T, resp *http.Response, url string) {
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("staged CalendarPush GET: %d, want 405", resp.StatusCode)
		}
		r, err := http.Post(url+"/?user=nobody@x.test", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusForbidden && r.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("staged CalendarPush without a channel: %d, want 403 (or 503 without Firestore)", r.StatusCode)
		}
	},
	// Jobs acknowledges a job it can never run.
	"Jobs": func(t *testing.T, resp *http.Response, url string) {
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("staged Jobs GET: %d, want 405", resp.StatusCode)
		}
		r, err := http.Post(url+"/", "application/json", strings.NewReader(`{"message":{"data":"e30="}}`))
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusNoContent {
			t.Errorf("staged Jobs with an empty job: %d, want 204", r.StatusCode)
		}
	},
	// Web shows the sign-in page (its templates were staged with it) and
	// refuses a tampered Approve link.
	"Web": func(t *testing.T, resp *http.Response, url string) {
		if resp.StatusCode == http.StatusServiceUnavailable && os.Getenv("PUBSUB_EMULATOR_HOST") == "" {
			t.Skip("the Web function needs Pub/Sub (the emulator) to build")
		}
		page, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(page), "Sign in with Google") {
			t.Errorf("staged Web GET /: %d %.300s", resp.StatusCode, page)
		}
		r, err := http.PostForm(url+"/preview/approve", map[string][]string{"t": {"forged.token"}})
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusBadRequest {
			t.Errorf("staged Web with a forged link: %d, want 400", r.StatusCode)
		}
	},
	// GmailPush acknowledges a push it can never use (and refuses GET).
	"GmailPush": func(t *testing.T, resp *http.Response, url string) {
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("staged GmailPush GET: %d, want 405", resp.StatusCode)
		}
		r, err := http.Post(url+"/", "application/json", strings.NewReader(`{"message":{"data":"bm90IGpzb24="}}`))
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusNoContent {
			t.Errorf("staged GmailPush with a malformed notification: %d, want 204", r.StatusCode)
		}
	},
	// The CRM API read its key from the secrets: without it 401, with it
	// the API answers (an empty CRM, or 503 while Firestore is absent).
	"CRMAPI": func(t *testing.T, resp *http.Response, url string) {
		if resp.StatusCode != 401 {
			t.Errorf("staged CRMAPI without a key: %d, want 401", resp.StatusCode)
		}
		req, _ := http.NewRequest("GET", url+"/v1/users", nil)
		req.Header.Set("Authorization", "Bearer staged-key")
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var body struct{ Users []any }
		if err := json.NewDecoder(r.Body).Decode(&body); r.StatusCode != 200 || err != nil || body.Users == nil {
			t.Errorf("staged CRMAPI with the key: %d (%v)", r.StatusCode, err)
		}
	},
}
