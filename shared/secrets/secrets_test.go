package secrets

import (
	"context"
	"hash/crc32"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/config"
	"github.com/crmsync/crmsync/shared/failure"
)

// fakeSecretManager is a gRPC Secret Manager service holding secret values,
// so the real client code path (gRPC, resource names, checksums) runs.
type fakeSecretManager struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer
	mu       sync.Mutex
	values   map[string][]byte // full version name → value
	disabled map[string]bool
	badCRC   bool
	calls    int
}

func (f *fakeSecretManager) AccessSecretVersion(_ context.Context, req *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.disabled[req.GetName()] {
		return nil, status.Errorf(codes.FailedPrecondition, "Secret Version [%s] is in DISABLED state.", req.GetName())
	}
	v, ok := f.values[req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Secret [%s] not found or has no versions.", req.GetName())
	}
	crc := int64(crc32.Checksum(v, crc32.MakeTable(crc32.Castagnoli)))
	if f.badCRC {
		crc++
	}
	return &secretmanagerpb.AccessSecretVersionResponse{Name: req.GetName(), Payload: &secretmanagerpb.SecretPayload{Data: v, DataCrc32C: &crc}}, nil
}

func startFake(t *testing.T, f *fakeSecretManager) *SecretManager {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	secretmanagerpb.RegisterSecretManagerServiceServer(srv, f)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	sm, err := NewSecretManager(context.Background(), "acme-crm-sync",
		option.WithEndpoint(lis.Addr().String()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sm.Close() })
	return sm
}

func TestSecretManagerReadsLatestVersion(t *testing.T) {
	f := &fakeSecretManager{values: map[string][]byte{
		"projects/acme-crm-sync/secrets/crm-api-key/versions/latest": []byte("k-123"),
	}}
	sm := startFake(t, f)
	clk := clock.NewFake(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	sm.Clock = clk
	ctx := context.Background()

	got, err := sm.Secret(ctx, CRMAPIKey)
	if err != nil || string(got) != "k-123" {
		t.Fatalf("Secret = %q, %v", got, err)
	}
	// Cached: no second call within CacheFor; re-read after, so rotation shows.
	sm.Secret(ctx, CRMAPIKey)
	if f.calls != 1 {
		t.Errorf("calls = %d, want 1 (cached)", f.calls)
	}
	f.mu.Lock()
	f.values["projects/acme-crm-sync/secrets/crm-api-key/versions/latest"] = []byte("k-456")
	f.mu.Unlock()
	clk.Advance(sm.CacheFor + time.Second)
	if got, _ := sm.Secret(ctx, CRMAPIKey); string(got) != "k-456" {
		t.Errorf("after rotation Secret = %q, want k-456", got)
	}
}

func TestSecretManagerErrors(t *testing.T) {
	f := &fakeSecretManager{
		values:   map[string][]byte{"projects/acme-crm-sync/secrets/off/versions/latest": []byte("x")},
		disabled: map[string]bool{"projects/acme-crm-sync/secrets/off/versions/latest": true},
	}
	sm := startFake(t, f)
	ctx := context.Background()
	tests := []struct {
		name   string
		secret string
		kind   failure.Kind
		says   string
	}{
		{"missing", "oauth-client-secret", failure.NotFound, "secrets: access oauth-client-secret: the secret or an enabled version of it does not exist"},
		{"disabled", "off", failure.Permanent, "disabled or destroyed"},
		{"bad name", "../etc/passwd", failure.Invalid, `secret name "../etc/passwd"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sm.Secret(ctx, tt.secret)
			if !failure.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("Secret(%q) = %v (kind %v), want kind %v saying %q", tt.secret, err, failure.KindOf(err), tt.kind, tt.says)
			}
		})
	}
}

func TestSecretManagerChecksMismatch(t *testing.T) {
	f := &fakeSecretManager{badCRC: true, values: map[string][]byte{
		"projects/acme-crm-sync/secrets/token-encryption-key/versions/latest": []byte("0123456789abcdef0123456789abcdef"),
	}}
	sm := startFake(t, f)
	if _, err := sm.Secret(context.Background(), TokenEncryptionKey); !failure.Is(err, failure.Transient) || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("Secret with corrupted payload = %v, want a transient checksum error", err)
	}
}

func TestLocalFileAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secrets.json")
	os.WriteFile(file, []byte(`{"crm-api-key":"from-file","oauth-client-secret":"s3"}`), 0o600)
	env := map[string]string{"CRMSYNC_SECRET_CRM_API_KEY": "from-env"}
	l, err := NewLocal(file, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, want := range map[string]string{CRMAPIKey: "from-env", OAuthClientSecret: "s3"} {
		if got, err := l.Secret(ctx, name); err != nil || string(got) != want {
			t.Errorf("Secret(%s) = %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := l.Secret(ctx, TokenEncryptionKey); !failure.Is(err, failure.NotFound) || !strings.Contains(err.Error(), "CRMSYNC_SECRET_TOKEN_ENCRYPTION_KEY") {
		t.Errorf("missing secret = %v, want NotFound naming the variable", err)
	}

	os.WriteFile(file, []byte(`["not","an","object"]`), 0o600)
	if _, err := NewLocal(file, nil); !failure.Is(err, failure.Invalid) {
		t.Errorf("NewLocal(bad JSON) = %v, want Invalid", err)
	}
	if _, err := NewLocal(filepath.Join(dir, "absent.json"), nil); err == nil {
		t.Error("NewLocal(absent file) succeeded")
	}
}

func TestOpenPicksTheConfiguredSource(t *testing.T) {
	src, err := Open(context.Background(), config.Config{SecretsSource: "local"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := src.(*Local); !ok {
		t.Errorf("Open(local) = %T", src)
	}
}
