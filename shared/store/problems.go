package store

import (
	"context"
	"slices"
	"sort"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/crmsync/crmsync/shared/failure"
)

// Problem is a fault of the product's own configuration (the OAuth client,
// the delegation scopes, the signing identity, the token key) that stopped
// work for users. Users are not disconnected for it; the administration
// page shows it until an admin fixes the cause and it stops recurring.
type Problem struct {
	// ID names what failed (the failing call), one document per cause.
	ID string `firestore:"id"`
	// Message says what went wrong and what to fix; it never holds a
	// token or a message body.
	Message string `firestore:"message"`
	// Users are the first users it stopped (at most ProblemUsers).
	Users []string `firestore:"users"`
	// Count is how many times it was met.
	Count   int64     `firestore:"count"`
	FirstAt time.Time `firestore:"firstAt"`
	LastAt  time.Time `firestore:"lastAt"`
}

// ProblemUsers is how many users a Problem names.
const ProblemUsers = 20

// Problems is the repository of a tenant's configuration problems.
type Problems struct{ s *Store }

// Problems returns the repository of configuration problems.
func (s *Store) Problems() *Problems { return &Problems{s: s} }

func (r *Problems) ref(tenantID, id string) (*firestore.DocumentRef, error) {
	tid, err := docID(tenantID)
	if err != nil {
		return nil, failure.E("store: problem", failure.Invalid, err)
	}
	pid, err := docID(id)
	if err != nil {
		return nil, failure.E("store: problem", failure.Invalid, err)
	}
	return r.s.fs.Collection("tenants").Doc(tid).Collection("problems").Doc(pid), nil
}

// Record notes that the problem id (with message) stopped work for user.
func (r *Problems) Record(ctx context.Context, tenantID, id, message, user string) (Problem, error) {
	const op = "store: problem record"
	ref, err := r.ref(tenantID, id)
	if err != nil {
		return Problem{}, err
	}
	var out Problem
	err = r.s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		var p Problem
		snap, err := tx.Get(ref)
		switch {
		case isNotFound(err):
			p.FirstAt = r.s.now()
		case err != nil:
			return classify(op, err)
		default:
			if err := snap.DataTo(&p); err != nil {
				return failure.E(op, failure.Permanent, err)
			}
		}
		p.ID, p.Message, p.LastAt, p.Count = id, message, r.s.now(), p.Count+1
		if user != "" && !slices.Contains(p.Users, user) && len(p.Users) < ProblemUsers {
			p.Users = append(p.Users, user)
		}
		out = p
		return tx.Set(ref, p)
	})
	if err != nil {
		return Problem{}, classify(op, err)
	}
	return out, nil
}

// List returns the tenant's problems met since since, latest first.
func (r *Problems) List(ctx context.Context, tenantID string, since time.Time) ([]Problem, error) {
	const op = "store: problem list"
	tid, err := docID(tenantID)
	if err != nil {
		return nil, failure.E(op, failure.Invalid, err)
	}
	snaps, err := r.s.fs.Collection("tenants").Doc(tid).Collection("problems").Documents(ctx).GetAll()
	if err != nil {
		return nil, classify(op, err)
	}
	var out []Problem
	for _, snap := range snaps {
		var p Problem
		if err := snap.DataTo(&p); err != nil {
			return nil, failure.E(op, failure.Permanent, err)
		}
		if p.LastAt.Before(since) {
			continue
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastAt.After(out[j].LastAt) })
	return out, nil
}
