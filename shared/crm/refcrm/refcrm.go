// Package refcrm is the reference CRM: a small, real CRM store on
// Firestore implementing the crm port, served over HTTP by Handler as the
// documented CRM REST API (docs/crm-api.md). It is the sandbox's CRM and a
// usable CRM for firms without one.
//
// Its data lives under one Firestore document, refcrm/{instance}, apart
// from the product's own state. Contacts are found by address through an
// address index kept in step inside each contact write (one document per
// address naming its contacts: a lookup reads that document and the
// contacts, never scans). A write records its change as a pending entry
// (one document per record version, stamped with the commit time) and
// touches nothing shared, so writes to different records never contend.
// A feed reader first numbers the pending entries, oldest first, from a
// per-collection counter in one short transaction; the feed is read in
// that order, so a cursor never skips a change that commits later
// (documented in docs/crm-api.md).
// Attachment bytes live in chunk documents written before the note that
// references them, so a failed post leaves nothing visible.
package refcrm

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/microcosm-cc/bluemonday"
	"google.golang.org/api/iterator"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/failure"
)

// DefaultMaxNoteBytes bounds a note's text, HTML and attachments together.
const DefaultMaxNoteBytes = 25 << 20

// chunkSize is the most attachment bytes one chunk document holds
// (Firestore documents hold at most 1 MiB).
const chunkSize = 512 << 10

// Store is the reference CRM on Firestore. It is safe for concurrent use.
type Store struct {
	fs    *firestore.Client
	root  *firestore.DocumentRef
	clock clock.Clock
	html  *bluemonday.Policy
	// MaxNoteBytes bounds a posted note (default DefaultMaxNoteBytes).
	MaxNoteBytes int64
	// sequencers lets one reader per feed number pending entries at a time.
	sequencers map[crm.Collection]*sync.Mutex
}

var _ crm.CRM = (*Store)(nil)

// New returns the CRM named instance in fs. clk nil means the real clock.
func New(fs *firestore.Client, instance string, clk clock.Clock) *Store {
	if clk == nil {
		clk = clock.Real{}
	}
	return &Store{fs: fs, root: fs.Collection("refcrm").Doc(instance), clock: clk, html: bluemonday.UGCPolicy(), MaxNoteBytes: DefaultMaxNoteBytes,
		sequencers: map[crm.Collection]*sync.Mutex{crm.ContactsFeed: {}, crm.ActivitiesFeed: {}}}
}

func (s *Store) col(name string) *firestore.CollectionRef { return s.root.Collection(name) }

func newID() string {
	b := make([]byte, 10)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// keyID derives a document id from an idempotency key.
func keyID(kind, key string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + key))
	return hex.EncodeToString(sum[:16])
}

func notFound(op, what, id string) error {
	return failure.Errorf(op, failure.NotFound, "%s %q not found", what, id)
}

func stale(op string) error { return failure.E(op, failure.Conflict, crm.ErrStaleVersion) }

// read loads a document into v, mapping a missing one to NotFound.
func read(ctx context.Context, tx *firestore.Transaction, ref *firestore.DocumentRef, v any) error {
	var snap *firestore.DocumentSnapshot
	var err error
	if tx != nil {
		snap, err = tx.Get(ref)
	} else {
		snap, err = ref.Get(ctx)
	}
	if err != nil {
		return err
	}
	return snap.DataTo(v)
}

func isNotFound(err error) bool { return failure.KindOf(failure.FromGRPC("", err)) == failure.NotFound }

// all runs q and decodes every document with decode.
func all[T any](ctx context.Context, q firestore.Query) ([]T, error) {
	it := q.Documents(ctx)
	defer it.Stop()
	var out []T
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		var v T
		if err := snap.DataTo(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

// ---- users ----

type userDoc struct {
	crm.User
	EmailKey string
}

// CreateUser adds a CRM user (seeding and administration; not part of the
// port). An address already in use is a Conflict.
func (s *Store) CreateUser(ctx context.Context, u crm.User) (crm.User, error) {
	const op = "refcrm: create user"
	email, err := crm.NormalizeEmail(op, "email", u.Email)
	if err != nil {
		return crm.User{}, err
	}
	u.Email = email
	if u.ID == "" {
		u.ID = newID()
	}
	for i, d := range u.Domains {
		u.Domains[i] = strings.ToLower(strings.TrimSpace(d))
	}
	err = s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		emailRef := s.col("userEmails").Doc(keyID("email", strings.ToLower(email)))
		if err := tx.Create(emailRef, map[string]any{"ID": u.ID}); err != nil {
			return err
		}
		return tx.Create(s.col("users").Doc(u.ID), userDoc{User: u, EmailKey: strings.ToLower(email)})
	})
	if status := failure.KindOf(failure.FromGRPC(op, err)); status == failure.Conflict {
		return crm.User{}, failure.Errorf(op, failure.Conflict, "a user with address %s or id %s exists", email, u.ID)
	}
	return u, failure.FromGRPC(op, err)
}

// SetIntegration grants or withdraws a user's right to use the integration.
func (s *Store) SetIntegration(ctx context.Context, id string, enabled bool) (crm.User, error) {
	const op = "refcrm: set integration"
	var u userDoc
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if err := read(ctx, tx, s.col("users").Doc(id), &u); err != nil {
			return err
		}
		u.IntegrationEnabled = enabled
		return tx.Set(s.col("users").Doc(id), u)
	})
	if isNotFound(err) {
		return crm.User{}, notFound(op, "user", id)
	}
	return u.User, failure.FromGRPC(op, err)
}

func (s *Store) Users(ctx context.Context) ([]crm.User, error) {
	docs, err := all[userDoc](ctx, s.col("users").OrderBy("EmailKey", firestore.Asc))
	out := make([]crm.User, len(docs))
	for i, d := range docs {
		out[i] = d.User
	}
	return out, failure.FromGRPC("refcrm: users", err)
}

func (s *Store) User(ctx context.Context, id string) (crm.User, error) {
	var u userDoc
	if id == "" {
		return crm.User{}, notFound("refcrm: user", "user", id)
	}
	err := read(ctx, nil, s.col("users").Doc(id), &u)
	if isNotFound(err) {
		return crm.User{}, notFound("refcrm: user", "user", id)
	}
	return u.User, failure.FromGRPC("refcrm: user", err)
}

func (s *Store) UserByEmail(ctx context.Context, email string) (crm.User, error) {
	const op = "refcrm: user by email"
	docs, err := all[userDoc](ctx, s.col("users").Where("EmailKey", "==", strings.ToLower(strings.TrimSpace(email))).Limit(1))
	if err != nil {
		return crm.User{}, failure.FromGRPC(op, err)
	}
	if len(docs) == 0 {
		return crm.User{}, notFound(op, "user with address", email)
	}
	return docs[0].User, nil
}

// viewer is who reads: nil is the system, which sees everything.
type viewer struct{ offices []string }

func (s *Store) viewer(ctx context.Context, op, asUser string) (*viewer, error) {
	if asUser == "" {
		return nil, nil
	}
	u, err := s.User(ctx, asUser)
	if failure.Is(err, failure.NotFound) {
		return nil, failure.Errorf(op, failure.Forbidden, "unknown CRM user %q", asUser)
	}
	if err != nil {
		return nil, err
	}
	return &viewer{offices: u.Offices}, nil
}

// sees applies office security.
func (v *viewer) sees(c crm.Contact) bool {
	if v == nil || len(c.Offices) == 0 {
		return true
	}
	for _, o := range c.Offices {
		if slices.Contains(v.offices, o) {
			return true
		}
	}
	return false
}

// ---- contacts ----

// The address index: one document per lower-cased address, listing the
// contacts that have it, kept in step inside every contact write. A lookup
// is one document read plus the contacts it names, however many contacts
// the CRM holds.
type addressEntry struct {
	Address string
	IDs     []string
}

func (s *Store) addressRef(addr string) *firestore.DocumentRef {
	return s.col("addressIndex").Doc(keyID("address", strings.ToLower(addr)))
}

// reindex reads, inside tx, the index entries of the addresses a contact
// gains or loses and returns the writes that update them.
func (s *Store) reindex(tx *firestore.Transaction, id string, before, after []string) ([]func(*firestore.Transaction) error, error) {
	lower := func(es []string) map[string]bool {
		m := map[string]bool{}
		for _, e := range es {
			m[strings.ToLower(e)] = true
		}
		return m
	}
	was, is := lower(before), lower(after)
	var writes []func(*firestore.Transaction) error
	both := maps.Clone(was)
	maps.Copy(both, is)
	for addr := range both {
		if was[addr] == is[addr] {
			continue
		}
		ref := s.addressRef(addr)
		entry := addressEntry{Address: addr}
		snap, err := tx.Get(ref)
		if err != nil && !isNotFound(err) {
			return nil, err
		}
		if err == nil {
			if err := snap.DataTo(&entry); err != nil {
				return nil, err
			}
		}
		entry.IDs = slices.DeleteFunc(entry.IDs, func(x string) bool { return x == id })
		if is[addr] {
			entry.IDs = append(entry.IDs, id)
		}
		writes = append(writes, func(tx *firestore.Transaction) error {
			if len(entry.IDs) == 0 {
				return tx.Delete(ref)
			}
			return tx.Set(ref, entry)
		})
	}
	return writes, nil
}

type contactDoc struct {
	crm.Contact
}

func toDoc(c crm.Contact) contactDoc { return contactDoc{Contact: c} }

func (s *Store) FindContacts(ctx context.Context, asUser, email string) ([]crm.Contact, error) {
	const op = "refcrm: find contacts"
	addr, err := crm.NormalizeEmail(op, "email", email)
	if err != nil {
		return nil, err
	}
	v, err := s.viewer(ctx, op, asUser)
	if err != nil {
		return nil, err
	}
	var entry addressEntry
	err = read(ctx, nil, s.addressRef(addr), &entry)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, failure.FromGRPC(op, err)
	}
	refs := make([]*firestore.DocumentRef, len(entry.IDs))
	for i, id := range entry.IDs {
		refs[i] = s.col("contacts").Doc(id)
	}
	snaps, err := s.fs.GetAll(ctx, refs)
	if err != nil {
		return nil, failure.FromGRPC(op, err)
	}
	var out []crm.Contact
	for _, snap := range snaps {
		if !snap.Exists() {
			continue
		}
		var d contactDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, failure.FromGRPC(op, err)
		}
		if !d.Deleted && v.sees(d.Contact) {
			out = append(out, d.Contact)
		}
	}
	slices.SortFunc(out, func(a, b crm.Contact) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (s *Store) Contact(ctx context.Context, asUser, id string) (crm.Contact, error) {
	const op = "refcrm: contact"
	v, err := s.viewer(ctx, op, asUser)
	if err != nil {
		return crm.Contact{}, err
	}
	var d contactDoc
	err = read(ctx, nil, s.col("contacts").Doc(id), &d)
	if isNotFound(err) || (err == nil && !v.sees(d.Contact)) {
		return crm.Contact{}, notFound(op, "contact", id)
	}
	return d.Contact, failure.FromGRPC(op, err)
}

func (s *Store) ListContacts(ctx context.Context, asUser string, q crm.ContactQuery) ([]crm.Contact, error) {
	const op = "refcrm: list contacts"
	v, err := s.viewer(ctx, op, asUser)
	if err != nil {
		return nil, err
	}
	query := s.col("contacts").Where("Deleted", "==", false)
	switch {
	case q.SetID != "" && q.ClientID != "":
		return nil, failure.Errorf(op, failure.Invalid, "set and clientId: give one of them")
	case q.SetID != "":
		query = query.Where("Sets", "array-contains", q.SetID)
	case q.ClientID != "":
		query = query.Where("ClientIDs", "array-contains", q.ClientID)
	}
	docs, err := all[contactDoc](ctx, query)
	if err != nil {
		return nil, failure.FromGRPC(op, err)
	}
	var out []crm.Contact
	for _, d := range docs {
		if v.sees(d.Contact) && (len(q.Types) == 0 || slices.Contains(q.Types, d.Type)) {
			out = append(out, d.Contact)
		}
	}
	slices.SortFunc(out, func(a, b crm.Contact) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// changeDoc is a feed entry. A write creates it with Seq 0 (pending) and
// Stamp the commit time; sequence assigns Seq when a reader next reads the
// feed. Its id is the collection, record and version, so entries of one
// record sort by version when their stamps tie.
type changeDoc struct {
	Collection string
	Seq        int64
	Stamp      time.Time `firestore:",serverTimestamp"`
	// Sets are a contact's sets before and after the change.
	Sets []string
	crm.Change
}

// changeRef names the feed entry of one record version.
func (s *Store) changeRef(coll crm.Collection, ch crm.Change) *firestore.DocumentRef {
	return s.col("changes").Doc(fmt.Sprintf("%s-%s-%019d", coll, ch.ID, ch.Version))
}

// sequenceBatch is the most pending entries one sequencing transaction
// numbers (Firestore commits at most 500 writes).
const sequenceBatch = 400

// sequence numbers coll's pending feed entries, oldest stamp first, from
// the collection's counter. It finds them with a plain query and numbers
// them in a transaction that reads only the counter and those entries, so
// it never locks a range that writers insert into; an entry another reader
// numbered meanwhile is skipped. Entries that commit while it runs stay
// pending for the next reader and get higher numbers, so a cursor taken
// from a numbered page never passes an entry that is still unnumbered.
// Readers in one process take turns per collection, so they do not queue
// on the counter behind each other's identical work.
func (s *Store) sequence(ctx context.Context, coll crm.Collection) error {
	pending := s.col("changes").Where("Collection", "==", string(coll)).Where("Seq", "==", 0).
		OrderBy("Stamp", firestore.Asc).OrderBy(firestore.DocumentID, firestore.Asc).Limit(sequenceBatch)
	if probe, err := pending.Select().Limit(1).Documents(ctx).GetAll(); err != nil || len(probe) == 0 {
		return err // nothing pending: readers of a quiet feed never wait for each other
	}
	mu := s.sequencers[coll]
	mu.Lock()
	defer mu.Unlock()
	for {
		batch, err := pending.Select().Documents(ctx).GetAll()
		if err != nil || len(batch) == 0 {
			return err
		}
		refs := make([]*firestore.DocumentRef, len(batch))
		for i, d := range batch {
			refs[i] = d.Ref
		}
		err = s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
			ctr := s.col("counters").Doc(string(coll))
			snaps, err := tx.GetAll(append([]*firestore.DocumentRef{ctr}, refs...))
			if err != nil {
				return err
			}
			var seq int64
			if snaps[0].Exists() {
				if v, err := snaps[0].DataAt("Seq"); err == nil {
					seq, _ = v.(int64)
				}
			}
			first := seq
			for _, snap := range snaps[1:] {
				if v, err := snap.DataAt("Seq"); err != nil || v != int64(0) {
					continue // numbered by another reader
				}
				seq++
				if err := tx.Update(snap.Ref, []firestore.Update{{Path: "Seq", Value: seq}}); err != nil {
					return err
				}
			}
			if seq == first {
				return nil
			}
			return tx.Set(ctr, map[string]any{"Seq": seq})
		})
		if err != nil || len(batch) < sequenceBatch {
			return err
		}
	}
}

// feedEdit is what a feed write stores: the record, its change, and other
// writes that go with it (index entries).
type feedEdit struct {
	ref    *firestore.DocumentRef
	data   any
	change crm.Change
	sets   []string // a contact's sets before and after
	also   []func(*firestore.Transaction) error
}

// feedWrite runs one write of a record of a change-feed collection in a
// transaction. A create (create true) with an idempotency key already used
// calls replay with the id the key made and writes nothing. Otherwise body
// reads what it needs and returns the document to store and the change it
// makes; feedWrite stores both, the change as a pending feed entry.
func (s *Store) feedWrite(ctx context.Context, w crm.Write, coll crm.Collection, create bool,
	replay func(tx *firestore.Transaction, id string) error,
	body func(tx *firestore.Transaction) (feedEdit, error)) error {
	return s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		var keyRef *firestore.DocumentRef
		if create && w.IdempotencyKey != "" {
			keyRef = s.col("keys").Doc(keyID(string(coll), w.IdempotencyKey))
			var k struct{ ID string }
			err := read(ctx, tx, keyRef, &k)
			if err == nil {
				return replay(tx, k.ID)
			}
			if !isNotFound(err) {
				return err
			}
		}
		e, err := body(tx)
		if err != nil {
			return err
		}
		if keyRef != nil {
			if err := tx.Create(keyRef, map[string]any{"ID": e.change.ID}); err != nil {
				return err
			}
		}
		if err := tx.Set(e.ref, e.data); err != nil {
			return err
		}
		for _, write := range e.also {
			if err := write(tx); err != nil {
				return err
			}
		}
		e.change.Origin = w.Origin
		return tx.Create(s.changeRef(coll, e.change), changeDoc{Collection: string(coll), Sets: e.sets, Change: e.change})
	})
}

// writeContact writes one contact: fn gets the current contact (nil for a
// new one) and returns the next; id, version and update time are set here.
func (s *Store) writeContact(ctx context.Context, op string, w crm.Write, id string, fn func(cur *crm.Contact) (crm.Contact, error)) (crm.Contact, error) {
	v, err := s.viewer(ctx, op, w.AsUser)
	if err != nil {
		return crm.Contact{}, err
	}
	var out crm.Contact
	load := func(tx *firestore.Transaction, id string) (*crm.Contact, error) {
		var d contactDoc
		err := read(ctx, tx, s.col("contacts").Doc(id), &d)
		if isNotFound(err) || (err == nil && !v.sees(d.Contact)) {
			return nil, notFound(op, "contact", id)
		}
		return &d.Contact, err
	}
	err = s.feedWrite(ctx, w, crm.ContactsFeed, id == "",
		func(tx *firestore.Transaction, id string) error {
			c, err := load(tx, id)
			if err == nil {
				out = *c
			}
			return err
		},
		func(tx *firestore.Transaction) (feedEdit, error) {
			var cur *crm.Contact
			if id != "" {
				c, err := load(tx, id)
				if err != nil {
					return feedEdit{}, err
				}
				cur = c
			}
			next, err := fn(cur)
			if err != nil {
				return feedEdit{}, err
			}
			next.ID, next.Version = newID(), 1
			if cur != nil {
				next.ID, next.Version = cur.ID, cur.Version+1
			}
			next.Updated = s.clock.Now().UTC()
			out = next
			var before, sets []string
			if cur != nil {
				before, sets = cur.Emails, slices.Clone(cur.Sets)
			}
			for _, id := range next.Sets {
				if !slices.Contains(sets, id) {
					sets = append(sets, id)
				}
			}
			index, err := s.reindex(tx, next.ID, before, next.Emails)
			if err != nil {
				return feedEdit{}, err
			}
			return feedEdit{ref: s.col("contacts").Doc(next.ID), data: toDoc(next), also: index, sets: sets,
				change: crm.Change{ID: next.ID, Version: next.Version, Deleted: next.Deleted, At: next.Updated}}, nil
		})
	return out, failure.FromGRPC(op, err)
}

func (s *Store) CreateContact(ctx context.Context, w crm.Write, c crm.Contact) (crm.Contact, error) {
	const op = "refcrm: create contact"
	if err := crm.CheckContact(op, &c); err != nil {
		return crm.Contact{}, err
	}
	if err := s.checkRefs(ctx, op, c); err != nil {
		return crm.Contact{}, err
	}
	c.Deleted = false
	return s.writeContact(ctx, op, w, "", func(*crm.Contact) (crm.Contact, error) { return c, nil })
}

// checkRefs checks that the contact's sets and clients exist.
func (s *Store) checkRefs(ctx context.Context, op string, c crm.Contact) error {
	for i, id := range c.Sets {
		if _, err := s.col("sets").Doc(id).Get(ctx); err != nil {
			if isNotFound(err) {
				return failure.Errorf(op, failure.Invalid, "sets[%d]: no set %q", i, id)
			}
			return failure.FromGRPC(op, err)
		}
	}
	for i, id := range c.ClientIDs {
		if _, err := s.col("clients").Doc(id).Get(ctx); err != nil {
			if isNotFound(err) {
				return failure.Errorf(op, failure.Invalid, "clientIds[%d]: no client %q", i, id)
			}
			return failure.FromGRPC(op, err)
		}
	}
	return nil
}

func (s *Store) UpdateContact(ctx context.Context, w crm.Write, c crm.Contact) (crm.Contact, error) {
	const op = "refcrm: update contact"
	if err := crm.CheckContact(op, &c); err != nil {
		return crm.Contact{}, err
	}
	if err := s.checkRefs(ctx, op, c); err != nil {
		return crm.Contact{}, err
	}
	return s.writeContact(ctx, op, w, c.ID, func(cur *crm.Contact) (crm.Contact, error) {
		if cur.Version != c.Version {
			return crm.Contact{}, stale(op)
		}
		if cur.Deleted {
			return crm.Contact{}, failure.Errorf(op, failure.Conflict, "contact %s is in Deleted Records; restore it first", cur.ID)
		}
		c.Deleted = false
		return c, nil
	})
}

func (s *Store) DeleteContact(ctx context.Context, w crm.Write, id string, version int64) (crm.Contact, error) {
	const op = "refcrm: delete contact"
	return s.writeContact(ctx, op, w, id, func(cur *crm.Contact) (crm.Contact, error) {
		if cur.Version != version {
			return crm.Contact{}, stale(op)
		}
		next := *cur
		next.Deleted = true
		return next, nil
	})
}

func (s *Store) RestoreContact(ctx context.Context, w crm.Write, id string) (crm.Contact, error) {
	const op = "refcrm: restore contact"
	return s.writeContact(ctx, op, w, id, func(cur *crm.Contact) (crm.Contact, error) {
		if !cur.Deleted {
			return crm.Contact{}, failure.Errorf(op, failure.Conflict, "contact %s is not in Deleted Records", id)
		}
		next := *cur
		next.Deleted = false
		return next, nil
	})
}

// ---- sets ----

func (s *Store) Sets(ctx context.Context) ([]crm.Set, error) {
	sets, err := all[crm.Set](ctx, s.col("sets").OrderBy("Name", firestore.Asc))
	return sets, failure.FromGRPC("refcrm: sets", err)
}

func (s *Store) CreateSet(ctx context.Context, w crm.Write, name string) (crm.Set, error) {
	const op = "refcrm: create set"
	name = strings.TrimSpace(name)
	if name == "" {
		return crm.Set{}, failure.Errorf(op, failure.Invalid, "name: required")
	}
	set := crm.Set{ID: newID(), Name: name}
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if err := tx.Create(s.col("setNames").Doc(keyID("set", strings.ToLower(name))), map[string]any{"ID": set.ID}); err != nil {
			return err
		}
		return tx.Create(s.col("sets").Doc(set.ID), set)
	})
	if failure.KindOf(failure.FromGRPC(op, err)) == failure.Conflict {
		return crm.Set{}, failure.Errorf(op, failure.Conflict, "a set named %q exists", name)
	}
	return set, failure.FromGRPC(op, err)
}

func (s *Store) setMembership(ctx context.Context, op string, w crm.Write, setID, contactID string, in bool) (crm.Contact, error) {
	if _, err := s.col("sets").Doc(setID).Get(ctx); err != nil {
		if isNotFound(err) {
			return crm.Contact{}, notFound(op, "set", setID)
		}
		return crm.Contact{}, failure.FromGRPC(op, err)
	}
	return s.writeContact(ctx, op, w, contactID, func(cur *crm.Contact) (crm.Contact, error) {
		next := *cur
		next.Sets = slices.DeleteFunc(slices.Clone(cur.Sets), func(id string) bool { return id == setID })
		if in {
			next.Sets = append(next.Sets, setID)
		}
		return next, nil
	})
}

func (s *Store) AddToSet(ctx context.Context, w crm.Write, setID, contactID string) (crm.Contact, error) {
	return s.setMembership(ctx, "refcrm: add to set", w, setID, contactID, true)
}

func (s *Store) RemoveFromSet(ctx context.Context, w crm.Write, setID, contactID string) (crm.Contact, error) {
	return s.setMembership(ctx, "refcrm: remove from set", w, setID, contactID, false)
}

// ---- change feed ----

// cursor encodes a feed position.
func cursor(seq int64) string { return "s" + strconv.FormatInt(seq, 10) }

// parseCursor decodes a cursor; "" is the start of the feed.
func parseCursor(op, c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(c, "s"), 10, 64)
	if err != nil || !strings.HasPrefix(c, "s") || n < 0 {
		return 0, failure.Errorf(op, failure.Invalid, "cursor: %q is not a cursor this feed issued", c)
	}
	return n, nil
}

func (s *Store) Changes(ctx context.Context, coll crm.Collection, scope crm.FeedScope, cur string, limit int) (crm.ChangePage, error) {
	const op = "refcrm: changes"
	switch {
	case coll != crm.ContactsFeed && coll != crm.ActivitiesFeed:
		return crm.ChangePage{}, failure.Errorf(op, failure.Invalid, "collection: %q is not contacts or activities", coll)
	case scope.Owner != "" && coll != crm.ActivitiesFeed:
		return crm.ChangePage{}, failure.Errorf(op, failure.Invalid, "owner: only the activities feed is by owner")
	case scope.Set != "" && coll != crm.ContactsFeed:
		return crm.ChangePage{}, failure.Errorf(op, failure.Invalid, "set: only the contacts feed is by set")
	}
	seq, err := parseCursor(op, cur)
	if err != nil {
		return crm.ChangePage{}, err
	}
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	if err := s.sequence(ctx, coll); err != nil {
		return crm.ChangePage{}, failure.FromGRPC(op, err)
	}
	q := s.col("changes").Where("Collection", "==", string(coll))
	if scope.Owner != "" {
		q = q.Where("Owner", "==", scope.Owner)
	}
	if scope.Set != "" {
		q = q.Where("Sets", "array-contains", scope.Set)
	}
	docs, err := all[changeDoc](ctx, q.Where("Seq", ">", seq).OrderBy("Seq", firestore.Asc).Limit(limit+1))
	if err != nil {
		return crm.ChangePage{}, failure.FromGRPC(op, err)
	}
	page := crm.ChangePage{Cursor: cursor(seq), Changes: []crm.Change{}}
	if len(docs) > limit {
		page.More = true
		docs = docs[:limit]
	}
	for _, d := range docs {
		page.Changes = append(page.Changes, d.Change)
		page.Cursor = cursor(d.Seq)
	}
	return page, nil
}
