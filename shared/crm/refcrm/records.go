package refcrm

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/firestore"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/failure"
)

// ---- attachments ----

// storedAttachment is an attachment's metadata and how many chunk
// documents hold its bytes.
type storedAttachment struct {
	crm.Attachment
	Chunks int
}

type chunkDoc struct{ Data []byte }

// saveBlobs writes the attachments' bytes as chunk documents named after
// owner (a note or activity id) and returns their metadata. Nothing
// references the chunks until the caller commits its record, so a failure
// here leaves nothing visible; a retry with the same owner rewrites them.
func (s *Store) saveBlobs(ctx context.Context, owner string, atts []crm.Attachment) ([]storedAttachment, error) {
	out := make([]storedAttachment, len(atts))
	bw := s.fs.BulkWriter(ctx)
	var jobs []*firestore.BulkWriterJob
	for i, a := range atts {
		n := 0
		for off := 0; off < len(a.Data) || (off == 0 && n == 0); off += chunkSize {
			end := min(off+chunkSize, len(a.Data))
			job, err := bw.Set(s.col("blobs").Doc(fmt.Sprintf("%s-%d-%d", owner, i, n)), chunkDoc{Data: a.Data[off:end]})
			if err != nil {
				bw.End()
				return nil, err
			}
			jobs = append(jobs, job)
			n++
			if len(a.Data) == 0 {
				break
			}
		}
		meta := a
		meta.Data = nil
		out[i] = storedAttachment{Attachment: meta, Chunks: n}
	}
	bw.End()
	for _, j := range jobs {
		if _, err := j.Results(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) loadBlob(ctx context.Context, owner string, index int, a storedAttachment) (crm.Attachment, error) {
	out := a.Attachment
	for n := range a.Chunks {
		var c chunkDoc
		if err := read(ctx, nil, s.col("blobs").Doc(fmt.Sprintf("%s-%d-%d", owner, index, n)), &c); err != nil {
			return crm.Attachment{}, err
		}
		out.Data = append(out.Data, c.Data...)
	}
	return out, nil
}

func metaOnly(atts []storedAttachment) []crm.Attachment {
	out := make([]crm.Attachment, len(atts))
	for i, a := range atts {
		out[i] = a.Attachment
		out[i].Data = nil
	}
	return out
}

// ---- notes ----

type noteDoc struct {
	crm.Note
	Stored []storedAttachment
}

func (d noteDoc) note() crm.Note {
	n := d.Note
	n.Attachments = metaOnly(d.Stored)
	return n
}

// idFor is the id a create uses: derived from the idempotency key, so a
// retry addresses the same record (and chunks), or fresh.
func idFor(kind, key string) string {
	if key == "" {
		return newID()
	}
	return keyID(kind, key)[:20]
}

func (s *Store) PostNote(ctx context.Context, w crm.Write, n crm.Note) (crm.Note, error) {
	const op = "refcrm: post note"
	if _, err := s.Contact(ctx, w.AsUser, n.ContactID); err != nil {
		if failure.Is(err, failure.NotFound) {
			return crm.Note{}, failure.Errorf(op, failure.NotFound, "contactId: no contact %q this user may access", n.ContactID)
		}
		return crm.Note{}, err
	}
	if err := crm.CheckEmail(op, &n.Email, s.MaxNoteBytes); err != nil {
		return crm.Note{}, err
	}
	for i, id := range n.Records {
		var r crm.Record
		err := read(ctx, nil, s.col("records").Doc(id), &r)
		if isNotFound(err) || (err == nil && r.ContactID != n.ContactID) {
			return crm.Note{}, failure.Errorf(op, failure.Invalid, "records[%d]: %q is not a record of contact %s", i, id, n.ContactID)
		}
		if err != nil {
			return crm.Note{}, failure.FromGRPC(op, err)
		}
	}
	n.HTML = s.html.Sanitize(n.HTML)
	n.ID = idFor("note", w.IdempotencyKey)
	n.Author = w.AsUser
	n.Created = s.clock.Now().UTC()
	keyRef := s.col("keys").Doc(keyID("note", w.IdempotencyKey))
	if w.IdempotencyKey != "" {
		if first, ok, err := s.replayNote(ctx, nil, keyRef); err != nil || ok {
			return first, failure.FromGRPC(op, err)
		}
	}
	stored, err := s.saveBlobs(ctx, "note-"+n.ID, n.Attachments)
	if err != nil {
		return crm.Note{}, failure.FromGRPC(op, err)
	}
	doc := noteDoc{Note: n, Stored: stored}
	doc.Attachments = nil
	out := doc.note()
	err = s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if w.IdempotencyKey != "" {
			first, ok, err := s.replayNote(ctx, tx, keyRef)
			if err != nil || ok {
				out = first
				return err
			}
			if err := tx.Create(keyRef, map[string]any{"ID": n.ID, "ContactID": n.ContactID}); err != nil {
				return err
			}
		}
		return tx.Create(s.col("contacts").Doc(n.ContactID).Collection("notes").Doc(n.ID), doc)
	})
	return out, failure.FromGRPC(op, err)
}

// replayNote returns the note an idempotency key already made.
func (s *Store) replayNote(ctx context.Context, tx *firestore.Transaction, keyRef *firestore.DocumentRef) (crm.Note, bool, error) {
	var k struct{ ID, ContactID string }
	err := read(ctx, tx, keyRef, &k)
	if isNotFound(err) {
		return crm.Note{}, false, nil
	}
	if err != nil {
		return crm.Note{}, false, err
	}
	var d noteDoc
	if err := read(ctx, tx, s.col("contacts").Doc(k.ContactID).Collection("notes").Doc(k.ID), &d); err != nil {
		return crm.Note{}, false, err
	}
	return d.note(), true, nil
}

func (s *Store) Notes(ctx context.Context, asUser, contactID string) ([]crm.Note, error) {
	const op = "refcrm: notes"
	if _, err := s.Contact(ctx, asUser, contactID); err != nil {
		return nil, err
	}
	docs, err := all[noteDoc](ctx, s.col("contacts").Doc(contactID).Collection("notes").OrderBy("Created", firestore.Asc))
	out := make([]crm.Note, len(docs))
	for i, d := range docs {
		out[i] = d.note()
	}
	return out, failure.FromGRPC(op, err)
}

func (s *Store) Attachment(ctx context.Context, asUser, contactID, noteID string, index int) (crm.Attachment, error) {
	const op = "refcrm: attachment"
	if _, err := s.Contact(ctx, asUser, contactID); err != nil {
		return crm.Attachment{}, err
	}
	var d noteDoc
	err := read(ctx, nil, s.col("contacts").Doc(contactID).Collection("notes").Doc(noteID), &d)
	if isNotFound(err) {
		return crm.Attachment{}, notFound(op, "note", noteID)
	}
	if err != nil {
		return crm.Attachment{}, failure.FromGRPC(op, err)
	}
	if index < 0 || index >= len(d.Stored) {
		return crm.Attachment{}, failure.Errorf(op, failure.NotFound, "note %s has no attachment %d", noteID, index)
	}
	a, err := s.loadBlob(ctx, "note-"+noteID, index, d.Stored[index])
	return a, failure.FromGRPC(op, err)
}

// ---- linked records ----

func (s *Store) Records(ctx context.Context, asUser, contactID string) ([]crm.Record, error) {
	if _, err := s.Contact(ctx, asUser, contactID); err != nil {
		return nil, err
	}
	recs, err := all[crm.Record](ctx, s.col("records").Where("ContactID", "==", contactID))
	slices.SortFunc(recs, func(a, b crm.Record) int { return strings.Compare(a.ID, b.ID) })
	return recs, failure.FromGRPC("refcrm: records", err)
}

func (s *Store) CreateRecord(ctx context.Context, w crm.Write, r crm.Record) (crm.Record, error) {
	const op = "refcrm: create record"
	if r.Type != crm.RecordPolicy && r.Type != crm.RecordPendingCase {
		return crm.Record{}, failure.Errorf(op, failure.Invalid, "type: %q is not policy or pendingCase", r.Type)
	}
	if strings.TrimSpace(r.Title) == "" {
		return crm.Record{}, failure.Errorf(op, failure.Invalid, "title: required")
	}
	if _, err := s.Contact(ctx, w.AsUser, r.ContactID); err != nil {
		return crm.Record{}, err
	}
	r.ID = idFor("record", w.IdempotencyKey)
	_, err := s.col("records").Doc(r.ID).Set(ctx, r)
	return r, failure.FromGRPC(op, err)
}

// ---- clients and e-mail activities ----

func (s *Store) Client(ctx context.Context, id string) (crm.Client, error) {
	var c crm.Client
	err := read(ctx, nil, s.col("clients").Doc(id), &c)
	if isNotFound(err) || id == "" {
		return crm.Client{}, notFound("refcrm: client", "client", id)
	}
	return c, failure.FromGRPC("refcrm: client", err)
}

func (s *Store) ListClients(ctx context.Context) ([]crm.Client, error) {
	cs, err := all[crm.Client](ctx, s.col("clients").OrderBy("Name", firestore.Asc))
	return cs, failure.FromGRPC("refcrm: clients", err)
}

func (s *Store) CreateClient(ctx context.Context, w crm.Write, c crm.Client) (crm.Client, error) {
	const op = "refcrm: create client"
	if strings.TrimSpace(c.Name) == "" {
		return crm.Client{}, failure.Errorf(op, failure.Invalid, "name: required")
	}
	c.ID = idFor("client", w.IdempotencyKey)
	_, err := s.col("clients").Doc(c.ID).Set(ctx, c)
	return c, failure.FromGRPC(op, err)
}

type emailDoc struct {
	crm.EmailActivity
	Stored []storedAttachment
}

func (d emailDoc) activity() crm.EmailActivity {
	a := d.EmailActivity
	a.Attachments = metaOnly(d.Stored)
	return a
}

func (s *Store) CreateEmailActivity(ctx context.Context, w crm.Write, a crm.EmailActivity) (crm.EmailActivity, error) {
	const op = "refcrm: create email activity"
	if a.Owner == "" {
		return crm.EmailActivity{}, failure.Errorf(op, failure.Invalid, "owner: required")
	}
	if _, err := s.User(ctx, a.Owner); err != nil {
		return crm.EmailActivity{}, failure.Errorf(op, failure.Invalid, "owner: no CRM user %q", a.Owner)
	}
	for i, id := range append([]string{a.ClientID}, a.Candidates...) {
		if _, err := s.Client(ctx, id); err != nil {
			field := "clientId"
			if i > 0 {
				field = fmt.Sprintf("candidates[%d]", i-1)
			}
			return crm.EmailActivity{}, failure.Errorf(op, failure.Invalid, "%s: no client %q", field, id)
		}
	}
	if err := crm.CheckEmail(op, &a.Email, s.MaxNoteBytes); err != nil {
		return crm.EmailActivity{}, err
	}
	a.HTML = s.html.Sanitize(a.HTML)
	a.ID = idFor("email", w.IdempotencyKey)
	a.Version = 1
	a.Created = s.clock.Now().UTC()
	stored, err := s.saveBlobs(ctx, "email-"+a.ID, a.Attachments)
	if err != nil {
		return crm.EmailActivity{}, failure.FromGRPC(op, err)
	}
	doc := emailDoc{EmailActivity: a, Stored: stored}
	doc.Attachments = nil
	out := doc.activity()
	err = s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		ref := s.col("emails").Doc(a.ID)
		if w.IdempotencyKey != "" {
			var first emailDoc
			err := read(ctx, tx, ref, &first)
			if err == nil {
				out = first.activity()
				return nil
			}
			if !isNotFound(err) {
				return err
			}
		}
		return tx.Create(ref, doc)
	})
	return out, failure.FromGRPC(op, err)
}

func (s *Store) EmailActivity(ctx context.Context, id string) (crm.EmailActivity, error) {
	var d emailDoc
	err := read(ctx, nil, s.col("emails").Doc(id), &d)
	if isNotFound(err) {
		return crm.EmailActivity{}, notFound("refcrm: email activity", "e-mail activity", id)
	}
	return d.activity(), failure.FromGRPC("refcrm: email activity", err)
}

func (s *Store) EmailActivities(ctx context.Context, clientID, owner string, needsReview bool) ([]crm.EmailActivity, error) {
	q := s.col("emails").Query
	if clientID != "" {
		q = q.Where("ClientID", "==", clientID)
	}
	if owner != "" {
		q = q.Where("Owner", "==", owner)
	}
	if needsReview {
		q = q.Where("NeedsReview", "==", true)
	}
	docs, err := all[emailDoc](ctx, q)
	out := make([]crm.EmailActivity, len(docs))
	for i, d := range docs {
		out[i] = d.activity()
	}
	slices.SortFunc(out, func(a, b crm.EmailActivity) int { return a.Created.Compare(b.Created) })
	return out, failure.FromGRPC("refcrm: email activities", err)
}

func (s *Store) ResolveEmailActivity(ctx context.Context, w crm.Write, id, clientID string, version int64) (crm.EmailActivity, error) {
	const op = "refcrm: resolve email activity"
	if _, err := s.Client(ctx, clientID); err != nil {
		return crm.EmailActivity{}, failure.Errorf(op, failure.Invalid, "clientId: no client %q", clientID)
	}
	var out crm.EmailActivity
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		var d emailDoc
		ref := s.col("emails").Doc(id)
		if err := read(ctx, tx, ref, &d); err != nil {
			if isNotFound(err) {
				return notFound(op, "e-mail activity", id)
			}
			return err
		}
		if d.Version != version {
			return stale(op)
		}
		d.ClientID, d.NeedsReview = clientID, false
		d.Version++
		out = d.activity()
		return tx.Set(ref, d)
	})
	return out, failure.FromGRPC(op, err)
}

// ---- calendar activities ----

func (s *Store) Activity(ctx context.Context, id string) (crm.Activity, error) {
	var a crm.Activity
	err := read(ctx, nil, s.col("activities").Doc(id), &a)
	if isNotFound(err) || id == "" {
		return crm.Activity{}, notFound("refcrm: activity", "activity", id)
	}
	return a, failure.FromGRPC("refcrm: activity", err)
}

func (s *Store) ListActivities(ctx context.Context, owner string) ([]crm.Activity, error) {
	acts, err := all[crm.Activity](ctx, s.col("activities").Where("Owner", "==", owner).Where("Deleted", "==", false))
	slices.SortFunc(acts, func(a, b crm.Activity) int { return strings.Compare(a.ID, b.ID) })
	return acts, failure.FromGRPC("refcrm: activities", err)
}

// writeActivity writes one activity, as writeContact does contacts.
func (s *Store) writeActivity(ctx context.Context, op string, w crm.Write, id string, fn func(cur *crm.Activity) (crm.Activity, error)) (crm.Activity, error) {
	var out crm.Activity
	load := func(tx *firestore.Transaction, id string) (*crm.Activity, error) {
		var a crm.Activity
		err := read(ctx, tx, s.col("activities").Doc(id), &a)
		if isNotFound(err) {
			return nil, notFound(op, "activity", id)
		}
		return &a, err
	}
	err := s.feedWrite(ctx, w, crm.ActivitiesFeed, id == "",
		func(tx *firestore.Transaction, id string) error {
			a, err := load(tx, id)
			if err == nil {
				out = *a
			}
			return err
		},
		func(tx *firestore.Transaction) (feedEdit, error) {
			var cur *crm.Activity
			if id != "" {
				a, err := load(tx, id)
				if err != nil {
					return feedEdit{}, err
				}
				cur = a
			}
			next, err := fn(cur)
			if err != nil {
				return feedEdit{}, err
			}
			next.ID, next.Version = newID(), 1
			if cur != nil {
				next.ID, next.Version, next.Owner = cur.ID, cur.Version+1, cur.Owner
			}
			next.Updated = s.clock.Now().UTC()
			out = next
			return feedEdit{ref: s.col("activities").Doc(next.ID), data: next,
				change: crm.Change{ID: next.ID, Version: next.Version, Deleted: next.Deleted, Owner: next.Owner, At: next.Updated}}, nil
		})
	return out, failure.FromGRPC(op, err)
}

// checkActivityRefs checks the owner and the linked contacts exist.
func (s *Store) checkActivityRefs(ctx context.Context, op string, a crm.Activity) error {
	if _, err := s.User(ctx, a.Owner); err != nil {
		return failure.Errorf(op, failure.Invalid, "owner: no CRM user %q", a.Owner)
	}
	ids := a.AdditionalContacts
	if a.PrimaryContact != "" {
		ids = append([]string{a.PrimaryContact}, ids...)
	}
	for _, id := range ids {
		if _, err := s.Contact(ctx, "", id); err != nil {
			return failure.Errorf(op, failure.Invalid, "contacts: no contact %q", id)
		}
	}
	if a.SeriesID != "" {
		if _, err := s.Activity(ctx, a.SeriesID); err != nil {
			return failure.Errorf(op, failure.Invalid, "seriesId: no activity %q", a.SeriesID)
		}
	}
	return nil
}

func (s *Store) CreateActivity(ctx context.Context, w crm.Write, a crm.Activity) (crm.Activity, error) {
	const op = "refcrm: create activity"
	if err := crm.CheckActivity(op, &a); err != nil {
		return crm.Activity{}, err
	}
	if err := s.checkActivityRefs(ctx, op, a); err != nil {
		return crm.Activity{}, err
	}
	a.Deleted = false
	return s.writeActivity(ctx, op, w, "", func(*crm.Activity) (crm.Activity, error) { return a, nil })
}

func (s *Store) UpdateActivity(ctx context.Context, w crm.Write, a crm.Activity) (crm.Activity, error) {
	const op = "refcrm: update activity"
	if err := crm.CheckActivity(op, &a); err != nil {
		return crm.Activity{}, err
	}
	if err := s.checkActivityRefs(ctx, op, a); err != nil {
		return crm.Activity{}, err
	}
	return s.writeActivity(ctx, op, w, a.ID, func(cur *crm.Activity) (crm.Activity, error) {
		if cur.Version != a.Version {
			return crm.Activity{}, stale(op)
		}
		if cur.Deleted {
			return crm.Activity{}, failure.Errorf(op, failure.Conflict, "activity %s is deleted", cur.ID)
		}
		return a, nil
	})
}

func (s *Store) DeleteActivity(ctx context.Context, w crm.Write, id string, version int64) (crm.Activity, error) {
	const op = "refcrm: delete activity"
	return s.writeActivity(ctx, op, w, id, func(cur *crm.Activity) (crm.Activity, error) {
		if cur.Version != version {
			return crm.Activity{}, stale(op)
		}
		next := *cur
		next.Deleted = true
		return next, nil
	})
}
