package store

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/crmsync/crmsync/shared/failure"
)

// QueuedMail is a system e-mail (a setup confirmation, a preview report, a
// reconnect request) that Gmail did not take when it was sent, kept until
// it does (package notify's Queue). It expires with the links it carries.
type QueuedMail struct {
	ID        string    `firestore:"-"`
	Tenant    string    `firestore:"tenant"`
	User      string    `firestore:"user"`
	To        string    `firestore:"to"`
	Subject   string    `firestore:"subject"`
	Text      string    `firestore:"text"`
	HTML      string    `firestore:"html"`
	Key       string    `firestore:"key"`
	FromName  string    `firestore:"fromName,omitempty"`
	Attempts  int       `firestore:"attempts"`
	NextAt    time.Time `firestore:"nextAt"`
	LastError string    `firestore:"lastError"`
	CreatedAt time.Time `firestore:"createdAt"`
	ExpireAt  time.Time `firestore:"expireAt"`
}

// QueuedMailLifetime is how long a queued e-mail is kept: the preview
// links it may carry work for as long.
const QueuedMailLifetime = 7 * 24 * time.Hour

// Outbox is the repository of queued system e-mail.
type Outbox struct{ s *Store }

// Outbox returns the repository of queued system e-mail.
func (s *Store) Outbox() *Outbox { return &Outbox{s: s} }

func (r *Outbox) col() *firestore.CollectionRef { return r.s.fs.Collection("outbox") }

// Put queues m (its ID from its user and key, so the same e-mail queued
// twice is one entry) and returns it as stored.
func (r *Outbox) Put(ctx context.Context, m QueuedMail) (QueuedMail, error) {
	const op = "store: outbox put"
	key := m.Key
	if key == "" {
		key = r.s.now().Format(time.RFC3339Nano)
	}
	id, err := docID(m.User, key)
	if err != nil {
		return QueuedMail{}, failure.E(op, failure.Invalid, err)
	}
	now := r.s.now()
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now
	}
	if m.ExpireAt.IsZero() {
		m.ExpireAt = now.Add(QueuedMailLifetime)
	}
	if _, err := r.col().Doc(id).Set(ctx, m); err != nil {
		return QueuedMail{}, classify(op, err)
	}
	m.ID = id
	return m, nil
}

// Due lists the queued e-mail whose next attempt is due (by the store's
// clock).
func (r *Outbox) Due(ctx context.Context) ([]QueuedMail, error) {
	return r.list(ctx, "store: outbox due", r.col().Where("nextAt", "<=", r.s.now()).Limit(1000))
}

// OfUser lists a user's queued e-mail.
func (r *Outbox) OfUser(ctx context.Context, user string) ([]QueuedMail, error) {
	return r.list(ctx, "store: outbox of user", r.col().Where("user", "==", user))
}

// OfTenant lists a firm's queued e-mail.
func (r *Outbox) OfTenant(ctx context.Context, tenant string) ([]QueuedMail, error) {
	return r.list(ctx, "store: outbox of tenant", r.col().Where("tenant", "==", tenant))
}

func (r *Outbox) list(ctx context.Context, op string, q firestore.Query) ([]QueuedMail, error) {
	snaps, err := q.Documents(ctx).GetAll()
	if err != nil {
		return nil, classify(op, err)
	}
	out := make([]QueuedMail, 0, len(snaps))
	now := r.s.now()
	for _, snap := range snaps {
		var m QueuedMail
		if err := snap.DataTo(&m); err != nil {
			return nil, failure.E(op, failure.Permanent, err)
		}
		if !m.ExpireAt.After(now) {
			continue // expired; the TTL policy deletes it
		}
		m.ID = snap.Ref.ID
		out = append(out, m)
	}
	return out, nil
}

// Sent removes a queued e-mail Gmail took.
func (r *Outbox) Sent(ctx context.Context, id string) error {
	if _, err := r.col().Doc(id).Delete(ctx); err != nil {
		return classify("store: outbox sent", err)
	}
	return nil
}

// Later records a failed attempt and when to try again.
func (r *Outbox) Later(ctx context.Context, id string, next time.Time, why string) error {
	_, err := r.col().Doc(id).Update(ctx, []firestore.Update{
		{Path: "attempts", Value: firestore.Increment(1)}, {Path: "nextAt", Value: next}, {Path: "lastError", Value: why}})
	if err != nil {
		return classify("store: outbox later", err)
	}
	return nil
}
