// Tests that every function stages into a tree the Cloud Functions Go
// buildpack can build and serve.
package functions_test

import (
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
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
	"sidepanel":    "SidePanel",
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

// Each function is staged, built as Google's Go buildpack builds it
// (buildLikeGoogle), started with FUNCTION_TARGET as Cloud Run starts it,
// and answers over HTTP.
func TestStagedFunctionsBuildAndServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every function; skipped with -short")
	}
	root := repoRoot(t)
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

			bin := buildLikeGoogle(t, staged, target)

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
				"CRMSYNC_ENV=test", "CRMSYNC_VERSION=staged-1", "FIRESTORE_EMULATOR_HOST="+emulator, "CRMSYNC_SECRET_CRM_API_KEY=staged-key-of-at-least-thirty-two-characters", "CRM_URL=http://127.0.0.1:1/",
				"WEB_URL=http://127.0.0.1:"+port, "SIDEPANEL_URL=http://127.0.0.1:"+port, "CRMSYNC_SECRET_TOKEN_ENCRYPTION_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
				"CRMSYNC_SECRET_SIGNING_KEY=s1:ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=",
				"CRMSYNC_SECRET_CRM_ADMIN_KEY=staged-admin-key-of-at-least-thirty-two-chars",
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
	// refuses an Approve without a signed-in user.
	// SidePanel refuses GET, and an event whose user ID token is not
	// Google's (the sandbox and tests run it without OIDC_AUDIENCES).
	"SidePanel": func(t *testing.T, resp *http.Response, url string) {
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("staged SidePanel GET: %d, want 405", resp.StatusCode)
		}
		r, err := http.Post(url+"/message", "application/json", strings.NewReader(`{"authorizationEventObject":{"userIdToken":"x.y.z"}}`))
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusUnauthorized {
			t.Errorf("staged SidePanel with a forged user: %d, want 401", r.StatusCode)
		}
	},
	"Web": func(t *testing.T, resp *http.Response, url string) {
		if resp.StatusCode == http.StatusServiceUnavailable && os.Getenv("PUBSUB_EMULATOR_HOST") == "" {
			t.Skip("the Web function needs Pub/Sub (the emulator) to build")
		}
		page, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(page), "Sign in with Google") {
			t.Errorf("staged Web GET /: %d %.300s", resp.StatusCode, page)
		}
		r, err := http.PostForm(url+"/preview/approve", map[string][]string{"p": {"cat@firm.test:1"}})
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusUnauthorized {
			t.Errorf("staged Web, an Approve without a session: %d, want 401", r.StatusCode)
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
		req.Header.Set("Authorization", "Bearer staged-key-of-at-least-thirty-two-characters")
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var body struct{ Users []any }
		if err := json.NewDecoder(r.Body).Decode(&body); r.StatusCode != 200 || err != nil || body.Users == nil {
			t.Errorf("staged CRMAPI with the key: %d (%v)", r.StatusCode, err)
		}
		// It read the admin key too: the sync key cannot create users,
		// the admin key can be told apart (a bad body, not a refusal).
		for key, want := range map[string]int{"staged-key-of-at-least-thirty-two-characters": 403, "staged-admin-key-of-at-least-thirty-two-chars": 400} {
			req, _ := http.NewRequest("POST", url+"/v1/users", strings.NewReader(`{}`))
			req.Header.Set("Authorization", "Bearer "+key)
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			if r.StatusCode != want {
				t.Errorf("staged CRMAPI, POST /v1/users with the %.6s… key: %d, want %d", key, r.StatusCode, want)
			}
		}
	},
}

// The buildpack's rules this test reproduces, read from
// GoogleCloudPlatform/buildpacks (cmd/go/functions_framework/lib/lib.go,
// its converter/get_package and templates, and cmd/go/build/lib/lib.go):
//
//  1. The uploaded source moves into serverless_function_source_code/.
//  2. Its root directory must hold exactly one Go package; the buildpack
//     parses every .go file there (imports only) for its name and imports.
//  3. With a go.mod: the module path needs a dot in its first element;
//     without go.sum it runs go mod tidy; the framework's version is what
//     go.mod requires (else it injects its own).
//  4. It writes functions.local/app/main.go inside the source: when the
//     root package imports the framework's functions package, a main that
//     blank-imports the module's root package and serves what its init
//     registered, picked by FUNCTION_TARGET; otherwise (framework ≥ 1.1) a
//     main that registers <root package>.<FUNCTION_TARGET> at "/".
//  5. go mod tidy in the source, then go build of functions.local/app
//     there; the binary serves on PORT.
const (
	frameworkModule    = "github.com/GoogleCloudPlatform/functions-framework-go"
	frameworkFunctions = frameworkModule + "/functions"
)

// buildLikeGoogle builds a staged tree by those rules and returns the
// binary. A root package that would get the main calling
// <package>.<FUNCTION_TARGET> fails the test, as its build fails on Google.
func buildLikeGoogle(t *testing.T, staged, target string) string {
	t.Helper()
	src, main, err := googleMain(t, staged, target)
	if err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(src, "functions.local", "app")
	if err := os.MkdirAll(app, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "main.go"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, src, nil, "go", "mod", "tidy")
	bin := filepath.Join(t.TempDir(), "function")
	cmd := exec.Command("go", "build", "-o", bin, "./functions.local/app")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the buildpack's build of %s fails: %v\n%s", target, err, out)
	}
	return bin
}

// googleMain applies rules 1 to 4 to a staged tree: it moves the tree
// into serverless_function_source_code/ and returns that directory and the
// main the buildpack would write. The main is ours, with the same meaning
// as the buildpack's template for the case, not a copy of it.
func googleMain(t *testing.T, staged, target string) (src, main string, err error) {
	t.Helper()
	src = filepath.Join(t.TempDir(), "workspace", "serverless_function_source_code")
	if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
		return "", "", err
	}
	if err := os.CopyFS(src, os.DirFS(staged)); err != nil {
		return "", "", err
	}
	_, imports, err := rootPackage(src)
	if err != nil {
		return "", "", err
	}
	module := strings.TrimSpace(run(t, src, nil, "go", "list", "-m"))
	if first, _, _ := strings.Cut(module, "/"); !strings.Contains(first, ".") {
		return "", "", fmt.Errorf("module %q has no dot in its first path element: the buildpack refuses it", module)
	}
	if _, err := os.Stat(filepath.Join(src, "go.sum")); err != nil {
		return "", "", fmt.Errorf("no go.sum in the staged tree: the buildpack would tidy one up at deploy time")
	}
	version := strings.TrimSpace(run(t, src, nil, "go", "list", "-m", "-f", "{{.Version}}", frameworkModule))
	if version == "" {
		return "", "", fmt.Errorf("go.mod does not require %s: the buildpack would inject its own version", frameworkModule)
	}
	if !imports[frameworkFunctions] {
		// The v1.1 template: the function as a field of the root package.
		return src, fmt.Sprintf(`package main

import (
	"context"
	"log"
	"os"

	userfunction %q

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
)

func main() {
	if err := funcframework.RegisterHTTPFunctionContext(context.Background(), "/", userfunction.%s); err != nil {
		log.Fatal(err)
	}
	log.Fatal(funcframework.Start(os.Getenv("PORT")))
}
`, module, target), nil
	}
	// The declarative template: the root package registered the function
	// in an init; FUNCTION_TARGET picks it.
	return src, fmt.Sprintf(`package main

import (
	"log"
	"net/http"
	"os"

	_ %q

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
)

func main() {
	http.HandleFunc("/robots.txt", http.NotFound)
	http.HandleFunc("/favicon.ico", http.NotFound)
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	log.Fatal(funcframework.Start(port))
}
`, module), nil
}

// rootPackage parses every .go file of dir, imports only, as the
// buildpack's get_package converter does: one package name, and the
// imports of all its files.
func rootPackage(dir string) (string, map[string]bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", nil, err
	}
	fset := token.NewFileSet()
	name, imports := "", map[string]bool{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.ImportsOnly)
		if err != nil {
			return "", nil, err
		}
		if name != "" && f.Name.Name != name {
			return "", nil, fmt.Errorf("multiple packages in the source root: %s and %s", name, f.Name.Name)
		}
		name = f.Name.Name
		for _, im := range f.Imports {
			imports[strings.Trim(im.Path.Value, `"`)] = true
		}
	}
	if name == "" {
		return "", nil, fmt.Errorf("no Go package in the source root %s", dir)
	}
	return name, imports, nil
}

// The reproduction catches what Google's build would: a root package that
// only blank-imports the function (what scripts/stage.sh wrote before)
// gets the main that calls function.<FUNCTION_TARGET>, and that does not
// build.
func TestTheBuildpackRefusesARootWithoutTheFrameworkImport(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a function; skipped with -short")
	}
	root := repoRoot(t)
	module := strings.TrimSpace(run(t, root, nil, "go", "list", "-m"))
	staged := filepath.Join(t.TempDir(), "src")
	run(t, root, nil, "scripts/stage.sh", "health", staged)
	old := fmt.Sprintf("package function\n\nimport _ %q\n", module+"/functions/health")
	if err := os.WriteFile(filepath.Join(staged, "function.go"), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	src, main, err := googleMain(t, staged, "Health")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(main, "userfunction.Health") {
		t.Fatalf("a root without the framework's functions import got the declarative main:\n%s", main)
	}
	app := filepath.Join(src, "functions.local", "app")
	os.MkdirAll(app, 0o755)
	os.WriteFile(filepath.Join(app, "main.go"), []byte(main), 0o644)
	run(t, src, nil, "go", "mod", "tidy")
	cmd := exec.Command("go", "build", "-o", filepath.Join(t.TempDir(), "fn"), "./functions.local/app")
	cmd.Dir = src
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "undefined: userfunction.Health") {
		t.Errorf("the old root built (%v): %s", err, out)
	}
}

// docs/deploy.md's staging command, run as written from the Terraform
// folder, puts the zips where the Terraform's sources_dir looks by default.
func TestTheDeployGuidesStagingCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("stages every function; skipped with -short")
	}
	root := repoRoot(t)
	guide, err := os.ReadFile(filepath.Join(root, "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(guide), "\n") {
		if strings.Contains(l, "scripts/stage-all.sh ") {
			line = strings.TrimSpace(l)
			break
		}
	}
	fields := strings.Fields(line)
	if len(fields) != 2 {
		t.Fatalf("docs/deploy.md has no staging command of the form 'scripts/stage-all.sh DIR': %q", line)
	}
	vars, err := os.ReadFile(filepath.Join(root, "infra", "envs", "example", "variables.tf"))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(vars), `variable "sources_dir"`)
	def := ""
	if i >= 0 {
		if _, after, ok := strings.Cut(string(vars[i:]), `default     = "`); ok {
			def, _, _ = strings.Cut(after, `"`)
		}
	}
	if def == "" {
		t.Fatal("infra/envs/example/variables.tf has no sources_dir default")
	}
	env := filepath.Join(root, "infra", "envs", "example")
	out := filepath.Join(env, def)
	if filepath.Clean(out) != filepath.Join(root, ".build", "functions") {
		t.Fatalf("sources_dir %q resolves to %s, outside the repository's .build/functions", def, out)
	}
	os.RemoveAll(out)
	t.Cleanup(func() { os.RemoveAll(out) })
	run(t, env, nil, fields[0], fields[1])
	for dir := range registered {
		if _, err := os.Stat(filepath.Join(out, dir+".zip")); err != nil {
			t.Errorf("after the guide's staging command, %s.zip is not where Terraform reads it: %v", dir, err)
		}
	}
}
