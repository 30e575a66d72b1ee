package store

import (
	"context"
	"fmt"
	"math/rand/v2"
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

// contended makes a single write that does not read first, trying it
// again (up to 5 times, with growing jittered waits) while Firestore
// aborts it for contention: a transaction of another writer holds the
// document's lock ("Transaction lock timeout"), which the client does not
// retry for a write outside a transaction.
func (s *Store) contended(ctx context.Context, op string, write func() error) error {
	wait := 20 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := write()
		if status.Code(err) != codes.Aborted || attempt == 5 {
			return classify(op, err)
		}
		select {
		case <-ctx.Done():
			return classify(op, err)
		case <-time.After(wait/2 + time.Duration(rand.Int64N(int64(wait)))):
		}
		wait *= 2
	}
}

// bulk adds the writes to bw.
func (s *Store) bulk(bw *firestore.BulkWriter, ws []Write) ([]*firestore.BulkWriterJob, error) {
	var jobs []*firestore.BulkWriterJob
	for _, w := range ws {
		j, err := bw.Update(w.ref, w.updates)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// results waits for the jobs of an ended BulkWriter and returns the first
// failure.
func results(op string, jobs []*firestore.BulkWriterJob) error {
	for _, j := range jobs {
		if _, err := j.Results(); err != nil {
			return classify(op, err)
		}
	}
	return nil
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
