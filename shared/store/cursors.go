package store

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/crmsync/crmsync/shared/failure"
)

// Cursor is a stored sync position: a Gmail historyId, a People or Calendar
// sync token, a CRM change-feed cursor. Seq counts the writes, so a writer
// can say which position it started from.
type Cursor struct {
	Name      string    `firestore:"-"`
	Value     string    `firestore:"value"`
	Seq       int64     `firestore:"seq"`
	UpdatedAt time.Time `firestore:"updatedAt"`

	// read says the cursor came from Get, which saw it stored at written
	// (or absent, when written is zero): Advance then writes in one call,
	// on the condition that nothing wrote since.
	read    bool
	written time.Time
}

// Cursors is the repository of per-user cursors.
//
// Cursors only move forward: Advance takes the Cursor the caller read before
// doing its work and fails with Conflict when anyone wrote since, so a slow
// pass can never move a cursor back over work a faster one already covered.
type Cursors struct{ s *Store }

func (r *Cursors) ref(userID, name string) (*firestore.DocumentRef, error) {
	uid, err := UserID(userID)
	if err != nil {
		return nil, err
	}
	id, err := docID(name)
	if err != nil {
		return nil, failure.E("store: cursor", failure.Invalid, err)
	}
	return r.s.fs.Collection("users").Doc(uid).Collection("cursors").Doc(id), nil
}

// Get returns the cursor name of a user. A cursor never written is returned
// with Seq 0 and an empty Value, not as an error.
func (r *Cursors) Get(ctx context.Context, userID, name string) (Cursor, error) {
	const op = "store: cursor get"
	ref, err := r.ref(userID, name)
	if err != nil {
		return Cursor{}, err
	}
	snap, err := ref.Get(ctx)
	if isNotFound(err) {
		return Cursor{Name: name, read: true}, nil
	}
	if err != nil {
		return Cursor{}, classify(op, err)
	}
	var c Cursor
	if err := snap.DataTo(&c); err != nil {
		return Cursor{}, failure.E(op, failure.Permanent, err)
	}
	c.Name, c.read, c.written = name, true, snap.UpdateTime
	return c, nil
}

// Advance stores value as the new position, provided the cursor is still at
// from (compared by Seq). It returns the stored cursor. When someone else
// wrote since from was read it fails with Conflict and changes nothing.
func (r *Cursors) Advance(ctx context.Context, userID string, from Cursor, value string) (Cursor, error) {
	const op = "store: cursor advance"
	ref, err := r.ref(userID, from.Name)
	if err != nil {
		return Cursor{}, err
	}
	if from.read {
		// One call: create it if it was absent, else update it if nothing
		// wrote since it was read. Either fails if someone did.
		out := Cursor{Name: from.Name, Value: value, Seq: from.Seq + 1, UpdatedAt: r.s.now()}
		var err error
		if from.written.IsZero() {
			_, err = ref.Create(ctx, out)
		} else {
			_, err = ref.Update(ctx, []firestore.Update{{Path: "value", Value: out.Value}, {Path: "seq", Value: out.Seq}, {Path: "updatedAt", Value: out.UpdatedAt}},
				firestore.LastUpdateTime(from.written))
		}
		if err = classify(op, err); failure.Is(err, failure.Conflict) || failure.Is(err, failure.NotFound) {
			return Cursor{}, failure.Errorf(op, failure.Conflict, "cursor %s of %s moved since it was read at seq %d", from.Name, userID, from.Seq)
		}
		if err != nil {
			return Cursor{}, err
		}
		return out, nil
	}
	var out Cursor
	err = r.s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		var cur Cursor
		snap, err := tx.Get(ref)
		switch {
		case isNotFound(err):
		case err != nil:
			return classify(op, err)
		default:
			if err := snap.DataTo(&cur); err != nil {
				return failure.E(op, failure.Permanent, err)
			}
		}
		if cur.Seq != from.Seq {
			return failure.Errorf(op, failure.Conflict, "cursor %s of %s moved (seq %d, expected %d)", from.Name, userID, cur.Seq, from.Seq)
		}
		out = Cursor{Name: from.Name, Value: value, Seq: cur.Seq + 1, UpdatedAt: r.s.now()}
		return tx.Set(ref, out)
	})
	if err != nil {
		return Cursor{}, classify(op, err)
	}
	return out, nil
}

// ResetAll empties every cursor of a user (the next passes read from the
// start). Each reset moves the cursor's Seq on, so a pass that read a cursor
// before cannot store its older position over the reset; a pass that moves a
// cursor while the reset runs does not make the reset fail, it is reset too.
func (r *Cursors) ResetAll(ctx context.Context, userID string) error {
	const op = "store: cursor reset"
	uid, err := UserID(userID)
	if err != nil {
		return err
	}
	refs, err := r.s.fs.Collection("users").Doc(uid).Collection("cursors").DocumentRefs(ctx).GetAll()
	if err != nil {
		return classify(op, err)
	}
	for _, ref := range refs {
		err := r.s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
			snap, err := tx.Get(ref)
			if isNotFound(err) {
				return nil
			}
			if err != nil {
				return classify(op, err)
			}
			var c Cursor
			if err := snap.DataTo(&c); err != nil {
				return failure.E(op, failure.Permanent, err)
			}
			if c.Value == "" {
				return nil
			}
			return tx.Set(ref, Cursor{Value: "", Seq: c.Seq + 1, UpdatedAt: r.s.now()})
		})
		if err != nil {
			return classify(op, err)
		}
	}
	return nil
}
