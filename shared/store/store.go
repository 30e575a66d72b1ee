package store

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/failure"
)

// Store is the product's Firestore state. It is safe for concurrent use.
type Store struct {
	fs    *firestore.Client
	clock clock.Clock
}

// Open connects to the Firestore database databaseID of projectID. With
// FIRESTORE_EMULATOR_HOST set, the client talks to the emulator without
// credentials. clk tells the time as in New.
func Open(ctx context.Context, projectID, databaseID string, clk clock.Clock, opts ...option.ClientOption) (*Store, error) {
	if databaseID == "" {
		databaseID = firestore.DefaultDatabaseID
	}
	c, err := firestore.NewClientWithDatabase(ctx, projectID, databaseID, opts...)
	if err != nil {
		return nil, failure.E("store: open firestore", failure.Permanent, err)
	}
	return New(c, clk), nil
}

// New wraps an open Firestore client. clk tells the time for timestamps and
// lease expiry.
func New(c *firestore.Client, clk clock.Clock) *Store {
	if clk == nil {
		clk = clock.Real{}
	}
	return &Store{fs: c, clock: clk}
}

// Close closes the Firestore client.
func (s *Store) Close() error { return s.fs.Close() }

// Client is the store's Firestore client, for a component that keeps its
// own documents in the same database (the reference CRM's function), so
// an instance holds one client.
func (s *Store) Client() *firestore.Client { return s.fs }

// Ping reads one document to prove the database answers. A missing document
// is a healthy answer.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.fs.Collection("health").Doc("ping").Get(ctx)
	if err != nil && status.Code(err) != codes.NotFound {
		return classify("store: ping", err)
	}
	return nil
}

// Tenants returns the tenant repository.
func (s *Store) Tenants() *Tenants { return &Tenants{s: s} }

// Users returns the user repository.
func (s *Store) Users() *Users { return &Users{s: s} }

// Cursors returns the cursor repository.
func (s *Store) Cursors() *Cursors { return &Cursors{s: s} }

// Leases returns the lease repository.
func (s *Store) Leases() *Leases { return &Leases{s: s} }

// Ledger returns the idempotency ledger.
func (s *Store) Ledger() *Ledger { return &Ledger{s: s} }

func (s *Store) now() time.Time { return s.clock.Now().UTC() }

// write makes writes in one call (none: nothing).
func (s *Store) write(ctx context.Context, op string, ws []Write) error {
	if len(ws) == 0 {
		return nil
	}
	b := s.fs.Batch()
	for _, w := range ws {
		b.Update(w.ref, w.updates)
	}
	_, err := b.Commit(ctx)
	return classify(op, err)
}

// Now is the store's time (its clock's).
func (s *Store) Now() time.Time { return s.now() }

// classify gives a Firestore error its kind; see failure.FromGRPC.
func classify(op string, err error) error { return failure.FromGRPC(op, err) }

// docID makes a Firestore document ID from free text: it escapes "/" and
// other characters Firestore reserves, keeping it readable.
func docID(parts ...string) (string, error) {
	id := ""
	for i, p := range parts {
		if p == "" {
			return "", fmt.Errorf("empty id part %d", i)
		}
		if i > 0 {
			id += ":"
		}
		id += url.PathEscape(p)
	}
	if len(id) > 1500 || id == "." || id == ".." {
		return "", fmt.Errorf("id %q is not usable as a document ID", id)
	}
	return id, nil
}

// ExpiringCollections are the collections whose documents carry expireAt
// for Firestore's TTL policy to delete them; the Terraform makes one policy
// for each (infra/modules/platform, checked by infra's plan test).
func ExpiringCollections() []string {
	return []string{"leases", "ledger", "oauthStates", "previews", "addressClaims", "outbox"}
}
