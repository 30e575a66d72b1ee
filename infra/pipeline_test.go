package infra_test

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// cloudBuild is the part of cloudbuild.yaml the pipeline check reads
// (https://cloud.google.com/build/docs/build-config-file-schema).
type cloudBuild struct {
	Substitutions map[string]string `yaml:"substitutions"`
	Steps         []struct {
		ID         string   `yaml:"id"`
		Name       string   `yaml:"name"`
		Entrypoint string   `yaml:"entrypoint"`
		Args       []string `yaml:"args"`
		Env        []string `yaml:"env"`
	} `yaml:"steps"`
}

// imageTools is what each build image provides on PATH, by image name
// without its tag: the Go image is Debian with Go and git
// (docker-library/golang, on buildpack-deps:*-scm); Google's Cloud SDK slim
// image is Debian with gcloud and its Python (but no emulators, Go or
// Terraform). Anything else a step runs must be installed by it first.
var imageTools = map[string][]string{
	"golang": {"bash", "go", "git", "curl", "apt-get"},
	"gcr.io/google.com/cloudsdktool/google-cloud-cli": {"bash", "gcloud", "python3", "apt-get"},
}

// needs is what the commands a step may run need on PATH.
var needs = map[string][]string{
	"scripts/test.sh":      {"go", "gcloud", "apt-get"}, // installs Java and Chromium itself; the emulators come with gcloud from pipeline-tools
	"scripts/stage-all.sh": {"go", "python3"},
	"terraform":            {"terraform", "gcloud"}, // the apply runs gcloud (infra/modules/functions, invoker_check_disabled)
	"gcloud":               {"gcloud"},
}

// Cloud Build's own substitutions (https://cloud.google.com/build/docs/configuring-builds/substitute-variable-values).
var builtIn = []string{"PROJECT_ID", "PROJECT_NUMBER", "BUILD_ID", "LOCATION", "TRIGGER_NAME", "COMMIT_SHA",
	"REVISION_ID", "SHORT_SHA", "REPO_NAME", "REPO_FULL_NAME", "BRANCH_NAME", "TAG_NAME", "REF_NAME", "SERVICE_ACCOUNT_EMAIL", "SERVICE_ACCOUNT"}

func TestPipelineStepsCanRun(t *testing.T) {
	raw, err := os.ReadFile("../cloudbuild.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cb cloudBuild
	if err := yaml.Unmarshal(raw, &cb); err != nil {
		t.Fatal(err)
	}
	tools, err := os.ReadFile("../scripts/pipeline-tools.sh")
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)[1]

	// Cloud Build refuses a build that names an undefined substitution;
	// a shell variable must be written $$NAME.
	subst := regexp.MustCompile(`\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z_][A-Za-z0-9_]*))`)
	expand := func(s string) string {
		return subst.ReplaceAllStringFunc(s, func(m string) string {
			sm := subst.FindStringSubmatch(m)
			if sm[1] == "$" {
				return "$"
			}
			name := sm[2] + sm[3]
			if v, ok := cb.Substitutions[name]; ok {
				return v
			}
			if !slices.Contains(builtIn, name) {
				t.Errorf("cloudbuild.yaml names %s, which is neither a substitution it defines nor one of Cloud Build's", m)
			}
			return "BUILTIN"
		})
	}

	var ids []string
	for _, st := range cb.Steps {
		ids = append(ids, st.ID)
		image := expand(st.Name)
		repo, tag, _ := strings.Cut(image, ":")
		have, known := imageTools[repo]
		if !known {
			t.Errorf("step %s: image %s is not one this check knows the contents of", st.ID, image)
			continue
		}
		if repo == "golang" && !strings.HasPrefix(tag, string(goVersion)) {
			t.Errorf("step %s: image %s, but go.mod needs Go %s", st.ID, image, goVersion)
		}
		if !slices.Contains(have, st.Entrypoint) {
			t.Errorf("step %s: entrypoint %s is not in %s", st.ID, st.Entrypoint, image)
		}
		if len(st.Args) != 2 || st.Args[0] != "-c" {
			t.Errorf("step %s: args %q, want [-c SCRIPT]", st.ID, st.Args)
			continue
		}
		script := expand(st.Args[1])
		for _, e := range st.Env {
			expand(e)
		}
		// Walk the script's commands in order: what pipeline-tools.sh
		// installs is there for the commands after it.
		onPath := slices.Clone(have)
		cmd := regexp.MustCompile(`(?m)(?:^|&&|\n)\s*(scripts/[a-z-]+\.sh|terraform|gcloud)\b([^\n&]*)`)
		for _, m := range cmd.FindAllStringSubmatch(script, -1) {
			name, rest := m[1], strings.Fields(m[2])
			if strings.HasPrefix(name, "scripts/") {
				info, err := os.Stat("../" + name)
				if err != nil || info.Mode()&0o111 == 0 {
					t.Errorf("step %s runs %s, which is not an executable file of the repository", st.ID, name)
				}
			}
			if name == "scripts/pipeline-tools.sh" {
				for _, tool := range rest {
					if !strings.Contains(string(tools), "\n    "+tool+")") {
						t.Errorf("step %s: pipeline-tools.sh does not know %s", st.ID, tool)
					}
					onPath = append(onPath, tool)
					if tool == "cloud-sdk" {
						onPath = append(onPath, "gcloud")
					}
				}
				continue
			}
			for _, need := range needs[name] {
				if !slices.Contains(onPath, need) {
					t.Errorf("step %s runs %s, which needs %s: neither %s nor an earlier pipeline-tools.sh provides it", st.ID, name, need, image)
				}
			}
			if name == "terraform" && len(rest) > 0 && rest[0] == "init" && !slices.Contains(rest, "-lockfile=readonly") {
				t.Errorf("step %s: terraform init without -lockfile=readonly takes whatever provider version the registry has", st.ID)
			}
		}
		if st.ID == "test" && !slices.Contains(st.Env, "CRMSYNC_SKIP_TERRAFORM=1") {
			t.Errorf("the test step would build the provider from source; the plan step checks Terraform with the registry's")
		}
	}
	if want := []string{"test", "stage", "tfvars", "plan", "apply"}; !slices.Equal(ids, want) {
		t.Errorf("steps %v, want %v", ids, want)
	}

	// The Terraform the pipeline installs satisfies the root module.
	v := strings.Split(cb.Substitutions["_TERRAFORM_VERSION"], ".")
	minor, _ := strconv.Atoi(v[min(1, len(v)-1)])
	versions, err := os.ReadFile("envs/example/versions.tf")
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 3 || v[0] != "1" || minor < 11 || !strings.Contains(string(versions), `required_version = ">= 1.11, < 2.0"`) {
		t.Errorf("_TERRAFORM_VERSION %q against the root module's required_version", cb.Substitutions["_TERRAFORM_VERSION"])
	}
}
