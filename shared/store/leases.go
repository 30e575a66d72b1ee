package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/crmsync/crmsync/shared/failure"
)

// Lease is the right of one holder to run a user's pass of one scope until
// ExpiresAt. Token counts the holders the lease has had (it increases with
// every new one); nothing else is stamped with it. What keeps a pass that
// lost its lease from doing harm is the ledger (each effect claimed once)
// and the conditional writes of cursors.
type Lease struct {
	UserID    string    `firestore:"-"`
	Scope     string    `firestore:"-"`
	Holder    string    `firestore:"holder"`
	Token     int64     `firestore:"token"`
	ExpiresAt time.Time `firestore:"expiresAt"`
	// ExpireAt is when the TTL policy may delete the document: a day
	// after the lease ran out.
	ExpireAt time.Time `firestore:"expireAt"`

	// written is when this holder last stored the lease: Renew and
	// Release then write in one call, on the condition that nobody wrote
	// since.
	written time.Time
}

// leaseTTLGrace is how long an expired lease document is kept before the
// TTL policy may delete it.
const leaseTTLGrace = 24 * time.Hour

// Leases is the repository of per-user leases: one pass per user and scope
// at a time, across every function instance. Each call is a conditional
// write (on the document being absent, or unchanged since the holder last
// wrote it), so it is safe under concurrent callers and costs one call
// (Acquire a read more).
type Leases struct{ s *Store }

func (r *Leases) ref(userID, scope string) (*firestore.DocumentRef, string, error) {
	uid, err := UserID(userID)
	if err != nil {
		return nil, "", err
	}
	id, err := docID(scope)
	if err != nil {
		return nil, "", failure.E("store: lease", failure.Invalid, err)
	}
	return r.s.fs.Collection("users").Doc(uid).Collection("leases").Doc(id), uid, nil
}

// PassLeaseTTL is how long a user's lease outlives a sync pass that
// stopped renewing it because its instance died. A live pass renews it
// (Hold), so it may run longer. It is shorter than every scheduler
// period (5 minutes at the least), so the first tick after a dead pass's
// lease runs out catches up.
const PassLeaseTTL = 2 * time.Minute

// passHolder names one pass of instance as a lease and claim holder. A
// holder that has a lease gets it again, so concurrent passes of one
// instance (a function instance serves several requests at once) must be
// distinct holders, or two of them would run for one user together.
func passHolder(instance string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return instance + "/" + hex.EncodeToString(b)
}

// Acquire takes the lease of userID's scope for holder for ttl. It fails
// with Conflict when another holder has an unexpired lease. A holder that
// already has the lease gets it extended.
//
// It is a read and a conditional write (create if absent, else update if
// unchanged since the read), not a transaction: many instances racing
// for one user's lease (a storm of redelivered notifications) each get an
// answer at once, one the lease and the rest Conflict, instead of queueing
// on a transaction lock.
func (r *Leases) Acquire(ctx context.Context, userID, scope, holder string, ttl time.Duration) (Lease, error) {
	const op = "store: lease acquire"
	if holder == "" || ttl <= 0 {
		return Lease{}, failure.Errorf(op, failure.Invalid, "holder %q, ttl %v", holder, ttl)
	}
	ref, uid, err := r.ref(userID, scope)
	if err != nil {
		return Lease{}, err
	}
	snap, err := ref.Get(ctx)
	if err != nil && !isNotFound(err) {
		return Lease{}, classify(op, err)
	}
	return r.acquire(ctx, ref, uid, scope, holder, ttl, snap)
}

// acquire is Acquire from the lease document as read (snap; absent when it
// does not exist).
func (r *Leases) acquire(ctx context.Context, ref *firestore.DocumentRef, uid, scope, holder string, ttl time.Duration, snap *firestore.DocumentSnapshot) (Lease, error) {
	const op = "store: lease acquire"
	if holder == "" || ttl <= 0 {
		return Lease{}, failure.Errorf(op, failure.Invalid, "holder %q, ttl %v", holder, ttl)
	}
	now := r.s.now()
	var cur Lease
	exists := snap != nil && snap.Exists()
	if exists {
		if err := snap.DataTo(&cur); err != nil {
			return Lease{}, failure.E(op, failure.Permanent, err)
		}
	}
	token := cur.Token
	if cur.Holder != holder {
		if cur.Holder != "" && now.Before(cur.ExpiresAt) {
			return Lease{}, failure.Errorf(op, failure.Conflict, "lease %s of %s is held until %s", scope, uid, cur.ExpiresAt.Format(time.RFC3339))
		}
		token++
	}
	out := Lease{UserID: uid, Scope: scope, Holder: holder, Token: token, ExpiresAt: now.Add(ttl)}
	out.ExpireAt = out.ExpiresAt.Add(leaseTTLGrace)
	var wr *firestore.WriteResult
	var err error
	if !exists {
		wr, err = ref.Create(ctx, out)
	} else {
		wr, err = ref.Update(ctx, []firestore.Update{{Path: "holder", Value: out.Holder}, {Path: "token", Value: out.Token},
			{Path: "expiresAt", Value: out.ExpiresAt}, {Path: "expireAt", Value: out.ExpireAt}}, firestore.LastUpdateTime(snap.UpdateTime))
	}
	if err == nil {
		out.written = wr.UpdateTime
	}
	if err != nil {
		err = classify(op, err)
		if failure.Is(err, failure.Conflict) {
			return Lease{}, failure.Errorf(op, failure.Conflict, "lease %s of %s was taken by another holder just now", scope, uid)
		}
		return Lease{}, err
	}
	return out, nil
}

// Renew extends a lease the caller holds by ttl from now. It fails with
// Conflict when the lease was lost (expired and taken, or released).
func (r *Leases) Renew(ctx context.Context, l Lease, ttl time.Duration) (Lease, error) {
	const op = "store: lease renew"
	ref, _, err := r.ref(l.UserID, l.Scope)
	if err != nil {
		return Lease{}, err
	}
	out := l
	if !l.written.IsZero() {
		// Ours, unexpired, and nobody wrote since: one conditional update.
		now := r.s.now()
		if !now.Before(l.ExpiresAt) {
			return Lease{}, failure.Errorf(op, failure.Conflict, "lease %s of %s expired at %s", l.Scope, l.UserID, l.ExpiresAt.Format(time.RFC3339))
		}
		out.ExpiresAt = now.Add(ttl)
		out.ExpireAt = out.ExpiresAt.Add(leaseTTLGrace)
		wr, err := ref.Update(ctx, []firestore.Update{{Path: "expiresAt", Value: out.ExpiresAt}, {Path: "expireAt", Value: out.ExpireAt}},
			firestore.LastUpdateTime(l.written))
		if err = classify(op, err); failure.Is(err, failure.Conflict) || failure.Is(err, failure.NotFound) {
			return Lease{}, failure.Errorf(op, failure.Conflict, "lease %s of %s was written by another holder", l.Scope, l.UserID)
		}
		if err != nil {
			return Lease{}, err
		}
		out.written = wr.UpdateTime
		return out, nil
	}
	err = r.s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		now := r.s.now()
		cur, err := r.read(tx, ref, op)
		if err != nil {
			return err
		}
		if cur.Holder != l.Holder || cur.Token != l.Token {
			return failure.Errorf(op, failure.Conflict, "lease %s of %s was lost to %q", l.Scope, l.UserID, cur.Holder)
		}
		if !now.Before(cur.ExpiresAt) {
			return failure.Errorf(op, failure.Conflict, "lease %s of %s expired at %s", l.Scope, l.UserID, cur.ExpiresAt.Format(time.RFC3339))
		}
		out.ExpiresAt = now.Add(ttl)
		out.ExpireAt = out.ExpiresAt.Add(leaseTTLGrace)
		return tx.Set(ref, out)
	})
	if err != nil {
		return Lease{}, classify(op, err)
	}
	return out, nil
}

// ErrLeaseLost is the cause of a Hold's context when the lease could not be
// renewed: another holder has it, or it expired before it was renewed.
var ErrLeaseLost = errors.New("store: the lease was lost")

// Hold keeps l while the caller works: it renews the lease every third of
// ttl, so a pass may run longer than ttl, while a holder that dies (and
// stops renewing) loses it within ttl. It returns a context for the work,
// canceled with cause ErrLeaseLost if a renewal finds the lease lost, so
// a pass that lost its lease stops instead of writing on; and a stop
// function to call when the work is done (before Release). A renewal
// that fails for another reason (Firestore unavailable) is tried again at
// the next tick.
func (r *Leases) Hold(ctx context.Context, l Lease, ttl time.Duration) (context.Context, func() Lease) {
	work, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(max(ttl/3, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-work.Done():
				return
			case <-t.C:
			}
			next, err := r.Renew(work, l, ttl)
			switch {
			case err == nil:
				l = next
			case failure.Is(err, failure.Conflict):
				cancel(fmt.Errorf("%w: %v", ErrLeaseLost, err))
				return
			}
		}
	}()
	var once sync.Once
	return work, func() Lease {
		once.Do(func() {
			close(done)
			<-stopped // the renewals are over: l is the lease as last stored
			cancel(context.Canceled)
		})
		return l
	}
}

// HoldPass takes the user's lease of scope for one pass of instance (a
// holder of its own, passHolder) and keeps it while the pass works
// (Hold). It returns the pass's context and holder name, and end, which
// stops the renewals and releases the lease. It fails with Conflict while
// another pass holds the lease.
func (r *Leases) HoldPass(ctx context.Context, userID, scope, instance string, ttl time.Duration) (work context.Context, holder string, end func() error, err error) {
	holder = passHolder(instance)
	lease, err := r.Acquire(ctx, userID, scope, holder, ttl)
	if err != nil {
		return ctx, "", nil, err
	}
	work, stop := r.Hold(ctx, lease, ttl)
	return work, holder, func() error {
		return r.Release(context.WithoutCancel(ctx), stop())
	}, nil
}

// Release gives the lease up, and makes the writes also in the same call
// (they are made alone when the lease was lost meanwhile). Releasing a
// lease that was already lost is not an error: the caller is done either
// way.
func (r *Leases) Release(ctx context.Context, l Lease, also ...Write) error {
	const op = "store: lease release"
	ref, _, err := r.ref(l.UserID, l.Scope)
	if err != nil {
		return err
	}
	if !l.written.IsZero() {
		// One call (a BulkWriter's batch of independent writes): the
		// release, on the condition that nobody wrote the lease since
		// (else it is not ours to release any more), and the others.
		now := r.s.now()
		bw := r.s.fs.BulkWriter(ctx)
		release, err := bw.Update(ref, []firestore.Update{{Path: "holder", Value: ""}, {Path: "expiresAt", Value: now}, {Path: "expireAt", Value: now.Add(leaseTTLGrace)}},
			firestore.LastUpdateTime(l.written))
		if err != nil {
			bw.End()
			return classify(op, err)
		}
		jobs, err := r.s.bulk(bw, also)
		bw.End()
		if err != nil {
			return classify(op, err)
		}
		if _, err := release.Results(); err != nil {
			if err = classify(op, err); !failure.Is(err, failure.Conflict) && !failure.Is(err, failure.NotFound) {
				return err
			}
		}
		return results(op, jobs)
	}
	if len(also) > 0 {
		bw := r.s.fs.BulkWriter(ctx)
		jobs, err := r.s.bulk(bw, also)
		bw.End()
		if err != nil {
			return classify(op, err)
		}
		if err := results(op, jobs); err != nil {
			return err
		}
	}
	err = r.s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		cur, err := r.read(tx, ref, op)
		if failure.Is(err, failure.NotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if cur.Holder != l.Holder || cur.Token != l.Token {
			return nil
		}
		// Keep the token so the next holder's is higher.
		cur.Holder, cur.ExpiresAt = "", r.s.now()
		cur.ExpireAt = cur.ExpiresAt.Add(leaseTTLGrace)
		return tx.Set(ref, cur)
	})
	return classify(op, err)
}

func (r *Leases) read(tx *firestore.Transaction, ref *firestore.DocumentRef, op string) (Lease, error) {
	snap, err := tx.Get(ref)
	if err != nil {
		return Lease{}, classify(op, err)
	}
	var cur Lease
	if err := snap.DataTo(&cur); err != nil {
		return Lease{}, failure.E(op, failure.Permanent, err)
	}
	return cur, nil
}
