package store

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"

	"github.com/crmsync/crmsync/shared/failure"
)

// LedgerState is where a side effect stands.
type LedgerState string

const (
	// Claimed: a worker is doing the effect until ClaimedUntil.
	Claimed LedgerState = "claimed"
	// Pending: tried and not done (the last try failed); may be claimed again.
	Pending LedgerState = "pending"
	// Done: the effect happened; Outcome says how it ended.
	Done LedgerState = "done"
)

// LedgerEntry records one keyed side effect, e.g. the posting of one Gmail
// message of one user.
type LedgerEntry struct {
	Scope        string            `firestore:"scope"`
	Key          string            `firestore:"key"`
	State        LedgerState       `firestore:"state"`
	Outcome      string            `firestore:"outcome,omitempty"`
	Detail       map[string]string `firestore:"detail,omitempty"`
	Attempts     int               `firestore:"attempts"`
	LastError    string            `firestore:"lastError,omitempty"`
	Holder       string            `firestore:"holder,omitempty"`
	ClaimedUntil time.Time         `firestore:"claimedUntil"`
	CreatedAt    time.Time         `firestore:"createdAt"`
	UpdatedAt    time.Time         `firestore:"updatedAt"`
	// ExpireAt is when the TTL policy may delete the entry.
	ExpireAt time.Time `firestore:"expireAt"`

	// written is when the claim that returned the entry was stored: its
	// Complete or Abandon then writes only if nothing wrote since, in one
	// call.
	written time.Time
}

// LedgerRetention is how long a ledger entry is kept after its last write.
const LedgerRetention = 180 * 24 * time.Hour

// Ledger records side effects by key so that a redelivered trigger or a
// crashed worker never does an effect twice. The protocol is:
//
//	e, err := ledger.Claim(ctx, scope, key, holder, ttl)
//	if e.State == store.Done { skip }   // somebody finished it
//	… do the effect (itself idempotent by key, for crashes after it) …
//	ledger.Complete(ctx, e, outcome, detail)   // or Abandon on failure
type Ledger struct{ s *Store }

func (l *Ledger) ref(scope, key string) (*firestore.DocumentRef, error) {
	id, err := docID(scope, key)
	if err != nil {
		return nil, failure.E("store: ledger", failure.Invalid, err)
	}
	return l.s.fs.Collection("ledger").Doc(id), nil
}

// Get returns the entry of scope and key; NotFound when there is none.
func (l *Ledger) Get(ctx context.Context, scope, key string) (LedgerEntry, error) {
	const op = "store: ledger get"
	ref, err := l.ref(scope, key)
	if err != nil {
		return LedgerEntry{}, err
	}
	snap, err := ref.Get(ctx)
	if err != nil {
		return LedgerEntry{}, classify(op, err)
	}
	var e LedgerEntry
	if err := snap.DataTo(&e); err != nil {
		return LedgerEntry{}, failure.E(op, failure.Permanent, err)
	}
	return e, nil
}

// Recent returns the entries of scope finished or tried last, newest
// first, at most n: what a user's recent messages came to, and why.
func (l *Ledger) Recent(ctx context.Context, scope string, n int) ([]LedgerEntry, error) {
	const op = "store: ledger recent"
	it := l.s.fs.Collection("ledger").Where("scope", "==", scope).OrderBy("updatedAt", firestore.Desc).Limit(n).Documents(ctx)
	defer it.Stop()
	var out []LedgerEntry
	for {
		snap, err := it.Next()
		if err == iterator.Done {
			return out, nil
		}
		if err != nil {
			return nil, classify(op, err)
		}
		var e LedgerEntry
		if err := snap.DataTo(&e); err != nil {
			return nil, failure.E(op, failure.Permanent, err)
		}
		out = append(out, e)
	}
}

// Claim takes the effect of scope and key for holder for ttl. It returns the
// entry: State Done means the effect already happened and the caller must
// not do it again; State Claimed means the caller holds it now (Attempts
// counts the claims). It fails with Conflict while another holder's claim
// is unexpired.
func (l *Ledger) Claim(ctx context.Context, scope, key, holder string, ttl time.Duration) (LedgerEntry, error) {
	const op = "store: ledger claim"
	if holder == "" || ttl <= 0 {
		return LedgerEntry{}, failure.Errorf(op, failure.Invalid, "holder %q, ttl %v", holder, ttl)
	}
	ref, err := l.ref(scope, key)
	if err != nil {
		return LedgerEntry{}, err
	}
	// The common case, an effect never tried: one create, which fails if
	// the entry exists (then the transaction below decides).
	now := l.s.now()
	first := LedgerEntry{Scope: scope, Key: key, CreatedAt: now, State: Claimed, Holder: holder, ClaimedUntil: now.Add(ttl), Attempts: 1,
		UpdatedAt: now, ExpireAt: now.Add(LedgerRetention)}
	wr, err := ref.Create(ctx, first)
	if err == nil {
		first.written = wr.UpdateTime
		return first, nil
	}
	if err = classify(op, err); !failure.Is(err, failure.Conflict) {
		return LedgerEntry{}, err
	}
	var out LedgerEntry
	err = l.s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		now := l.s.now()
		e := LedgerEntry{Scope: scope, Key: key, CreatedAt: now}
		snap, err := tx.Get(ref)
		switch {
		case isNotFound(err):
		case err != nil:
			return classify(op, err)
		default:
			if err := snap.DataTo(&e); err != nil {
				return failure.E(op, failure.Permanent, err)
			}
		}
		switch {
		case e.State == Done:
			out = e
			return nil
		case e.State == Claimed && e.Holder != holder && now.Before(e.ClaimedUntil):
			return failure.Errorf(op, failure.Conflict, "%s %s is claimed by %q until %s", scope, key, e.Holder, e.ClaimedUntil.Format(time.RFC3339))
		}
		e.State, e.Holder, e.ClaimedUntil = Claimed, holder, now.Add(ttl)
		e.Attempts++
		e.UpdatedAt, e.ExpireAt = now, now.Add(LedgerRetention)
		out = e
		return tx.Set(ref, e)
	})
	if err != nil {
		return LedgerEntry{}, classify(op, err)
	}
	return out, nil
}

// Complete records that the claimed effect happened, with its outcome. It
// fails with Conflict when the claim was lost to another holder, who will
// record the outcome itself.
func (l *Ledger) Complete(ctx context.Context, e LedgerEntry, outcome string, detail map[string]string) (LedgerEntry, error) {
	return l.finish(ctx, "store: ledger complete", e, func(cur *LedgerEntry) {
		cur.State, cur.Outcome, cur.Detail, cur.LastError = Done, outcome, detail, ""
	})
}

// Reopen makes a done effect claimable again, with its attempts counted
// afresh: a user asked for it to be tried again (re-adding the CRM label to
// a Failed message). Entries that are not done are returned as they are.
func (l *Ledger) Reopen(ctx context.Context, scope, key string) (LedgerEntry, error) {
	const op = "store: ledger reopen"
	ref, err := l.ref(scope, key)
	if err != nil {
		return LedgerEntry{}, err
	}
	var out LedgerEntry
	err = l.s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if err != nil {
			return err
		}
		if err := snap.DataTo(&out); err != nil {
			return err
		}
		if out.State != Done {
			return nil
		}
		now := l.s.now()
		out.State, out.Attempts, out.Holder, out.LastError = Pending, 0, "", ""
		out.UpdatedAt, out.ExpireAt = now, now.Add(LedgerRetention)
		return tx.Set(ref, out)
	})
	return out, classify(op, err)
}

// Abandon gives a claim up after a failed try, recording why; the effect
// may be claimed again (Attempts keeps counting).
func (l *Ledger) Abandon(ctx context.Context, e LedgerEntry, lastError string) (LedgerEntry, error) {
	return l.finish(ctx, "store: ledger abandon", e, func(cur *LedgerEntry) {
		cur.State, cur.LastError = Pending, lastError
	})
}

func (l *Ledger) finish(ctx context.Context, op string, e LedgerEntry, apply func(*LedgerEntry)) (LedgerEntry, error) {
	ref, err := l.ref(e.Scope, e.Key)
	if err != nil {
		return LedgerEntry{}, err
	}
	if !e.written.IsZero() {
		// Nothing wrote since our claim: it is still ours. One update,
		// on that condition.
		now := l.s.now()
		cur := e
		apply(&cur)
		cur.Holder, cur.ClaimedUntil = "", now
		cur.UpdatedAt, cur.ExpireAt = now, now.Add(LedgerRetention)
		_, err := ref.Update(ctx, []firestore.Update{{Path: "state", Value: cur.State}, {Path: "outcome", Value: cur.Outcome},
			{Path: "detail", Value: cur.Detail}, {Path: "lastError", Value: cur.LastError}, {Path: "holder", Value: cur.Holder},
			{Path: "claimedUntil", Value: cur.ClaimedUntil}, {Path: "updatedAt", Value: cur.UpdatedAt}, {Path: "expireAt", Value: cur.ExpireAt}},
			firestore.LastUpdateTime(e.written))
		if err == nil {
			cur.written = time.Time{}
			return cur, nil
		}
		if err = classify(op, err); !failure.Is(err, failure.Conflict) && !failure.Is(err, failure.NotFound) {
			return LedgerEntry{}, err
		}
		// Written since (the claim ran out and another holder took it,
		// or the entry was reopened): the transaction below says which.
	}
	var out LedgerEntry
	err = l.s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if err != nil {
			return classify(op, err)
		}
		var cur LedgerEntry
		if err := snap.DataTo(&cur); err != nil {
			return failure.E(op, failure.Permanent, err)
		}
		if cur.State != Claimed || cur.Holder != e.Holder {
			return failure.Errorf(op, failure.Conflict, "%s %s is no longer claimed by %q", e.Scope, e.Key, e.Holder)
		}
		now := l.s.now()
		apply(&cur)
		cur.Holder, cur.ClaimedUntil = "", now
		cur.UpdatedAt, cur.ExpireAt = now, now.Add(LedgerRetention)
		out = cur
		return tx.Set(ref, cur)
	})
	if err != nil {
		return LedgerEntry{}, classify(op, err)
	}
	return out, nil
}
