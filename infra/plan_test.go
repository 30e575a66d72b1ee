// Package infra_test checks the security properties of the example
// environment's Terraform plan. scripts/terraform-check.sh makes the plan
// offline (terraform plan -refresh=false), writes `terraform show -json`
// of it, and runs this test with CRMSYNC_TF_PLAN naming that file.
package infra_test

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/jobs"
	"github.com/crmsync/crmsync/shared/sidepanel"
	"github.com/crmsync/crmsync/shared/store"
)

type resource struct {
	Address string         `json:"address"`
	Type    string         `json:"type"`
	Name    string         `json:"name"`
	Index   any            `json:"index"`
	Values  map[string]any `json:"values"`
}

type module struct {
	Resources    []resource `json:"resources"`
	ChildModules []module   `json:"child_modules"`
}

type plan struct {
	PlannedValues struct {
		RootModule module `json:"root_module"`
	} `json:"planned_values"`
	Configuration json.RawMessage `json:"configuration"`
}

func (m module) all() []resource {
	out := slices.Clone(m.Resources)
	for _, c := range m.ChildModules {
		out = append(out, c.all()...)
	}
	return out
}

func load(t *testing.T) ([]resource, []byte) {
	path := os.Getenv("CRMSYNC_TF_PLAN")
	if path == "" {
		t.Skip("CRMSYNC_TF_PLAN is not set: scripts/terraform-check.sh makes the plan and runs this test")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p plan
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	return p.PlannedValues.RootModule.all(), raw
}

func ofType(rs []resource, typ string) []resource {
	var out []resource
	for _, r := range rs {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

func first(v any) map[string]any {
	if l, ok := v.([]any); ok && len(l) > 0 {
		m, _ := l[0].(map[string]any)
		return m
	}
	return nil
}

// cronPeriod is the period of the two cron forms the schedules use:
// "*/N * * * *" (every N minutes) and "M H * * *" (daily); 0 otherwise.
func cronPeriod(cron string) time.Duration {
	f := strings.Fields(cron)
	if len(f) != 5 || f[2] != "*" || f[3] != "*" || f[4] != "*" {
		return 0
	}
	if n, ok := strings.CutPrefix(f[0], "*/"); ok && f[1] == "*" {
		m, err := strconv.Atoi(n)
		if err != nil {
			return 0
		}
		return time.Duration(m) * time.Minute
	}
	if _, err := strconv.Atoi(f[0]); err == nil {
		if _, err := strconv.Atoi(f[1]); err == nil {
			return 24 * time.Hour
		}
	}
	return 0
}

func TestCronPeriod(t *testing.T) {
	for cron, want := range map[string]time.Duration{"*/10 * * * *": 10 * time.Minute, "*/5 * * * *": 5 * time.Minute,
		"17 3 * * *": 24 * time.Hour, "0 * * * *": 0, "*/5 * * * 1": 0, "x": 0} {
		if got := cronPeriod(cron); got != want {
			t.Errorf("cronPeriod(%q) = %v, want %v", cron, got, want)
		}
	}
}

// configuration is the plan's configuration section.
func configuration(t *testing.T, raw []byte) json.RawMessage {
	t.Helper()
	var p plan
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	return p.Configuration
}

func TestPlanSecurity(t *testing.T) {
	rs, raw := load(t)
	if len(rs) < 40 {
		t.Fatalf("the plan has %d resources; the example environment should have the whole system", len(rs))
	}

	t.Run("Gmail may publish to the notification topic", func(t *testing.T) {
		found := false
		for _, r := range ofType(rs, "google_pubsub_topic_iam_member") {
			if r.Values["member"] == "serviceAccount:gmail-api-push@system.gserviceaccount.com" && r.Values["role"] == "roles/pubsub.publisher" &&
				strings.Contains(r.Address, "gmail_publisher") {
				found = true
			}
		}
		if !found {
			t.Error("no roles/pubsub.publisher for gmail-api-push@system.gserviceaccount.com on the Gmail topic")
		}
	})

	// What each guarded function accepts: its OIDC_AUDIENCES and OIDC_INVOKERS.
	accepts := map[string][2]string{}
	for _, r := range ofType(rs, "google_cloudfunctions2_function") {
		env, _ := first(r.Values["service_config"])["environment_variables"].(map[string]any)
		if a, ok := env["OIDC_AUDIENCES"].(string); ok {
			accepts[a] = [2]string{a, env["OIDC_INVOKERS"].(string)}
		}
	}
	if len(accepts) != 4 {
		t.Errorf("%d functions check callers' tokens, want GmailPush, Jobs, Dispatch and SidePanel: %v", len(accepts), accepts)
	}
	accepted := func(t *testing.T, what, audience, caller string) {
		a, ok := accepts[audience]
		if !ok || !strings.Contains(a[1], caller) {
			t.Errorf("%s sends tokens for %s as %s, which no function accepts (%v)", what, audience, caller, accepts)
		}
	}

	// Gmail's add-on events come signed by the project's add-on identity
	// for the SidePanel function's URL.
	accepted(t, "Gmail's side panel", "https://us-east1-acme-crm-sync.cloudfunctions.net/crmsync-sidepanel", "service-123456789012@gcp-sa-gsuiteaddons.iam.gserviceaccount.com")

	t.Run("every push subscription sends an OIDC token", func(t *testing.T) {
		pushes := 0
		for _, r := range ofType(rs, "google_pubsub_subscription") {
			pc := first(r.Values["push_config"])
			if pc == nil {
				continue // a pull subscription (dead letters)
			}
			pushes++
			oidc := first(pc["oidc_token"])
			if oidc == nil || oidc["service_account_email"] == "" || oidc["service_account_email"] == nil {
				t.Errorf("%s pushes without an OIDC token", r.Address)
				continue
			}
			if oidc["audience"] != pc["push_endpoint"] {
				t.Errorf("%s: audience %v for endpoint %v", r.Address, oidc["audience"], pc["push_endpoint"])
			}
			accepted(t, r.Address, oidc["audience"].(string), oidc["service_account_email"].(string))
			if first(r.Values["dead_letter_policy"]) == nil {
				t.Errorf("%s has no dead-letter policy", r.Address)
			}
		}
		if pushes != 2 {
			t.Errorf("%d push subscriptions, want gmail-push and jobs-push", pushes)
		}
	})

	t.Run("every scheduler job sends an OIDC token", func(t *testing.T) {
		scheduled := ofType(rs, "google_cloud_scheduler_job")
		if len(scheduled) != len(jobs.Kinds()) {
			t.Errorf("%d scheduler jobs, want %d (one per job kind)", len(scheduled), len(jobs.Kinds()))
		}
		for _, r := range scheduled {
			ht := first(r.Values["http_target"])
			if ht == nil || first(ht["oidc_token"]) == nil || first(ht["oidc_token"])["service_account_email"] == nil {
				t.Errorf("%s calls without an OIDC token", r.Address)
				continue
			}
			oidc := first(ht["oidc_token"])
			accepted(t, r.Address, oidc["audience"].(string), oidc["service_account_email"].(string))
		}
	})

	t.Run("every scheduler job runs at the period the product documents", func(t *testing.T) {
		scheduled := map[string]bool{}
		defer func() {
			for _, k := range jobs.Kinds() {
				if !scheduled[k] {
					t.Errorf("job kind %s has no scheduler job", k)
				}
			}
		}()
		for _, r := range ofType(rs, "google_cloud_scheduler_job") {
			body, err := base64.StdEncoding.DecodeString(first(r.Values["http_target"])["body"].(string))
			var job struct{ Kind string }
			if err != nil || json.Unmarshal(body, &job) != nil {
				t.Errorf("%s: body %q is not a job", r.Address, body)
				continue
			}
			scheduled[job.Kind] = true
			got, want := cronPeriod(r.Values["schedule"].(string)), jobs.Period(job.Kind)
			if want == 0 || got != want {
				t.Errorf("%s (%s) runs every %v (%q), want %v as jobs.Period says", r.Address, job.Kind, got, r.Values["schedule"], want)
			}
		}
	})

	t.Run("grants come after the topics and APIs they need", func(t *testing.T) {
		var cfg struct {
			RootModule struct {
				ModuleCalls map[string]struct {
					DependsOn []string `json:"depends_on"`
					Module    struct {
						Resources []struct {
							Address     string                     `json:"address"`
							Expressions map[string]json.RawMessage `json:"expressions"`
						} `json:"resources"`
					} `json:"module"`
				} `json:"module_calls"`
			} `json:"root_module"`
		}
		if err := json.Unmarshal(configuration(t, raw), &cfg); err != nil {
			t.Fatal(err)
		}
		calls := cfg.RootModule.ModuleCalls
		for _, m := range []string{"iam", "functions", "pubsub", "scheduler"} {
			if !slices.Contains(calls[m].DependsOn, "module.platform") {
				t.Errorf("module %s does not wait for module.platform (the APIs): depends_on %v", m, calls[m].DependsOn)
			}
		}
		if !slices.Contains(calls["functions"].DependsOn, "module.pubsub") {
			t.Errorf("the functions do not wait for the topics and their publisher grants: depends_on %v", calls["functions"].DependsOn)
		}
		if slices.Contains(calls["pubsub"].DependsOn, "module.functions") {
			t.Error("module pubsub waits for the functions, which wait for it: a cycle")
		}
		found := false
		for _, r := range calls["pubsub"].Module.Resources {
			if r.Address == "google_pubsub_topic_iam_member.jobs_publisher" {
				found = true
				if !strings.Contains(string(r.Expressions["topic"]), "google_pubsub_topic.topic") {
					t.Errorf("the jobs publisher grant names its topic by a string, not the topic resource (it would be made before the topic exists): %s", r.Expressions["topic"])
				}
			}
		}
		if !found {
			t.Error("no jobs publisher grant in module pubsub")
		}
		publishers := 0
		for _, r := range ofType(rs, "google_pubsub_topic_iam_member") {
			if strings.Contains(r.Address, "jobs_publisher") {
				publishers++
			}
		}
		if publishers != 3 {
			t.Errorf("%d jobs publisher grants, want 3 (web, dispatch, calendarpush)", publishers)
		}
		apis := map[string]bool{}
		for _, r := range ofType(rs, "google_project_service") {
			apis[r.Values["service"].(string)] = true
		}
		for _, a := range []string{"cloudresourcemanager.googleapis.com", "iam.googleapis.com", "pubsub.googleapis.com", "firestore.googleapis.com"} {
			if !apis[a] {
				t.Errorf("API %s is not enabled by the plan", a)
			}
		}
	})

	t.Run("no identity holds a basic role", func(t *testing.T) {
		for _, r := range ofType(rs, "google_project_iam_member") {
			if role, _ := r.Values["role"].(string); slices.Contains([]string{"roles/owner", "roles/editor", "roles/viewer"}, role) {
				t.Errorf("%s grants %s to %v", r.Address, role, r.Values["member"])
			}
		}
	})

	t.Run("functions run as their own identities", func(t *testing.T) {
		fns := ofType(rs, "google_cloudfunctions2_function")
		if len(fns) < 6 {
			t.Fatalf("%d functions", len(fns))
		}
		seen := map[string]bool{}
		for _, r := range fns {
			sc := first(r.Values["service_config"])
			sa, _ := sc["service_account_email"].(string)
			if sa == "" || strings.Contains(sa, "-compute@developer.gserviceaccount.com") || seen[sa] {
				t.Errorf("%s runs as %q (want its own service account)", r.Address, sa)
			}
			seen[sa] = true
			env, _ := sc["environment_variables"].(map[string]any)
			if env["CRMSYNC_ENV"] != "production" {
				t.Errorf("%s: CRMSYNC_ENV=%v", r.Address, env["CRMSYNC_ENV"])
			}
			for k := range env {
				if strings.Contains(k, "SECRET") || strings.Contains(k, "KEY") {
					t.Errorf("%s passes %s in its environment; secrets come from Secret Manager", r.Address, k)
				}
			}
		}
	})

	// The project's Gmail limit is shared by the instances that can call
	// Gmail at once; the count they are told must be theirs.
	t.Run("the Gmail limits reach the functions that call Gmail", func(t *testing.T) {
		total, told := 0, map[string]bool{}
		for _, r := range ofType(rs, "google_cloudfunctions2_function") {
			name := fmt.Sprint(r.Values["name"])
			sc := first(r.Values["service_config"])
			env, _ := sc["environment_variables"].(map[string]any)
			if !slices.Contains([]string{"crmsync-web", "crmsync-gmailpush", "crmsync-jobs", "crmsync-sidepanel"}, name) {
				continue
			}
			n, _ := sc["max_instance_count"].(float64)
			total += int(n)
			if env["GMAIL_USER_UNITS_PER_MINUTE"] != "6000" || env["GMAIL_PROJECT_UNITS_PER_MINUTE"] != "1200000" {
				t.Errorf("%s is not told Gmail's 2026 limits: %v, %v", name, env["GMAIL_USER_UNITS_PER_MINUTE"], env["GMAIL_PROJECT_UNITS_PER_MINUTE"])
			}
			told[fmt.Sprint(env["GMAIL_INSTANCES"])] = true
		}
		if want := map[string]bool{strconv.Itoa(total): true}; !maps.Equal(told, want) || total == 0 {
			t.Errorf("the functions are told GMAIL_INSTANCES %v; Web, GmailPush, Jobs and SidePanel can run %d instances", told, total)
		}
	})

	t.Run("each function reads only the secrets it needs", func(t *testing.T) {
		reads := map[string][]string{}
		for _, r := range ofType(rs, "google_secret_manager_secret_iam_member") {
			who := strings.TrimSuffix(strings.TrimPrefix(r.Values["member"].(string), "serviceAccount:crmsync-"), "@crmsync-example.iam.gserviceaccount.com")
			who, _, _ = strings.Cut(who, "@")
			// secret_id is known only after apply; the binding's key
			// ("crmsync-web/signing-key") names the secret.
			key := strings.TrimSuffix(r.Address, `"]`)
			reads[who] = append(reads[who], key[strings.LastIndex(key, "/")+1:])
		}
		for _, none := range []string{"calendarpush", "dispatch", "health"} {
			if len(reads[none]) > 0 {
				t.Errorf("%s reads secrets it has no use for: %v", none, reads[none])
			}
		}
		for _, f := range []string{"web", "gmailpush", "jobs"} {
			if len(reads[f]) == 0 {
				t.Errorf("%s reads no secret; it needs them", f)
			}
		}
		// The signing keyring is the Web function's alone, and the CRM's
		// admin key is the admin page's and the CRM's: an engine that
		// parses hostile mail holds neither.
		for secret, who := range map[string][]string{"signing-key": {"web"}, "crm-admin-key": {"crmapi", "web"}} {
			var got []string
			for f, rs := range reads {
				if slices.Contains(rs, secret) {
					got = append(got, f)
				}
			}
			for _, f := range got {
				if !slices.Contains(who, f) {
					t.Errorf("%s is read by %s; only %v may", secret, f, who)
				}
			}
			if !slices.Contains(got, "web") {
				t.Errorf("%s is not read by web, which needs it", secret)
			}
		}
	})

	// The functions that take unauthenticated callers: Cloud Run's invoker
	// check is turned off for them after each deployment (there is no
	// allUsers binding anywhere).
	public := map[string]bool{}
	for _, r := range ofType(rs, "terraform_data") {
		if strings.Contains(r.Address, "invoker_check_disabled") {
			public[fmt.Sprint(r.Index)] = true
		}
	}

	t.Run("endpoints behind Cloud Run's invoker check take its signature-removed tokens, public ones do not", func(t *testing.T) {
		for _, r := range ofType(rs, "google_cloudfunctions2_function") {
			name := r.Values["name"].(string)
			env := first(r.Values["service_config"])["environment_variables"].(map[string]any)
			checked := env["OIDC_CHECKED_BY_PLATFORM"] == "true"
			if want := slices.Contains([]string{"crmsync-gmailpush", "crmsync-jobs", "crmsync-dispatch", "crmsync-sidepanel"}, name); checked != want {
				t.Errorf("%s: OIDC_CHECKED_BY_PLATFORM %v, want %v", name, checked, want)
			}
			if checked && public[name] {
				t.Errorf("%s takes tokens on Cloud Run's word but is public: anyone could send the marker", name)
			}
		}
		if !public["crmsync-web"] {
			t.Errorf("the public functions are not keyed by function (public: %v); this check would prove nothing", public)
		}
	})

	t.Run("domain-wide delegation is keyless", func(t *testing.T) {
		for _, r := range ofType(rs, "google_secret_manager_secret") {
			if r.Values["secret_id"] == "google-delegation-key" {
				t.Error("a google-delegation-key secret: delegation needs no key")
			}
		}
		signers := map[string]bool{}
		for _, r := range ofType(rs, "google_service_account_iam_member") {
			// The account's resource name is known only after apply; the
			// grants on it are the iam module's delegation_signer.
			if r.Values["role"] == "roles/iam.serviceAccountTokenCreator" && strings.Contains(r.Address, "delegation_signer") {
				who, _, _ := strings.Cut(strings.TrimPrefix(r.Values["member"].(string), "serviceAccount:crmsync-"), "@")
				signers[who] = true
			}
		}
		for _, f := range []string{"web", "gmailpush", "jobs", "sidepanel"} {
			if !signers[f] {
				t.Errorf("%s may not sign as the delegation account (roles/iam.serviceAccountTokenCreator)", f)
			}
		}
		if len(signers) != 4 {
			t.Errorf("signers %v, want exactly web, gmailpush, jobs and sidepanel", signers)
		}
		if !strings.Contains(string(configuration(t, raw)), `"google_service_account.delegation.name"`) {
			t.Error("the token creator grants do not name the delegation account's resource")
		}
		for _, r := range ofType(rs, "google_cloudfunctions2_function") {
			name := r.Values["name"].(string)
			env := first(r.Values["service_config"])["environment_variables"].(map[string]any)
			_, has := env["DELEGATION_SERVICE_ACCOUNT"]
			if want := slices.Contains([]string{"crmsync-web", "crmsync-gmailpush", "crmsync-jobs", "crmsync-sidepanel"}, name); has != want {
				t.Errorf("%s: DELEGATION_SERVICE_ACCOUNT set %v, want %v", name, has, want)
			}
		}
	})

	t.Run("no secret value in the plan", func(t *testing.T) {
		for _, typ := range []string{"google_secret_manager_secret_version", "google_service_account_key"} {
			if n := len(ofType(rs, typ)); n > 0 {
				t.Errorf("the plan creates %d %s: their values would be in the state", n, typ)
			}
		}
		if secrets := ofType(rs, "google_secret_manager_secret"); len(secrets) != 5 {
			t.Errorf("%d secrets, want 5 (created empty; no delegation key: delegation is keyless)", len(secrets))
		}
		for _, s := range []string{"BEGIN PRIVATE KEY", "private_key", "client_secret"} {
			if strings.Contains(string(raw), s) {
				t.Errorf("the plan contains %q", s)
			}
		}
	})

	t.Run("invokers: no allUsers; the browser and Google's webhook pass Cloud Run unchecked, pushes and ticks authenticated", func(t *testing.T) {
		// Domain-restricted sharing (secure-by-default organizations)
		// refuses allUsers and allAuthenticatedUsers in any IAM policy.
		for _, m := range []string{`"allUsers"`, `"allAuthenticatedUsers"`} {
			if strings.Contains(string(raw), m) {
				t.Errorf("the plan names %s: a secure-by-default organization refuses the apply", m)
			}
		}
		want := map[string]bool{"crmsync-web": true, "crmsync-calendarpush": true}
		if !maps.Equal(public, want) {
			t.Errorf("functions with the invoker check off: %v, want %v", public, want)
		}
		byService := map[string][]string{}
		for _, r := range ofType(rs, "google_cloud_run_service_iam_member") {
			name, _, _ := strings.Cut(fmt.Sprint(r.Index), "/")
			byService[name] = append(byService[name], r.Values["member"].(string))
		}
		for svc, member := range map[string]string{"crmsync-gmailpush": "crmsync-pubsub-push@",
			"crmsync-jobs": "crmsync-pubsub-push@", "crmsync-dispatch": "crmsync-scheduler@", "crmsync-sidepanel": "@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"} {
			if len(byService[svc]) != 1 || !strings.Contains(byService[svc][0], member) {
				t.Errorf("%s invokers %v, want only %s", svc, byService[svc], member)
			}
		}
		for _, svc := range []string{"crmsync-health", "crmsync-web", "crmsync-calendarpush"} {
			if len(byService[svc]) != 0 {
				t.Errorf("%s has invoker bindings %v", svc, byService[svc])
			}
		}

		// The change itself: gcloud's --no-invoker-iam-check on the
		// function's service (named after the function), run by the
		// resource's local-exec, and made again whenever the function
		// changes (its triggers are known only after the deployment).
		for _, r := range ofType(rs, "terraform_data") {
			if !strings.Contains(r.Address, "invoker_check_disabled") {
				continue
			}
			want := fmt.Sprintf("gcloud run services update %s --project=acme-crm-sync --region=us-east1 --no-invoker-iam-check --quiet", r.Index)
			if r.Values["input"] != want {
				t.Errorf("%s runs %q, want %q", r.Address, r.Values["input"], want)
			}
		}
		var changes struct {
			ResourceChanges []struct {
				Address string `json:"address"`
				Change  struct {
					AfterUnknown map[string]any `json:"after_unknown"`
				} `json:"change"`
			} `json:"resource_changes"`
		}
		if err := json.Unmarshal(raw, &changes); err != nil {
			t.Fatal(err)
		}
		for _, c := range changes.ResourceChanges {
			trig, _ := c.Change.AfterUnknown["triggers_replace"].(map[string]any)
			if strings.Contains(c.Address, "invoker_check_disabled") && trig["update_time"] != true {
				t.Errorf("%s: it is not triggered by the function's update_time, so a redeployment would not run it again", c.Address)
			}
		}
		cfg := string(configuration(t, raw))
		if !strings.Contains(cfg, `"provisioners":[{"type":"local-exec","expressions":{"command":{"references":["self.input","self"]}}}]`) {
			t.Error("the invoker-check resource does not run its input with local-exec")
		}
	})

	t.Run("ingress: what only Pub/Sub and Cloud Scheduler call is internal", func(t *testing.T) {
		for _, r := range ofType(rs, "google_cloudfunctions2_function") {
			name := r.Values["name"].(string)
			got := first(r.Values["service_config"])["ingress_settings"]
			want := "ALLOW_ALL"
			if name == "crmsync-gmailpush" || name == "crmsync-jobs" || name == "crmsync-dispatch" {
				want = "ALLOW_INTERNAL_ONLY"
			}
			if got != want {
				t.Errorf("%s ingress %v, want %s", name, got, want)
			}
		}
	})

	t.Run("functions are built by their own build account into the product's repository", func(t *testing.T) {
		fns := ofType(rs, "google_cloudfunctions2_function")
		cfg := string(configuration(t, raw))
		for _, ref := range []string{`"module.iam.build_service_account"`, `"var.build_service_account"`, `"module.platform.docker_repository"`, `"var.docker_repository"`} {
			if !strings.Contains(cfg, ref) {
				t.Errorf("the configuration does not pass %s on to the functions' build", ref)
			}
		}
		for _, r := range fns {
			if first(r.Values["build_config"])["runtime"] != "go126" {
				t.Errorf("%s runtime %v", r.Values["name"], first(r.Values["build_config"])["runtime"])
			}
		}
		var build []string
		for _, r := range rs {
			if m, _ := r.Values["member"].(string); strings.HasSuffix(r.Type, "_iam_member") && strings.HasPrefix(m, "serviceAccount:crmsync-build@") {
				build = append(build, r.Type+" "+fmt.Sprint(r.Values["role"]))
			}
		}
		slices.Sort(build)
		want := []string{"google_artifact_registry_repository_iam_member roles/artifactregistry.writer",
			"google_project_iam_member roles/logging.logWriter", "google_storage_bucket_iam_member roles/storage.objectAdmin"}
		if !slices.Equal(build, want) {
			t.Errorf("the build account holds %v, want %v (each on its one resource)", build, want)
		}
		if repos := ofType(rs, "google_artifact_registry_repository"); len(repos) != 1 || repos[0].Values["format"] != "DOCKER" {
			t.Errorf("image repositories: %+v", repos)
		}
	})

	t.Run("versions are pinned and locked", func(t *testing.T) {
		versions, err := os.ReadFile("envs/example/versions.tf")
		if err != nil {
			t.Fatal(err)
		}
		lock, err := os.ReadFile("envs/example/.terraform.lock.hcl")
		if err != nil {
			t.Fatalf("no committed lock file: %v", err)
		}
		pin := regexp.MustCompile(`(?m)^\s*version\s*=\s*"(\d+\.\d+\.\d+)"`).FindSubmatch(versions)
		if pin == nil {
			t.Fatalf("the example environment does not pin the provider to one version:\n%s", versions)
		}
		if !strings.Contains(string(lock), `provider "registry.terraform.io/hashicorp/google"`) ||
			!strings.Contains(string(lock), `version     = "`+string(pin[1])+`"`) {
			t.Errorf("the lock file does not record google %s:\n%s", pin[1], lock)
		}
	})

	t.Run("sources are named by their content", func(t *testing.T) {
		dir := os.Getenv("CRMSYNC_TF_SOURCES")
		for _, r := range ofType(rs, "google_storage_bucket_object") {
			name, _ := r.Values["name"].(string)
			folder := strings.TrimPrefix(name[:strings.Index(name, "/")], "crmsync-")
			b, err := os.ReadFile(filepath.Join(dir, folder+".zip"))
			if err != nil {
				t.Fatal(err)
			}
			sum := md5.Sum(b)
			if !strings.HasSuffix(name, "/"+hex.EncodeToString(sum[:])+".zip") {
				t.Errorf("object %s is not named by the MD5 of %s.zip", name, folder)
			}
		}
	})

	t.Run("platform: APIs, Firestore deletion policy, TTL", func(t *testing.T) {
		for _, r := range ofType(rs, "google_project_service") {
			if _, ok := r.Values["disable_on_destroy"].(bool); !ok {
				t.Errorf("%s does not state disable_on_destroy", r.Address)
			}
		}
		dbs := ofType(rs, "google_firestore_database")
		if len(dbs) != 1 || dbs[0].Values["deletion_policy"] != "ABANDON" || dbs[0].Values["type"] != "FIRESTORE_NATIVE" {
			t.Errorf("Firestore database: %+v", dbs)
		}
		ttl := map[string]bool{}
		for _, r := range ofType(rs, "google_firestore_field") {
			if l, ok := r.Values["ttl_config"].([]any); ok && len(l) == 1 {
				ttl[r.Values["collection"].(string)] = true
			}
		}
		for _, c := range store.ExpiringCollections() {
			if !ttl[c] {
				t.Errorf("no TTL policy on %s", c)
			}
		}
	})
}

// The side panel's deployment resource that Terraform outputs is the one
// package sidepanel makes for the SidePanel function's URL: the add-on's
// triggers reach the deployed function, with the add-on's scopes.
func TestSidePanelDeploymentOutput(t *testing.T) {
	_, raw := load(t)
	var p struct {
		PlannedValues struct {
			Outputs map[string]struct {
				Value any `json:"value"`
			} `json:"outputs"`
		} `json:"planned_values"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	out, ok := p.PlannedValues.Outputs["sidepanel_deployment"].Value.(string)
	if !ok {
		t.Fatalf("no sidepanel_deployment output: %v", p.PlannedValues.Outputs["sidepanel_deployment"])
	}
	var got, want map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	logo := got["addOns"].(map[string]any)["common"].(map[string]any)["logoUrl"].(string)
	b, err := sidepanel.Deployment("SmartOffice", logo, "https://us-east1-acme-crm-sync.cloudfunctions.net/crmsync-sidepanel")
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(b, &want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Terraform's deployment resource:\n%s\nwant:\n%s", out, b)
	}
}
