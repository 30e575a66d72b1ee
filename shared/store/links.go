package store

import (
	"context"
	"errors"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"

	"github.com/crmsync/crmsync/shared/failure"
)

// Link pairs a Google record with a CRM record for one user's sync, with
// each side's version at the last sync and the content both had then.
type Link struct {
	Google        string            `firestore:"google"` // resource name or event id
	CRM           string            `firestore:"crm"`
	GoogleVersion string            `firestore:"googleVersion"`
	CRMVersion    string            `firestore:"crmVersion"`
	Base          map[string]string `firestore:"base"`
	// Left, when set, says the pair is not syncing. "google" or "crm": that
	// side left its synced scope (a label or set taken away), both records
	// stay, and when that side comes back into the scope the pair syncs
	// again instead of being copied anew. "alone": the CRM side is gone and
	// the Google record was kept; the same person arriving again from the
	// CRM links to it instead of a second copy.
	Left      string    `firestore:"left,omitempty"`
	UpdatedAt time.Time `firestore:"updatedAt"`
}

// The sides a paused link names in Left.
const (
	LeftGoogle = "google"
	LeftCRM    = "crm"
	LeftAlone  = "alone"
)

// Links is the repository of a sync's link table, per user and kind
// ("contacts", "calendar"), at users/{user}/links-{kind}/{google id}.
type Links struct {
	s    *Store
	kind string
}

// Links returns the link table of kind.
func (s *Store) Links(kind string) *Links { return &Links{s: s, kind: kind} }

func (r *Links) col(userID string) (*firestore.CollectionRef, error) {
	uid, err := UserID(userID)
	if err != nil {
		return nil, err
	}
	return r.s.fs.Collection("users").Doc(uid).Collection("links-" + r.kind), nil
}

// List returns every link of the user.
func (r *Links) List(ctx context.Context, userID string) ([]Link, error) {
	const op = "store: links list"
	col, err := r.col(userID)
	if err != nil {
		return nil, err
	}
	it := col.Documents(ctx)
	defer it.Stop()
	var out []Link
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, classify(op, err)
		}
		var l Link
		if err := snap.DataTo(&l); err != nil {
			return nil, failure.E(op, failure.Permanent, err)
		}
		out = append(out, l)
	}
}

// Apply stores puts and removes drops, in batches of 400 writes.
func (r *Links) Apply(ctx context.Context, userID string, puts, drops []Link) error {
	const op = "store: links apply"
	col, err := r.col(userID)
	if err != nil {
		return err
	}
	now := r.s.now()
	type write struct {
		l   Link
		put bool
	}
	// One write per document: a put replaces a drop of the same link, and
	// of two puts the later wins (a batch may not write a document twice).
	var ws []write
	at := map[string]int{}
	add := func(w write) {
		if i, ok := at[w.l.Google]; ok {
			ws[i] = w
			return
		}
		at[w.l.Google] = len(ws)
		ws = append(ws, w)
	}
	for _, l := range drops {
		add(write{l, false})
	}
	for _, l := range puts {
		add(write{l, true})
	}
	for start := 0; start < len(ws); start += 400 {
		bw := r.s.fs.BulkWriter(ctx)
		var jobs []*firestore.BulkWriterJob
		for _, w := range ws[start:min(start+400, len(ws))] {
			id, err := docID(w.l.Google)
			if err != nil {
				bw.End()
				return failure.E(op, failure.Invalid, err)
			}
			var job *firestore.BulkWriterJob
			if w.put {
				w.l.UpdatedAt = now
				job, err = bw.Set(col.Doc(id), w.l)
			} else {
				job, err = bw.Delete(col.Doc(id))
			}
			if err != nil {
				bw.End()
				return classify(op, err)
			}
			jobs = append(jobs, job)
		}
		bw.End()
		for _, j := range jobs {
			if _, err := j.Results(); err != nil && !isNotFound(err) {
				return classify(op, err)
			}
		}
	}
	return nil
}
