package store

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/crmsync/crmsync/shared/failure"
)

// PreviewState is where a preview report stands.
type PreviewState string

const (
	// PreviewPending: e-mailed (or about to be), waiting for Approve or Reject.
	PreviewPending  PreviewState = "pending"
	PreviewApproved PreviewState = "approved"
	PreviewRejected PreviewState = "rejected"
	// PreviewSuperseded: the settings changed after it was made; its links
	// no longer act.
	PreviewSuperseded PreviewState = "superseded"
)

// Preview is one preview report of a user's sync settings: made for one
// settings version, decided at most once.
type Preview struct {
	ID              string       `firestore:"-"`
	User            string       `firestore:"user"`
	TenantID        string       `firestore:"tenantId"`
	SettingsVersion int64        `firestore:"settingsVersion"`
	State           PreviewState `firestore:"state"`
	CreatedAt       time.Time    `firestore:"createdAt"`
	// SentAt is when the report e-mail was accepted for delivery.
	SentAt    time.Time `firestore:"sentAt"`
	Expires   time.Time `firestore:"expires"`
	DecidedAt time.Time `firestore:"decidedAt"`
	// Summary is the report's counts, for status pages.
	Summary map[string]int `firestore:"summary,omitempty"`
	// ExpireAt lets the TTL policy delete it, well after it expired.
	ExpireAt time.Time `firestore:"expireAt"`
}

// Decision is what a user last decided about a preview, kept on the user
// for the admin's status page.
type Decision struct {
	Preview         string       `firestore:"preview,omitempty"`
	State           PreviewState `firestore:"state,omitempty"`
	SettingsVersion int64        `firestore:"settingsVersion"`
	At              time.Time    `firestore:"at"`
}

// Previews is the repository of preview reports.
type Previews struct{ s *Store }

// Previews returns the repository of preview reports.
func (s *Store) Previews() *Previews { return &Previews{s: s} }

func (r *Previews) col() *firestore.CollectionRef { return r.s.fs.Collection("previews") }

// PreviewID is the ID of the preview of a user's settings version: one
// preview per version, so a redelivered preview job finds the first.
func PreviewID(user string, version int64) string {
	id, _ := docID(user, fmt.Sprint(version))
	return id
}

// Create stores a new pending preview. It returns the stored one and
// created=false when the version's preview exists already.
func (r *Previews) Create(ctx context.Context, p Preview) (out Preview, created bool, err error) {
	const op = "store: preview create"
	if p.User == "" || p.SettingsVersion <= 0 {
		return Preview{}, false, failure.Errorf(op, failure.Invalid, "preview without user or settings version")
	}
	p.ID = PreviewID(p.User, p.SettingsVersion)
	p.State, p.CreatedAt = PreviewPending, r.s.now()
	p.ExpireAt = p.Expires.Add(30 * 24 * time.Hour)
	_, err = r.col().Doc(p.ID).Create(ctx, p)
	if err == nil {
		return p, true, nil
	}
	if failure.Is(classify(op, err), failure.Conflict) {
		got, err := r.Get(ctx, p.ID)
		return got, false, err
	}
	return Preview{}, false, classify(op, err)
}

// Get returns the preview id.
func (r *Previews) Get(ctx context.Context, id string) (Preview, error) {
	const op = "store: preview get"
	if id == "" {
		return Preview{}, failure.Errorf(op, failure.Invalid, "empty preview id")
	}
	snap, err := r.col().Doc(id).Get(ctx)
	if err != nil {
		return Preview{}, classify(op, err)
	}
	var p Preview
	if err := snap.DataTo(&p); err != nil {
		return Preview{}, failure.E(op, failure.Permanent, err)
	}
	p.ID = id
	return p, nil
}

// MarkSent records that the report e-mail went out, with its counts.
func (r *Previews) MarkSent(ctx context.Context, id string, summary map[string]int) error {
	_, err := r.col().Doc(id).Update(ctx, []firestore.Update{{Path: "sentAt", Value: r.s.now()}, {Path: "summary", Value: summary}})
	return classify("store: preview mark sent", err)
}

// Refusal says why u cannot decide p now (nil when they can): the
// preview must be u's, pending, unexpired, and of u's current settings
// version while the setup waits for approval.
func (p Preview) Refusal(u User, now time.Time) error {
	const op = "store: preview decide"
	switch {
	case p.User != u.ID:
		return failure.Errorf(op, failure.Forbidden, "this preview belongs to another user; sign in as the user it was sent to")
	case p.State == PreviewApproved || p.State == PreviewRejected:
		return failure.Errorf(op, failure.Invalid, "this preview was already %s on %s; its links work once", p.State, p.DecidedAt.Format("2 Jan 2006 15:04 MST"))
	case p.State == PreviewSuperseded || u.SettingsVersion != p.SettingsVersion || u.SyncState != PendingApproval:
		return failure.Errorf(op, failure.Invalid, "your sync settings changed after this preview was made; use the links of the newest preview e-mail")
	case !now.Before(p.Expires):
		return failure.Errorf(op, failure.Invalid, "this preview expired on %s; save your settings again for a new one", p.Expires.Format("2 Jan 2006 15:04 MST"))
	}
	return nil
}

// Decide applies user's Approve (approve=true) or Reject to a preview, in
// one transaction with the user, if Refusal allows it. Approve makes the
// setup Active, Reject makes it Rejected; either is recorded on the user.
// A refused decision changes nothing but a superseded preview's state,
// and its error says why in words for the user.
func (r *Previews) Decide(ctx context.Context, user, id string, approve bool) (Preview, User, error) {
	const op = "store: preview decide"
	uid, err := UserID(user)
	if err != nil {
		return Preview{}, User{}, err
	}
	var p Preview
	var u User
	var refusal error
	err = r.s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		refusal = nil
		pref := r.col().Doc(id)
		snap, err := tx.Get(pref)
		if err != nil {
			return err
		}
		if err := snap.DataTo(&p); err != nil {
			return failure.E(op, failure.Permanent, err)
		}
		p.ID = id
		uref := r.s.fs.Collection("users").Doc(uid)
		usnap, err := tx.Get(uref)
		if err != nil {
			return err
		}
		if u, err = decodeUser(op, usnap); err != nil {
			return err
		}
		now := r.s.now()
		if refusal = p.Refusal(u, now); refusal != nil {
			if p.User == u.ID && p.State == PreviewPending && (u.SettingsVersion != p.SettingsVersion || u.SyncState != PendingApproval) {
				return tx.Update(pref, []firestore.Update{{Path: "state", Value: PreviewSuperseded}})
			}
			return nil
		}
		p.State, p.DecidedAt = PreviewRejected, now
		u.SyncState = Rejected
		if approve {
			p.State, u.SyncState = PreviewApproved, Active
		}
		u.Decision = Decision{Preview: id, State: p.State, SettingsVersion: p.SettingsVersion, At: now}
		u.UpdatedAt, u.Version = now, u.Version+1
		if err := tx.Update(pref, []firestore.Update{{Path: "state", Value: p.State}, {Path: "decidedAt", Value: now}}); err != nil {
			return err
		}
		return tx.Update(uref, []firestore.Update{{Path: "syncState", Value: u.SyncState}, {Path: "decision", Value: u.Decision},
			{Path: "updatedAt", Value: now}, {Path: "version", Value: u.Version}})
	})
	if isNotFound(err) {
		return Preview{}, User{}, failure.Errorf(op, failure.Invalid, "no such preview; it may have been deleted with its sync setup")
	}
	if err != nil {
		return Preview{}, User{}, classify(op, err)
	}
	if refusal != nil {
		return p, u, refusal
	}
	return p, u, nil
}
