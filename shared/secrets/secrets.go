// Package secrets reads the product's secrets: the OAuth client secret, the
// token-encryption and signing keyrings, and the CRM's two keys.
//
// In production they live in Secret Manager (SecretManager, the official
// client, latest enabled version, checksum verified, cached for five
// minutes). Most consumers read a secret once, when their function
// instance is built, so a new version reaches them with new instances; the
// token-encryption keyring is read again every few minutes
// (tokencrypt.NewReloading), which is what lets a key rotation proceed
// without a redeployment (docs/operations.md). In the sandbox and in
// tests they come from a JSON file and the environment (Local). Open picks
// the source the configuration names.
//
// Secret values are never logged; errors name the secret, never its value.
package secrets

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/config"
	"github.com/crmsync/crmsync/shared/failure"
)

// The secrets the product reads. Terraform creates them empty; an admin adds
// the values (docs/deploy.md).
const (
	OAuthClientSecret = "oauth-client-secret"
	// TokenEncryptionKey is the keyring (package keyring) that seals
	// users' refresh tokens.
	TokenEncryptionKey = "token-encryption-key"
	// SigningKey is the keyring sessions and CSRF tokens are signed with.
	SigningKey = "signing-key"
	// CRMAPIKey is the CRM API's key for the product's engines.
	CRMAPIKey = "crm-api-key"
	// CRMAdminKey is the CRM API's administrator key (import, users, the
	// integration right): the CRMAPI function checks it, the Web function
	// uses it for the admin page's Give and Withdraw.
	CRMAdminKey = "crm-admin-key"
	// GoogleDelegationKey is the JSON key of the service account a tenant
	// using domain-wide delegation acts for its users with.
	GoogleDelegationKey = "google-delegation-key"
)

// Source gives secret values by name. Implementations are safe for
// concurrent use.
type Source interface {
	Secret(ctx context.Context, name string) ([]byte, error)
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

func checkName(op, name string) error {
	if !namePattern.MatchString(name) {
		return failure.Errorf(op, failure.Invalid, "secret name %q (want letters, digits, - or _)", name)
	}
	return nil
}

// Open returns the source cfg names: Secret Manager of cfg.ProjectID, or the
// local file and environment.
func Open(ctx context.Context, cfg config.Config, opts ...option.ClientOption) (Source, error) {
	if cfg.SecretsSource == "local" {
		return NewLocal(cfg.SecretsFile, os.LookupEnv)
	}
	return NewSecretManager(ctx, cfg.ProjectID, opts...)
}

// SecretManager reads secrets from Google Cloud Secret Manager.
type SecretManager struct {
	client  *secretmanager.Client
	project string
	// CacheFor is how long a value is reused before it is read again.
	CacheFor time.Duration
	Clock    clock.Clock

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	value []byte
	until time.Time
}

// NewSecretManager connects to Secret Manager for project.
func NewSecretManager(ctx context.Context, project string, opts ...option.ClientOption) (*SecretManager, error) {
	c, err := secretmanager.NewClient(ctx, opts...)
	if err != nil {
		return nil, failure.E("secrets: secretmanager.NewClient", failure.Permanent, err)
	}
	return &SecretManager{client: c, project: project, CacheFor: 5 * time.Minute, Clock: clock.Real{}, cache: map[string]cached{}}, nil
}

// Close closes the client.
func (s *SecretManager) Close() error { return s.client.Close() }

// Secret returns the latest enabled version of the secret name.
func (s *SecretManager) Secret(ctx context.Context, name string) ([]byte, error) {
	op := "secrets: access " + name
	if err := checkName(op, name); err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	s.mu.Lock()
	c, ok := s.cache[name]
	s.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.value, nil
	}
	resp, err := s.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{
		Name: fmt.Sprintf("projects/%s/secrets/%s/versions/latest", s.project, name),
	})
	if err != nil {
		return nil, classify(op, err)
	}
	p := resp.GetPayload()
	if p.DataCrc32C != nil && int64(crc32.Checksum(p.GetData(), crc32.MakeTable(crc32.Castagnoli))) != p.GetDataCrc32C() {
		return nil, failure.Errorf(op, failure.Transient, "payload checksum mismatch")
	}
	if len(p.GetData()) == 0 {
		return nil, failure.Errorf(op, failure.Permanent, "the secret is empty; add a value (see docs/deploy.md)")
	}
	s.mu.Lock()
	s.cache[name] = cached{value: p.GetData(), until: now.Add(s.CacheFor)}
	s.mu.Unlock()
	return p.GetData(), nil
}

func classify(op string, err error) error {
	switch status.Code(err) {
	case codes.NotFound:
		return failure.E(op, failure.NotFound, fmt.Errorf("the secret or an enabled version of it does not exist; add one (see docs/deploy.md): %w", err))
	case codes.FailedPrecondition:
		return failure.E(op, failure.Permanent, fmt.Errorf("the latest version is disabled or destroyed: %w", err))
	case codes.PermissionDenied, codes.Unauthenticated:
		return failure.E(op, failure.Permanent, fmt.Errorf("this service account lacks roles/secretmanager.secretAccessor on the secret: %w", err))
	case codes.ResourceExhausted:
		return failure.E(op, failure.Quota, err)
	case codes.Unavailable, codes.DeadlineExceeded, codes.Internal, codes.Aborted:
		return failure.E(op, failure.Transient, err)
	}
	return failure.E(op, failure.Other, err)
}

// Local reads secrets from a JSON file of name → value and from environment
// variables named CRMSYNC_SECRET_ plus the upper-cased name with "-" as "_"
// (CRMSYNC_SECRET_CRM_API_KEY), which win over the file. For the sandbox and
// tests only.
type Local struct {
	values map[string][]byte
	lookup config.Lookup
}

// NewLocal reads file (may be empty for none) and looks names up with lookup.
func NewLocal(file string, lookup config.Lookup) (*Local, error) {
	l := &Local{values: map[string][]byte{}, lookup: lookup}
	if file == "" {
		return l, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, failure.E("secrets: read "+file, failure.Permanent, err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, failure.Errorf("secrets: read "+file, failure.Invalid, "want a JSON object of secret name to value: %v", err)
	}
	for k, v := range m {
		if err := checkName("secrets: read "+file, k); err != nil {
			return nil, err
		}
		l.values[k] = []byte(v)
	}
	return l, nil
}

// EnvName is the environment variable that holds secret name for Local.
func EnvName(name string) string {
	return "CRMSYNC_SECRET_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Secret returns the value of name.
func (l *Local) Secret(_ context.Context, name string) ([]byte, error) {
	op := "secrets: local " + name
	if err := checkName(op, name); err != nil {
		return nil, err
	}
	if l.lookup != nil {
		if v, ok := l.lookup(EnvName(name)); ok && v != "" {
			return []byte(v), nil
		}
	}
	if v, ok := l.values[name]; ok && len(v) > 0 {
		return v, nil
	}
	return nil, failure.Errorf(op, failure.NotFound, "not in the secrets file and %s is not set", EnvName(name))
}

var (
	_ Source = (*SecretManager)(nil)
	_ Source = (*Local)(nil)
)
