package store

import (
	"context"
	"sort"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/crmsync/crmsync/shared/failure"
)

// AuthMode says how the product gets Google access for a tenant's users.
type AuthMode string

const (
	// AuthUserOAuth: each user connects with their own OAuth consent.
	AuthUserOAuth AuthMode = "user_oauth"
	// AuthDelegation: office-level impersonation through domain-wide
	// delegation of a service account.
	AuthDelegation AuthMode = "delegation"
)

// Tenant is one firm: its office settings.
type Tenant struct {
	ID   string `firestore:"-"`
	Name string `firestore:"name"`
	// AppName is the name users see in e-mail and on pages (default
	// CRMName + " Sync").
	AppName string `firestore:"appName,omitempty"`
	// CRMName names the CRM in labels: CRMName, CRMName+"Posted", …
	CRMName string `firestore:"crmName"`
	// Domains are the firm's e-mail domains (for "do not post internal e-mail").
	Domains []string `firestore:"domains"`
	// Admins are the addresses allowed on admin pages.
	Admins        []string `firestore:"admins"`
	AuthMode      AuthMode `firestore:"authMode"`
	OAuthClientID string   `firestore:"oauthClientId"`
	// AttachmentLimitBytes is the largest attachment the CRM accepts.
	AttachmentLimitBytes int64 `firestore:"attachmentLimitBytes"`
	// AllowAllContacts lets users choose "synchronize all contacts".
	AllowAllContacts bool `firestore:"allowAllContacts"`
	// AutoMailSync is the firm-level switch for automatic mail sync.
	AutoMailSync bool      `firestore:"autoMailSync"`
	CreatedAt    time.Time `firestore:"createdAt"`
	UpdatedAt    time.Time `firestore:"updatedAt"`
	// Version increases with every write.
	Version int64 `firestore:"version"`
}

// Tenants is the repository of firms.
type Tenants struct{ s *Store }

func (r *Tenants) col() *firestore.CollectionRef { return r.s.fs.Collection("tenants") }

// Get returns the tenant id.
func (r *Tenants) Get(ctx context.Context, id string) (Tenant, error) {
	const op = "store: tenant get"
	if id == "" {
		return Tenant{}, failure.Errorf(op, failure.Invalid, "empty tenant id")
	}
	snap, err := r.col().Doc(id).Get(ctx)
	if err != nil {
		return Tenant{}, classify(op, err)
	}
	var t Tenant
	if err := snap.DataTo(&t); err != nil {
		return Tenant{}, failure.E(op, failure.Permanent, err)
	}
	t.ID = id
	return t, nil
}

// Create stores a new tenant; it fails with Conflict when t.ID exists.
func (r *Tenants) Create(ctx context.Context, t Tenant) (Tenant, error) {
	const op = "store: tenant create"
	if t.ID == "" {
		return Tenant{}, failure.Errorf(op, failure.Invalid, "empty tenant id")
	}
	now := r.s.now()
	t.CreatedAt, t.UpdatedAt, t.Version = now, now, 1
	if _, err := r.col().Doc(t.ID).Create(ctx, t); err != nil {
		return Tenant{}, classify(op, err)
	}
	return t, nil
}

// Update applies fn to the stored tenant in a transaction and stores the
// result with a higher Version. An error from fn aborts the update.
func (r *Tenants) Update(ctx context.Context, id string, fn func(*Tenant) error) (Tenant, error) {
	const op = "store: tenant update"
	var out Tenant
	err := r.s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		ref := r.col().Doc(id)
		snap, err := tx.Get(ref)
		if err != nil {
			return classify(op, err)
		}
		var t Tenant
		if err := snap.DataTo(&t); err != nil {
			return failure.E(op, failure.Permanent, err)
		}
		t.ID = id
		if err := fn(&t); err != nil {
			return err
		}
		t.ID, t.UpdatedAt, t.Version = id, r.s.now(), t.Version+1
		out = t
		return tx.Set(ref, t)
	})
	return out, classify(op, err)
}

// List returns every tenant, ordered by ID.
func (r *Tenants) List(ctx context.Context) ([]Tenant, error) {
	const op = "store: tenant list"
	it := r.col().Documents(ctx)
	defer it.Stop()
	var out []Tenant
	for {
		snap, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			return nil, classify(op, err)
		}
		var t Tenant
		if err := snap.DataTo(&t); err != nil {
			return nil, failure.E(op, failure.Permanent, err)
		}
		t.ID = snap.Ref.ID
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }
