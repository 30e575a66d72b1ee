package store

import (
	"context"
	"strings"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/crmsync/crmsync/shared/failure"
)

// PassStart is what a user's pass reads before it starts, read in one
// call: the user, the position of one of the user's cursors, and the
// user's lease of the pass's scope (which HoldPassFrom then takes without
// reading it again).
type PassStart struct {
	User   User
	Cursor Cursor

	scope    string
	leaseRef *firestore.DocumentRef
	lease    *firestore.DocumentSnapshot
}

// StartPass reads the user email, the cursor named cursor and the lease of
// scope at once. A user who does not exist is NotFound.
func (s *Store) StartPass(ctx context.Context, email, scope, cursor string) (PassStart, error) {
	const op = "store: pass start"
	uid, err := UserID(email)
	if err != nil {
		return PassStart{}, err
	}
	userRef := s.fs.Collection("users").Doc(uid)
	cursorRef, err := s.Cursors().ref(uid, cursor)
	if err != nil {
		return PassStart{}, err
	}
	leaseRef, _, err := s.Leases().ref(uid, scope)
	if err != nil {
		return PassStart{}, err
	}
	snaps, err := s.fs.GetAll(ctx, []*firestore.DocumentRef{userRef, cursorRef, leaseRef})
	if err != nil {
		return PassStart{}, classify(op, err)
	}
	if !snaps[0].Exists() {
		return PassStart{}, failure.Errorf(op, failure.NotFound, "no user %s", uid)
	}
	out := PassStart{scope: scope, leaseRef: leaseRef, lease: snaps[2]}
	if out.User, err = decodeUser(op, snaps[0]); err != nil {
		return PassStart{}, err
	}
	out.Cursor = Cursor{Name: cursor, read: true}
	if snaps[1].Exists() {
		if err := snaps[1].DataTo(&out.Cursor); err != nil {
			return PassStart{}, failure.E(op, failure.Permanent, err)
		}
		out.Cursor.Name, out.Cursor.read, out.Cursor.written = cursor, true, snaps[1].UpdateTime
	}
	return out, nil
}

// HoldPassFrom is HoldPass with the lease as StartPass read it: one write
// takes it (Conflict if another pass holds it, or took it since).
func (r *Leases) HoldPassFrom(ctx context.Context, start PassStart, instance string, ttl time.Duration) (work context.Context, holder string, end func(also ...Write) error, err error) {
	holder = passHolder(instance)
	lease, err := r.acquire(ctx, start.leaseRef, start.User.ID, start.scope, holder, ttl, start.lease)
	if err != nil {
		return ctx, "", nil, err
	}
	work, stop := r.Hold(ctx, lease, ttl)
	return work, holder, func(also ...Write) error {
		return r.Release(context.WithoutCancel(ctx), stop(), also...)
	}, nil
}

// Write is a write another repository makes together with a lease's
// release (a pass's status), in the same call.
type Write struct {
	ref     *firestore.DocumentRef
	updates []firestore.Update
}

// PassWrite is RecordPass as a Write, for a pass's release of its lease.
func (r *Users) PassWrite(email, feature string, p PassStatus) (Write, error) {
	const op = "store: user record pass"
	id, err := UserID(email)
	if err != nil {
		return Write{}, err
	}
	if feature == "" || strings.ContainsAny(feature, ".`/") {
		return Write{}, failure.Errorf(op, failure.Invalid, "feature name %q", feature)
	}
	if p.At.IsZero() {
		p.At = r.s.now()
	}
	return Write{ref: r.col().Doc(id), updates: []firestore.Update{
		{FieldPath: firestore.FieldPath{"passes", feature}, Value: p},
		{Path: "updatedAt", Value: r.s.now()},
	}}, nil
}
