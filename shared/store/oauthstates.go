package store

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/crmsync/crmsync/shared/failure"
)

// OAuthState is a pending authorization: what the callback needs to finish
// it. It works once and expires.
type OAuthState struct {
	User     string   `firestore:"user"`
	Verifier string   `firestore:"verifier"` // the PKCE code verifier
	Scopes   []string `firestore:"scopes"`
	Purpose  string   `firestore:"purpose"` // "connect" or "signin"
	// Nonce and ClientID are a sign-in's: the id_token must carry the
	// nonce and be issued to the client.
	Nonce    string `firestore:"nonce,omitempty"`
	ClientID string `firestore:"clientId,omitempty"`
	// Next is where the browser goes once done.
	Next    string    `firestore:"next,omitempty"`
	Expires time.Time `firestore:"expires"`
	// ExpireAt lets the TTL policy delete it.
	ExpireAt time.Time `firestore:"expireAt"`
}

// OAuthStates is the repository of pending authorizations, by state value.
type OAuthStates struct{ s *Store }

// OAuthStates returns the repository of pending authorizations.
func (s *Store) OAuthStates() *OAuthStates { return &OAuthStates{s: s} }

// Put stores a pending authorization under state.
func (r *OAuthStates) Put(ctx context.Context, state string, v OAuthState) error {
	id, err := docID(state)
	if err != nil {
		return failure.E("store: oauth state put", failure.Invalid, err)
	}
	v.ExpireAt = v.Expires.Add(24 * time.Hour)
	_, err = r.s.fs.Collection("oauthStates").Doc(id).Create(ctx, v)
	return classify("store: oauth state put", err)
}

// Take returns the pending authorization of state and deletes it, in one
// transaction: a state works once. A missing, used or expired state is
// Invalid.
func (r *OAuthStates) Take(ctx context.Context, state string) (OAuthState, error) {
	const op = "store: oauth state take"
	id, err := docID(state)
	if err != nil {
		return OAuthState{}, failure.Errorf(op, failure.Invalid, "no such sign-in")
	}
	ref := r.s.fs.Collection("oauthStates").Doc(id)
	var out OAuthState
	err = r.s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if err != nil {
			return err
		}
		if err := snap.DataTo(&out); err != nil {
			return err
		}
		return tx.Delete(ref)
	})
	if isNotFound(err) {
		return OAuthState{}, failure.Errorf(op, failure.Invalid, "this sign-in link was already used or never issued; start again")
	}
	if err != nil {
		return OAuthState{}, classify(op, err)
	}
	if !r.s.now().Before(out.Expires) {
		return OAuthState{}, failure.Errorf(op, failure.Invalid, "this sign-in took too long and expired; start again")
	}
	return out, nil
}

// Peek returns the pending authorization of state without using it up.
func (r *OAuthStates) Peek(ctx context.Context, state string) (OAuthState, error) {
	const op = "store: oauth state peek"
	id, err := docID(state)
	if err != nil {
		return OAuthState{}, failure.Errorf(op, failure.Invalid, "no such sign-in")
	}
	snap, err := r.s.fs.Collection("oauthStates").Doc(id).Get(ctx)
	if isNotFound(err) {
		return OAuthState{}, failure.Errorf(op, failure.Invalid, "this link was already used or never issued; start again")
	}
	if err != nil {
		return OAuthState{}, classify(op, err)
	}
	var out OAuthState
	if err := snap.DataTo(&out); err != nil {
		return OAuthState{}, failure.E(op, failure.Permanent, err)
	}
	return out, nil
}
