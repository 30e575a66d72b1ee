package store

import (
	"context"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"

	"github.com/crmsync/crmsync/shared/failure"
)

// Removed counts the documents Remove deleted, by kind.
type Removed map[string]int

// Remove deletes everything the product keeps about a user: the user
// document and its subcollections (cursors, leases, link tables), the
// user's ledger entries (mail and automatic mail sync), previews and
// queued system e-mail. Nothing of the CRM or of Google is touched. It
// returns what it deleted; removing a user who is gone deletes nothing.
func (r *Users) Remove(ctx context.Context, email string) (Removed, error) {
	const op = "store: user remove"
	id, err := UserID(email)
	if err != nil {
		return nil, err
	}
	fs := r.s.fs
	out := Removed{}
	var refs []*firestore.DocumentRef
	add := func(kind string, q firestore.Query) error {
		it := q.Documents(ctx)
		defer it.Stop()
		for {
			snap, err := it.Next()
			if err == iterator.Done {
				return nil
			}
			if err != nil {
				return classify(op, err)
			}
			refs = append(refs, snap.Ref)
			out[kind]++
		}
	}
	user := fs.Collection("users").Doc(id)
	subs := user.Collections(ctx)
	for {
		c, err := subs.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			return nil, classify(op, err)
		}
		if err := add(c.ID, c.Query); err != nil {
			return nil, err
		}
	}
	for _, scope := range []string{"mail:" + id, "auto:" + id} {
		if err := add("ledger", fs.Collection("ledger").Where("scope", "==", scope)); err != nil {
			return nil, err
		}
	}
	if err := add("previews", fs.Collection("previews").Where("user", "==", id)); err != nil {
		return nil, err
	}
	if err := add("outbox", fs.Collection("outbox").Where("user", "==", id)); err != nil {
		return nil, err
	}
	if snap, err := user.Get(ctx); err == nil && snap.Exists() {
		refs, out["users"] = append(refs, user), 1
	} else if err != nil && !isNotFound(err) {
		return nil, classify(op, err)
	}
	if len(refs) == 0 {
		return out, nil
	}
	bw := fs.BulkWriter(ctx)
	var jobs []*firestore.BulkWriterJob
	for _, ref := range refs {
		j, err := bw.Delete(ref)
		if err != nil {
			bw.End()
			return nil, failure.E(op, failure.Transient, err)
		}
		jobs = append(jobs, j)
	}
	bw.End()
	if err := results(op, jobs); err != nil {
		return nil, err
	}
	return out, nil
}
