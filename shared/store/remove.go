package store

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"slices"
	"strings"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"

	"github.com/crmsync/crmsync/shared/failure"
)

// Removed counts the documents Remove deleted, by kind.
type Removed map[string]int

// userDocs lists everything the product keeps about a user, by kind: the
// user document ("users") and its subcollections (cursors, leases, link
// tables), the user's ledger entries (mail and automatic mail sync),
// previews and queued system e-mail.
func (r *Users) userDocs(ctx context.Context, op, email string) (map[string][]*firestore.DocumentSnapshot, error) {
	id, err := UserID(email)
	if err != nil {
		return nil, err
	}
	fs := r.s.fs
	out := map[string][]*firestore.DocumentSnapshot{}
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
			out[kind] = append(out[kind], snap)
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
		out["users"] = append(out["users"], snap)
	} else if err != nil && !isNotFound(err) {
		return nil, classify(op, err)
	}
	return out, nil
}

// Remove deletes everything the product keeps about a user (userDocs).
// Nothing of the CRM or of Google is touched. It returns what it deleted;
// removing a user who is gone deletes nothing.
func (r *Users) Remove(ctx context.Context, email string) (Removed, error) {
	const op = "store: user remove"
	docs, err := r.userDocs(ctx, op, email)
	if err != nil {
		return nil, err
	}
	out := Removed{}
	var refs []*firestore.DocumentRef
	for kind, snaps := range docs {
		for _, snap := range snaps {
			refs = append(refs, snap.Ref)
			out[kind]++
		}
	}
	if len(refs) == 0 {
		return out, nil
	}
	return out, r.s.deleteAll(ctx, op, refs)
}

// deleteAll deletes refs with a BulkWriter.
func (s *Store) deleteAll(ctx context.Context, op string, refs []*firestore.DocumentRef) error {
	bw := s.fs.BulkWriter(ctx)
	var jobs []*firestore.BulkWriterJob
	for _, ref := range refs {
		j, err := bw.Delete(ref)
		if err != nil {
			bw.End()
			return failure.E(op, failure.Transient, err)
		}
		jobs = append(jobs, j)
	}
	bw.End()
	return results(op, jobs)
}

// ExportedDoc is one line of a firm's export: a document's path and its
// fields.
type ExportedDoc struct {
	Path string         `json:"path"`
	Data map[string]any `json:"data"`
}

// ExportUser writes everything the product keeps about a user (userDocs)
// to w as JSON lines, one document a line, and returns what it wrote by
// kind. The sealed refresh token is left out: an export carries no
// credential.
func (r *Users) ExportUser(ctx context.Context, email string, w io.Writer) (Removed, error) {
	const op = "store: user export"
	docs, err := r.userDocs(ctx, op, email)
	if err != nil {
		return nil, err
	}
	out := Removed{}
	enc := json.NewEncoder(w)
	for _, kind := range slices.Sorted(maps.Keys(docs)) {
		for _, snap := range docs[kind] {
			data := snap.Data()
			if g, ok := data["grant"].(map[string]any); ok {
				delete(g, "sealedRefreshToken")
			}
			if err := enc.Encode(ExportedDoc{Path: relativePath(snap.Ref), Data: data}); err != nil {
				return out, failure.E(op, failure.Permanent, err)
			}
			out[kind]++
		}
	}
	return out, nil
}

// Export writes the firm's own document as a JSON line.
func (r *Tenants) Export(ctx context.Context, id string, w io.Writer) error {
	const op = "store: tenant export"
	snap, err := r.col().Doc(id).Get(ctx)
	if err != nil {
		return classify(op, err)
	}
	if err := json.NewEncoder(w).Encode(ExportedDoc{Path: relativePath(snap.Ref), Data: snap.Data()}); err != nil {
		return failure.E(op, failure.Permanent, err)
	}
	return nil
}

// Delete deletes the firm's own document (its users are removed first,
// one by one).
func (r *Tenants) Delete(ctx context.Context, id string) error {
	_, err := r.col().Doc(id).Delete(ctx)
	return classify("store: tenant delete", err)
}

// relativePath is a document's path inside the database
// ("users/ann@firm.test/cursors/mail").
func relativePath(ref *firestore.DocumentRef) string {
	_, p, _ := strings.Cut(ref.Path, "/documents/")
	return p
}
