package store

import (
	"context"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/crmsync/crmsync/shared/failure"
)

// Claim is a firm-wide claim on a contact's e-mail address, at
// addressClaims/{tenant}:{address}. Contact sync takes the claims of a
// new contact's addresses before it creates that contact in the CRM, so
// that passes of different users who meet the same person at the same
// moment converge on one CRM contact: the first creates it and records its
// id (Settle), the others find the id and link to it.
type Claim struct {
	Tenant  string `firestore:"tenant"`
	Address string `firestore:"address"`
	// Holder is who took the claim (a user's pass for one Google contact);
	// CRM, once set, is the contact it made.
	Holder string    `firestore:"holder"`
	CRM    string    `firestore:"crm"`
	At     time.Time `firestore:"at"`
	// ExpireAt is when Firestore's TTL policy removes the claim: by then
	// the contact is found by its address in the CRM itself.
	ExpireAt time.Time `firestore:"expireAt"`
}

// claimLifetime is how long a claim stands: far longer than a pass, and
// long after the CRM's own lookup by address finds the contact.
const claimLifetime = time.Hour

// ClaimWait is how long an unsettled claim of another holder is waited
// for: its pass is creating the contact.
const ClaimWait = 2 * time.Minute

// Claims is the repository of address claims.
type Claims struct{ s *Store }

// Claims returns the address claims.
func (s *Store) Claims() *Claims { return &Claims{s: s} }

func (r *Claims) ref(tenant, address string) (*firestore.DocumentRef, error) {
	id, err := docID(tenant, strings.ToLower(address))
	if err != nil {
		return nil, failure.E("store: claim", failure.Invalid, err)
	}
	return r.s.fs.Collection("addressClaims").Doc(id), nil
}

// Take claims every address for holder in one transaction. It returns
// taken=true when holder now holds them all (or held them already). When
// another holder holds one of them, nothing is taken and that claim is
// returned: settled (its CRM contact is known), or in flight. A claim past
// its lifetime, or unsettled and older than ClaimWait (its pass died), is
// taken over.
func (r *Claims) Take(ctx context.Context, tenant string, addresses []string, holder string) (Claim, bool, error) {
	const op = "store: claim take"
	addrs := slices.Clone(addresses)
	for i := range addrs {
		addrs[i] = strings.ToLower(strings.TrimSpace(addrs[i]))
	}
	slices.Sort(addrs)
	addrs = slices.Compact(addrs)
	if holder == "" || len(addrs) == 0 || addrs[0] == "" {
		return Claim{}, false, failure.Errorf(op, failure.Invalid, "holder %q, addresses %v", holder, addresses)
	}
	var other Claim
	taken := false
	err := r.s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		now := r.s.now()
		other, taken = Claim{}, false
		refs := make([]*firestore.DocumentRef, len(addrs))
		for i, a := range addrs {
			ref, err := r.ref(tenant, a)
			if err != nil {
				return err
			}
			refs[i] = ref
		}
		snaps, err := tx.GetAll(refs)
		if err != nil {
			return err
		}
		for _, snap := range snaps {
			if !snap.Exists() {
				continue
			}
			var c Claim
			if err := snap.DataTo(&c); err != nil {
				return err
			}
			stale := !now.Before(c.ExpireAt) || (c.CRM == "" && now.Sub(c.At) > ClaimWait)
			if c.Holder != holder && !stale {
				other = c
				return nil
			}
		}
		for i, a := range addrs {
			c := Claim{Tenant: tenant, Address: a, Holder: holder, At: now, ExpireAt: now.Add(claimLifetime)}
			if err := tx.Set(refs[i], c); err != nil {
				return err
			}
		}
		taken = true
		return nil
	})
	if err != nil {
		return Claim{}, false, classify(op, err)
	}
	return other, taken, nil
}

// Settle records the CRM contact holder made for its claims.
func (r *Claims) Settle(ctx context.Context, tenant string, addresses []string, holder, crmID string) error {
	const op = "store: claim settle"
	for _, a := range addresses {
		ref, err := r.ref(tenant, a)
		if err != nil {
			return err
		}
		_, err = ref.Update(ctx, []firestore.Update{{Path: "crm", Value: crmID}})
		if err != nil && !isNotFound(err) {
			return classify(op, err)
		}
	}
	return nil
}

// Release gives up holder's claims (its contact was not made), so
// another pass need not wait for them.
func (r *Claims) Release(ctx context.Context, tenant string, addresses []string, holder string) error {
	const op = "store: claim release"
	for _, a := range addresses {
		ref, err := r.ref(tenant, a)
		if err != nil {
			return err
		}
		err = r.s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
			snap, err := tx.Get(ref)
			if isNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			var c Claim
			if err := snap.DataTo(&c); err != nil {
				return err
			}
			if c.Holder != holder || c.CRM != "" {
				return nil
			}
			return tx.Delete(ref)
		})
		if err != nil {
			return classify(op, err)
		}
	}
	return nil
}

// Get reads the claim of an address.
func (r *Claims) Get(ctx context.Context, tenant, address string) (Claim, error) {
	const op = "store: claim get"
	ref, err := r.ref(tenant, address)
	if err != nil {
		return Claim{}, err
	}
	snap, err := ref.Get(ctx)
	if isNotFound(err) {
		return Claim{}, failure.Errorf(op, failure.NotFound, "no claim of %s", address)
	}
	if err != nil {
		return Claim{}, classify(op, err)
	}
	var c Claim
	if err := snap.DataTo(&c); err != nil {
		return Claim{}, failure.E(op, failure.Permanent, err)
	}
	return c, nil
}
