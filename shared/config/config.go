// Package config reads the product's configuration from the environment once,
// into a typed and validated struct.
//
// A function instance calls FromEnv at start. Every problem is reported at
// once, each naming the variable and what it expects, so a misconfigured
// deployment fails fast with a message an admin can act on:
//
//	config: GOOGLE_CLOUD_PROJECT is not set (want the Google Cloud project ID, e.g. "acme-crm-sync")
//	config: LOG_LEVEL="loud" is not valid (want one of debug, info, warn, error)
//
// Variables (defaults in brackets):
//
//	GOOGLE_CLOUD_PROJECT      Google Cloud project ID (required)
//	CRMSYNC_ENV               production | sandbox | test [production]
//	CRMSYNC_VERSION           build version shown by the health function [dev]
//	FIRESTORE_DATABASE        Firestore database ID [(default)]
//	FIRESTORE_EMULATOR_HOST   host:port of the Firestore emulator; required outside production, refused in it
//	PUBSUB_EMULATOR_HOST      host:port of the Pub/Sub emulator; refused in production
//	LOG_LEVEL                 debug | info | warn | error [info]
//	SECRETS_SOURCE            secretmanager | local [secretmanager in production, local otherwise]
//	SECRETS_FILE              JSON file of name → value for SECRETS_SOURCE=local (optional)
//	CRM_URL                   base URL of the CRM REST API, e.g. https://crm.example/ (needed by the functions that reach the CRM)
//	GOOGLE_API_ENDPOINT       base URL replacing Google's APIs (the fake Google); refused in production
//	GOOGLE_TOKEN_URL          token endpoint replacing Google's (the fake Google); refused in production
//	GOOGLE_AUTH_URL           authorization endpoint replacing Google's (the fake Google); refused in production
//	GOOGLE_REVOKE_URL         revocation endpoint replacing Google's (the fake Google); refused in production
//	CALENDAR_WEBHOOK_URL      public URL of the CalendarPush function (Calendar push channels); unset: no push, scheduled passes only
//	SIDEPANEL_URL             public URL of the SidePanel function (the Gmail add-on): its cards' buttons post there, and Gmail's identity tokens name it as their audience
//	CRM_CONTACT_URL           a CRM contact's page, with %s for the contact's id: the side panel links the contacts a message went to (unset: no links)
//	GOOGLE_JWKS_URL           signing keys replacing Google's for identity tokens (the fake Google); refused in production
//	WEB_URL                   public URL of the Web function: OAuth redirect URIs and the links in e-mail are made from it (needed by Web and Jobs)
//	OIDC_AUDIENCES            comma-separated audiences a push or scheduler endpoint accepts in callers' identity tokens (its own URL); required with OIDC_INVOKERS in production for GmailPush, Jobs and Dispatch
//	OIDC_INVOKERS             comma-separated service accounts allowed to call those endpoints (Pub/Sub push's, Cloud Scheduler's)
//	OIDC_CHECKED_BY_PLATFORM  true when Cloud Run's invoker check stands in front of the endpoint (it is not public): tokens whose signature Cloud Run removed after checking it are taken on their claims [false]
//	CRMSYNC_CLOCK_OFFSET      a Go duration added to the clock, e.g. 8760h (a year ahead); sandbox and test only, refused in production
//	DELEGATION_SERVICE_ACCOUNT e-mail of the service account domain-wide delegation acts through, keyless: assertions signed by IAM Credentials signJwt (the function's identity holds roles/iam.serviceAccountTokenCreator on it); unset: the google-delegation-key secret holds a key (the sandbox)
//	DELEGATION_CLIENT_ID      that account's client ID (numeric), shown on the admin page for the Admin console
//	SYSTEM_SENDER             mailbox that sends system e-mail (confirmation, preview report, reconnect), through domain-wide delegation with gmail.send
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Environment says where the product runs.
type Environment string

const (
	Production Environment = "production"
	Sandbox    Environment = "sandbox"
	Test       Environment = "test"
)

// Config is the validated configuration of one process.
type Config struct {
	ProjectID             string
	Env                   Environment
	Version               string
	FirestoreDatabase     string
	FirestoreEmulatorHost string
	PubSubEmulatorHost    string
	LogLevel              slog.Level
	SecretsSource         string // "secretmanager" or "local"
	SecretsFile           string
	CRMURL                string // ends with "/"
	// CRMInstance names the reference CRM's data (refcrm/{instance}) in
	// the CRMAPI function; "default" when unset.
	CRMInstance string
	// GmailUserUnitsPerMinute and GmailProjectUnitsPerMinute are Gmail's
	// usage limits for the deployment's project (the quota page's values
	// for projects created since 1 May 2026 by default: 6,000 and
	// 1,200,000); GmailInstances is the most function instances that call
	// Gmail at once, which share the project's limit evenly.
	GmailUserUnitsPerMinute    int
	GmailProjectUnitsPerMinute int
	GmailInstances             int
	GoogleAPIEndpoint          string
	GoogleTokenURL             string
	GoogleAuthURL              string
	GoogleRevokeURL            string
	CalendarWebhookURL         string
	SidePanelURL               string // no trailing "/"
	CRMContactURL              string
	GoogleJWKSURL              string
	WebURL                     string // no trailing "/"
	SystemSender               string
	OIDCAudiences              []string
	OIDCInvokers               []string
	// OIDCCheckedByPlatform says Cloud Run's invoker check stands in front
	// of the endpoint.
	OIDCCheckedByPlatform bool
	// DelegationServiceAccount is the keyless delegation account ("" uses
	// the google-delegation-key secret).
	DelegationServiceAccount string
	// DelegationClientID is that account's client ID, which the admin page
	// shows for the Admin console.
	DelegationClientID string
	// ClockOffset moves every clock of the process (the sandbox's tests
	// run a year ahead with it); zero in production.
	ClockOffset time.Duration
}

// Lookup reads one variable; os.LookupEnv is the production lookup.
type Lookup func(name string) (string, bool)

// FromEnv reads the configuration from the process environment.
func FromEnv() (Config, error) { return Load(os.LookupEnv) }

// projectIDPattern is Google Cloud's rule for project IDs (6-30 chars,
// lowercase letters, digits and hyphens, starting with a letter). Emulators
// accept anything, so tests use IDs of the same form.
var projectIDPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)

// Load reads the configuration through lookup and validates it. The error,
// if any, lists every problem found.
func Load(lookup Lookup) (Config, error) {
	r := &Reader{lookup: lookup}
	var c Config
	c.ProjectID = r.Required("GOOGLE_CLOUD_PROJECT", `the Google Cloud project ID, e.g. "acme-crm-sync"`)
	if c.ProjectID != "" && !projectIDPattern.MatchString(c.ProjectID) {
		r.Invalid("GOOGLE_CLOUD_PROJECT", c.ProjectID, "6-30 lowercase letters, digits or hyphens, starting with a letter")
	}
	c.Env = Environment(r.OneOf("CRMSYNC_ENV", string(Production), string(Production), string(Sandbox), string(Test)))
	c.Version = r.String("CRMSYNC_VERSION", "dev")
	c.FirestoreDatabase = r.String("FIRESTORE_DATABASE", "(default)")
	c.FirestoreEmulatorHost = r.HostPort("FIRESTORE_EMULATOR_HOST")
	c.PubSubEmulatorHost = r.HostPort("PUBSUB_EMULATOR_HOST")
	c.LogLevel = r.LogLevel("LOG_LEVEL", slog.LevelInfo)
	defaultSecrets := "local"
	if c.Env == Production {
		defaultSecrets = "secretmanager"
	}
	c.SecretsSource = r.OneOf("SECRETS_SOURCE", defaultSecrets, "secretmanager", "local")
	c.SecretsFile = r.String("SECRETS_FILE", "")
	c.CRMURL = r.URL("CRM_URL")
	c.CRMInstance = r.String("CRM_INSTANCE", "default")
	c.GmailUserUnitsPerMinute = r.Int("GMAIL_USER_UNITS_PER_MINUTE", 6_000, 60, 1_000_000)
	c.GmailProjectUnitsPerMinute = r.Int("GMAIL_PROJECT_UNITS_PER_MINUTE", 1_200_000, 60, 100_000_000)
	c.GmailInstances = r.Int("GMAIL_INSTANCES", 1, 1, 10_000)
	if c.CRMURL != "" && !strings.HasSuffix(c.CRMURL, "/") {
		c.CRMURL += "/"
	}
	c.GoogleAPIEndpoint = r.URL("GOOGLE_API_ENDPOINT")
	c.GoogleTokenURL = r.URL("GOOGLE_TOKEN_URL")
	c.GoogleAuthURL = r.URL("GOOGLE_AUTH_URL")
	c.GoogleRevokeURL = r.URL("GOOGLE_REVOKE_URL")
	c.CalendarWebhookURL = r.URL("CALENDAR_WEBHOOK_URL")
	c.SidePanelURL = strings.TrimSuffix(r.URL("SIDEPANEL_URL"), "/")
	c.CRMContactURL = r.String("CRM_CONTACT_URL", "")
	c.GoogleJWKSURL = r.URL("GOOGLE_JWKS_URL")
	c.WebURL = strings.TrimSuffix(r.URL("WEB_URL"), "/")
	c.SystemSender = r.String("SYSTEM_SENDER", "")
	c.OIDCAudiences = list(r.String("OIDC_AUDIENCES", ""))
	c.OIDCInvokers = list(r.String("OIDC_INVOKERS", ""))
	c.OIDCCheckedByPlatform = r.Bool("OIDC_CHECKED_BY_PLATFORM", false)
	if (len(c.OIDCAudiences) == 0) != (len(c.OIDCInvokers) == 0) {
		r.Fail(errors.New("config: OIDC_AUDIENCES and OIDC_INVOKERS are set together (want both: the accepted audiences and the allowed callers)"))
	}
	c.ClockOffset = r.Duration("CRMSYNC_CLOCK_OFFSET", 0)
	c.DelegationServiceAccount = r.String("DELEGATION_SERVICE_ACCOUNT", "")
	c.DelegationClientID = r.String("DELEGATION_CLIENT_ID", "")
	if c.DelegationServiceAccount != "" && !strings.HasSuffix(c.DelegationServiceAccount, ".gserviceaccount.com") {
		r.Invalid("DELEGATION_SERVICE_ACCOUNT", c.DelegationServiceAccount, "a service account's e-mail, e.g. crmsync-delegation@PROJECT.iam.gserviceaccount.com")
	}
	if c.SystemSender != "" && !strings.Contains(c.SystemSender, "@") {
		r.Invalid("SYSTEM_SENDER", c.SystemSender, "an e-mail address of the firm's Workspace, e.g. crm-sync@firm.example")
	}

	switch c.Env {
	case Production:
		for name, v := range map[string]string{"FIRESTORE_EMULATOR_HOST": c.FirestoreEmulatorHost, "PUBSUB_EMULATOR_HOST": c.PubSubEmulatorHost,
			"GOOGLE_API_ENDPOINT": c.GoogleAPIEndpoint, "GOOGLE_TOKEN_URL": c.GoogleTokenURL, "GOOGLE_AUTH_URL": c.GoogleAuthURL,
			"GOOGLE_REVOKE_URL": c.GoogleRevokeURL, "GOOGLE_JWKS_URL": c.GoogleJWKSURL} {
			if v != "" {
				r.Fail(fmt.Errorf("config: %s is set in production (want it unset; emulators and the fake Google are for CRMSYNC_ENV=sandbox or test)", name))
			}
		}
		if c.ClockOffset != 0 {
			r.Fail(errors.New("config: CRMSYNC_CLOCK_OFFSET is set in production (want it unset; a moved clock is for the sandbox's tests)"))
		}
		if c.SecretsSource == "local" {
			r.Fail(errors.New("config: SECRETS_SOURCE=local in production (want secretmanager; local secrets are for the sandbox)"))
		}
	default:
		if c.FirestoreEmulatorHost == "" && !r.Has("FIRESTORE_EMULATOR_HOST") {
			r.Fail(fmt.Errorf("config: FIRESTORE_EMULATOR_HOST is not set (want host:port of the Firestore emulator when CRMSYNC_ENV=%s)", c.Env))
		}
	}
	return c, r.Err()
}

// list splits a comma-separated value, dropping empty items.
func list(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Reader collects typed values and every problem with them. Later
// configuration structs (a function's own settings) use it the same way.
type Reader struct {
	lookup Lookup
	errs   []error
}

// NewReader returns a Reader over lookup.
func NewReader(lookup Lookup) *Reader { return &Reader{lookup: lookup} }

func (r *Reader) get(name string) (string, bool) {
	v, ok := r.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// Has reports whether name is set to a non-empty value.
func (r *Reader) Has(name string) bool { _, ok := r.get(name); return ok }

// Fail records a problem.
func (r *Reader) Fail(err error) { r.errs = append(r.errs, err) }

// Invalid records that name has a value that is not what is wanted.
func (r *Reader) Invalid(name, value, want string) {
	r.Fail(fmt.Errorf("config: %s=%q is not valid (want %s)", name, value, want))
}

// Err returns every problem recorded, joined, or nil.
func (r *Reader) Err() error { return errors.Join(r.errs...) }

// URL returns the value of name, an absolute http or https URL, or "".
func (r *Reader) URL(name string) string {
	v, ok := r.get(name)
	if !ok {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.Invalid(name, v, "an absolute http or https URL")
		return ""
	}
	return v
}

// String returns the value of name or def when unset.
func (r *Reader) String(name, def string) string {
	if v, ok := r.get(name); ok {
		return v
	}
	return def
}

// Required returns the value of name, recording a problem when it is unset.
func (r *Reader) Required(name, want string) string {
	v, ok := r.get(name)
	if !ok {
		r.Fail(fmt.Errorf("config: %s is not set (want %s)", name, want))
	}
	return v
}

// OneOf returns the value of name, which must be one of allowed, or def.
func (r *Reader) OneOf(name, def string, allowed ...string) string {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	r.Invalid(name, v, "one of "+strings.Join(allowed, ", "))
	return def
}

// Int returns the integer value of name within [min, max], or def.
func (r *Reader) Int(name string, def, min, max int) int {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		r.Invalid(name, v, fmt.Sprintf("a whole number from %d to %d", min, max))
		return def
	}
	return n
}

// Bool returns the boolean value of name (true/false/1/0), or def.
func (r *Reader) Bool(name string, def bool) bool {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.Invalid(name, v, "true or false")
		return def
	}
	return b
}

// Duration returns the Go duration value of name (e.g. "8760h"), or def.
func (r *Reader) Duration(name string, def time.Duration) time.Duration {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		r.Invalid(name, v, `a Go duration such as "8760h" or "-30m"`)
		return def
	}
	return d
}

// HostPort returns the host:port value of name, or "" when unset.
func (r *Reader) HostPort(name string) string {
	v, ok := r.get(name)
	if !ok {
		return ""
	}
	host, port, err := net.SplitHostPort(v)
	p, perr := strconv.Atoi(port)
	if err != nil || host == "" || perr != nil || p < 1 || p > 65535 {
		r.Invalid(name, v, "host:port, e.g. 127.0.0.1:8086")
		return ""
	}
	return v
}

// LogLevel returns the slog level named by name, or def.
func (r *Reader) LogLevel(name string, def slog.Level) slog.Level {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "debug":
		return slog.LevelDebug
	case "info":
		return slog.LevelInfo
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	r.Invalid(name, v, "one of debug, info, warn, error")
	return def
}
