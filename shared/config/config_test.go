package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func env(kv ...string) Lookup {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(name string) (string, bool) { v, ok := m[name]; return v, ok }
}

func TestLoadDefaultsInProduction(t *testing.T) {
	got, err := Load(env("GOOGLE_CLOUD_PROJECT", "acme-crm-sync"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Config{
		ProjectID:         "acme-crm-sync",
		Env:               Production,
		Version:           "dev",
		FirestoreDatabase: "(default)",
		LogLevel:          slog.LevelInfo,
		SecretsSource:     "secretmanager",
		CRMInstance:       "default",
		// Gmail's limits for projects made since 1 May 2026.
		GmailUserUnitsPerMinute:    6000,
		GmailProjectUnitsPerMinute: 1200000,
		GmailInstances:             1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load() mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadSandbox(t *testing.T) {
	got, err := Load(env("GOOGLE_CLOUD_PROJECT", "demo-firm", "CRMSYNC_ENV", "sandbox",
		"FIRESTORE_EMULATOR_HOST", "127.0.0.1:8086", "PUBSUB_EMULATOR_HOST", "localhost:8085", "LOG_LEVEL", "DEBUG", "CRMSYNC_CLOCK_OFFSET", "8760h"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got.Env != Sandbox || got.SecretsSource != "local" || got.LogLevel != slog.LevelDebug || got.PubSubEmulatorHost != "localhost:8085" || got.CRMURL != "" ||
		got.ClockOffset != 365*24*time.Hour {
		t.Errorf("Load() = %+v", got)
	}
}

// Every bad value is reported, each naming its variable and what it wants.
func TestLoadReportsEveryProblemByName(t *testing.T) {
	tests := []struct {
		name string
		env  Lookup
		want []string
	}{
		{"missing project", env(), []string{"GOOGLE_CLOUD_PROJECT is not set (want the Google Cloud project ID"}},
		{"bad project", env("GOOGLE_CLOUD_PROJECT", "Acme Corp"), []string{`GOOGLE_CLOUD_PROJECT="Acme Corp" is not valid`}},
		{"bad env and level", env("GOOGLE_CLOUD_PROJECT", "acme-crm-sync", "CRMSYNC_ENV", "staging", "LOG_LEVEL", "loud"), []string{
			`CRMSYNC_ENV="staging" is not valid (want one of production, sandbox, test)`,
			`LOG_LEVEL="loud" is not valid (want one of debug, info, warn, error)`,
		}},
		{"bad emulator address", env("GOOGLE_CLOUD_PROJECT", "acme-crm-sync", "CRMSYNC_ENV", "test", "FIRESTORE_EMULATOR_HOST", "localhost"), []string{
			`FIRESTORE_EMULATOR_HOST="localhost" is not valid (want host:port`,
		}},
		{"emulator in production", env("GOOGLE_CLOUD_PROJECT", "acme-crm-sync", "PUBSUB_EMULATOR_HOST", "127.0.0.1:8085"), []string{
			"PUBSUB_EMULATOR_HOST is set in production",
		}},
		{"sandbox without firestore emulator", env("GOOGLE_CLOUD_PROJECT", "acme-crm-sync", "CRMSYNC_ENV", "sandbox"), []string{
			"FIRESTORE_EMULATOR_HOST is not set (want host:port of the Firestore emulator when CRMSYNC_ENV=sandbox)",
		}},
		{"local secrets in production", env("GOOGLE_CLOUD_PROJECT", "acme-crm-sync", "SECRETS_SOURCE", "local"), []string{
			"SECRETS_SOURCE=local in production",
		}},
		{"fake Google in production", env("GOOGLE_CLOUD_PROJECT", "acme-crm-sync", "GOOGLE_API_ENDPOINT", "http://127.0.0.1:8090", "GOOGLE_TOKEN_URL", "http://127.0.0.1:8090/token"), []string{
			"GOOGLE_API_ENDPOINT is set in production", "GOOGLE_TOKEN_URL is set in production",
		}},
		{"CRM URL not a URL", env("GOOGLE_CLOUD_PROJECT", "acme-crm-sync", "CRM_URL", "crm.example"), []string{
			`CRM_URL="crm.example" is not valid (want an absolute http or https URL)`,
		}},
		{"OIDC audiences without invokers", env("GOOGLE_CLOUD_PROJECT", "acme-crm-sync", "OIDC_AUDIENCES", "https://x.example/jobs"), []string{
			"OIDC_AUDIENCES and OIDC_INVOKERS are set together",
		}},
		{"a moved clock in production", env("GOOGLE_CLOUD_PROJECT", "acme-crm-sync", "CRMSYNC_CLOCK_OFFSET", "8760h"), []string{
			"CRMSYNC_CLOCK_OFFSET is set in production",
		}},
		{"a clock offset that is not a duration", env("GOOGLE_CLOUD_PROJECT", "acme-crm-sync", "CRMSYNC_ENV", "test", "FIRESTORE_EMULATOR_HOST", "127.0.0.1:8086", "CRMSYNC_CLOCK_OFFSET", "1 year"), []string{
			`CRMSYNC_CLOCK_OFFSET="1 year" is not valid (want a Go duration`,
		}},
		{"a delegation account that is not a service account", env("GOOGLE_CLOUD_PROJECT", "acme-crm-sync", "DELEGATION_SERVICE_ACCOUNT", "ann@acme.example"), []string{
			`DELEGATION_SERVICE_ACCOUNT="ann@acme.example" is not valid`,
		}},
		{"a sender that is not an address", env("GOOGLE_CLOUD_PROJECT", "acme-crm-sync", "SYSTEM_SENDER", "crm-sync"), []string{
			`SYSTEM_SENDER="crm-sync" is not valid`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.env)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if n := strings.Count(err.Error(), "config: "); n != len(tt.want) {
				t.Errorf("error reports %d problems, want %d: %v", n, len(tt.want), err)
			}
		})
	}
}

func TestLoadServiceURLs(t *testing.T) {
	got, err := Load(env("GOOGLE_CLOUD_PROJECT", "demo-firm", "CRMSYNC_ENV", "sandbox", "FIRESTORE_EMULATOR_HOST", "127.0.0.1:8086",
		"CRM_URL", "http://127.0.0.1:8070", "GOOGLE_API_ENDPOINT", "http://127.0.0.1:8090", "GOOGLE_TOKEN_URL", "http://127.0.0.1:8090/token"))
	if err != nil {
		t.Fatal(err)
	}
	if got.CRMURL != "http://127.0.0.1:8070/" || got.GoogleAPIEndpoint != "http://127.0.0.1:8090" || got.GoogleTokenURL != "http://127.0.0.1:8090/token" {
		t.Errorf("Load() = %+v", got)
	}
}

func TestReaderInt(t *testing.T) {
	r := NewReader(env("N", "70", "M", "x"))
	if got := r.Int("N", 5, 1, 100); got != 70 {
		t.Errorf("Int(N) = %d", got)
	}
	if got := r.Int("M", 5, 1, 100); got != 5 {
		t.Errorf("Int(M) = %d, want the default", got)
	}
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), `M="x" is not valid (want a whole number from 1 to 100)`) {
		t.Errorf("Err() = %v", err)
	}
}
