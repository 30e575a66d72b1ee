package infra_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// gcloudWorld is what a fake gcloud answers: glob patterns over its
// arguments, in order, each with the output and exit status of a real
// gcloud for such a project. The shapes are gcloud's --format=json output
// (projects describe/get-ancestors, org-policies describe --effective,
// get-iam-policy) and value() lists.
type gcloudWorld []struct {
	pattern, out string
	status       int
}

func (w gcloudWorld) with(pattern, out string, status int) gcloudWorld {
	return append(gcloudWorld{{pattern, out, status}}, w...)
}

// script is the fake gcloud: it logs each call and answers from the world.
func (w gcloudWorld) script(log string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#!/usr/bin/env bash\necho \"$*\" >> %q\ncase \"$*\" in\n", log)
	for _, r := range w {
		// The literal parts quoted, the * left a glob.
		parts := strings.Split(r.pattern, "*")
		for i, p := range parts {
			parts[i] = "'" + p + "'"
		}
		fmt.Fprintf(&b, "  %s)\n    cat <<'OUT'\n%s\nOUT\n    exit %d ;;\n", strings.Join(parts, "*"), r.out, r.status)
	}
	b.WriteString("  *) echo \"ERROR: (gcloud) unexpected call: $*\" >&2; exit 1 ;;\nesac\n")
	return b.String()
}

const (
	project = "acme-crm-sync"
	number  = "123456789012"
)

// healthy is a project inside an organization with nothing in the way.
func healthy() gcloudWorld {
	unset := `{"name":"projects/123456789012/policies/x","spec":{}}`
	return gcloudWorld{
		{"config get-value account", "it-admin@acme.example", 0},
		{"auth application-default print-access-token", "ya29.fake", 0},
		{"projects describe " + project + " --format=json", `{"projectId":"acme-crm-sync","projectNumber":"123456789012","lifecycleState":"ACTIVE","parent":{"type":"folder","id":"55"}}`, 0},
		{"projects get-ancestors " + project + " --format=json", `[{"id":"acme-crm-sync","type":"project"},{"id":"55","type":"folder"},{"id":"777","type":"organization"}]`, 0},
		{"billing projects describe " + project + " --format=json", `{"billingEnabled":true,"billingAccountName":"billingAccounts/0X0X0X"}`, 0},
		{"projects get-iam-policy " + project + " --format=json", `{"bindings":[{"role":"roles/owner","members":["user:IT-Admin@acme.example"]}]}`, 0},
		{"services list --enabled --project=" + project + " *", "serviceusage.googleapis.com\ncloudresourcemanager.googleapis.com\nstorage.googleapis.com", 0},
		{"org-policies describe iam.disableServiceAccountKeyCreation *", `{"spec":{"rules":[{"enforce":true}]}}`, 0},
		{"org-policies describe *", unset, 0},
	}
}

func runPreflight(t *testing.T, w gcloudWorld, tfvars string) (string, []string, int) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is missing")
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "calls.log")
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "gcloud"), []byte(w.script(log)), 0o755); err != nil {
		t.Fatal(err)
	}
	vars := filepath.Join(dir, "terraform.tfvars")
	if err := os.WriteFile(vars, []byte(tfvars), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "../scripts/preflight.sh", vars)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	status := 0
	if ee, ok := err.(*exec.ExitError); ok {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	calls, _ := os.ReadFile(log)
	return string(out), strings.Split(strings.TrimSpace(string(calls)), "\n"), status
}

func exampleVars(t *testing.T) string {
	b, err := os.ReadFile("envs/example/example.tfvars")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The preflight reads and never changes: no gcloud verb that writes.
func assertReadOnly(t *testing.T, calls []string) {
	t.Helper()
	for _, c := range calls {
		for _, verb := range []string{" create", " update", " enable", " set-policy", " delete", " link", " move", "add-iam-policy-binding", "reset-policy"} {
			if strings.Contains(" "+c, verb+" ") || strings.HasSuffix(" "+c, verb) {
				t.Errorf("preflight changed something: gcloud %s", c)
			}
		}
	}
}

func TestPreflightPassesAHealthyProject(t *testing.T) {
	out, calls, status := runPreflight(t, healthy(), exampleVars(t))
	if status != 0 || !strings.Contains(out, "preflight: nothing blocks the apply") {
		t.Fatalf("status %d:\n%s", status, out)
	}
	for _, want := range []string{"inside organization 777", "project_number 123456789012 matches", "roles/owner",
		"oauth_client_id belongs to this project", "service-account keys are disabled", "Terraform will enable: gmail"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "BLOCK") {
		t.Errorf("a healthy project is blocked:\n%s", out)
	}
	assertReadOnly(t, calls)
}

// A secure-by-default organization, and the mistakes an admin makes first.
func TestPreflightNamesWhatBlocksTheApply(t *testing.T) {
	w := healthy().
		with("org-policies describe iam.allowedPolicyMemberDomains *", `{"spec":{"rules":[{"values":{"allowedValues":["C03xyz"]}}]}}`, 0).
		with("org-policies describe run.managed.requireInvokerIam *", `{"spec":{"rules":[{"enforce":true}]}}`, 0).
		with("org-policies describe gcp.resourceLocations *", `{"spec":{"rules":[{"values":{"allowedValues":["in:eu-locations"]}}]}}`, 0).
		with("services list --enabled --project="+project+" *", "storage.googleapis.com", 0).
		with("billing projects describe *", `{"billingEnabled":false}`, 0).
		with("projects get-iam-policy *", `{"bindings":[{"role":"roles/viewer","members":["user:it-admin@acme.example"]}]}`, 0).
		with("auth application-default print-access-token", "ERROR: (gcloud.auth.application-default.print-access-token) Your default credentials were not found.", 1)
	vars := strings.Replace(exampleVars(t), `project_number  = "123456789012"`, `project_number  = "999"`, 1)
	vars = strings.Replace(vars, `"123456789012-abcdefghijklmnop.apps.googleusercontent.com"`, `"555-other.apps.googleusercontent.com"`, 1)

	out, calls, status := runPreflight(t, w, vars)
	if status != 1 || !strings.Contains(out, "preflight: blocked") {
		t.Fatalf("status %d, want 1 (blocked):\n%s", status, out)
	}
	for _, want := range []string{
		"BLOCK no Application Default Credentials", "gcloud auth application-default login",
		"BLOCK project_number in", `set project_number = "123456789012"`,
		"BLOCK billing is not enabled",
		"BLOCK serviceusage.googleapis.com is off", "gcloud services enable cloudresourcemanager.googleapis.com --project=acme-crm-sync",
		"BLOCK domain-restricted sharing (iam.allowedPolicyMemberDomains) will refuse Gmail's publisher grant", "The Gmail push exception",
		"BLOCK run.managed.requireInvokerIam is enforced",
		"WARN  resource locations are restricted to: in:eu-locations",
		"WARN  you hold neither roles/owner",
		"BLOCK oauth_client_id 555-other.apps.googleusercontent.com is not this project's",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
	assertReadOnly(t, calls)
	if !sortedContains(calls, "org-policies describe iam.allowedPolicyMemberDomains --project=acme-crm-sync --effective --format=json") {
		t.Errorf("the effective policy was not read on the project: %v", calls)
	}
}

func TestPreflightStopsOutsideAnOrganizationOrUnreadableProject(t *testing.T) {
	w := healthy().with("projects get-ancestors *", `[{"id":"acme-crm-sync","type":"project"}]`, 0)
	out, _, status := runPreflight(t, w, exampleVars(t))
	if status != 1 || !strings.Contains(out, "BLOCK the project is not inside an organization") {
		t.Errorf("status %d:\n%s", status, out)
	}

	w = healthy().with("projects describe *", "ERROR: (gcloud.projects.describe) [it-admin@acme.example] does not have permission to access projects instance [acme-crm-sync] (or it may not exist)", 1)
	out, calls, status := runPreflight(t, w, exampleVars(t))
	if status != 1 || !strings.Contains(out, "does not have permission to access projects instance") {
		t.Errorf("status %d:\n%s", status, out)
	}
	if sortedContains(calls, "services list --enabled --project=acme-crm-sync --format=value(config.name)") {
		t.Error("it went on past a project it cannot read")
	}

	out, _, status = runPreflight(t, healthy(), "region = \"us-east1\"\n")
	if status != 2 || !strings.Contains(out, "has no project_id") {
		t.Errorf("a tfvars without project_id: status %d:\n%s", status, out)
	}
}

func sortedContains(calls []string, c string) bool {
	s := append([]string(nil), calls...)
	sort.Strings(s)
	i := sort.SearchStrings(s, c)
	return i < len(s) && s[i] == c
}
