package store

import (
	"context"
	"net/mail"
	"slices"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"

	"github.com/crmsync/crmsync/shared/failure"
)

// ConnState is whether the product can act for a user at Google.
type ConnState string

const (
	NotConnected ConnState = "not_connected"
	Connected    ConnState = "connected"
	// Disconnected: access was lost (revoked, invalid_grant) and the user
	// must reconnect; Connection.Reason says why.
	Disconnected ConnState = "disconnected"
)

// Connection is the state of a user's Google access.
type Connection struct {
	State     ConnState `firestore:"state"`
	Reason    string    `firestore:"reason,omitempty"`
	ChangedAt time.Time `firestore:"changedAt"`
	Scopes    []string  `firestore:"scopes,omitempty"`
	// Missing are the features (mail, contacts, calendar) the user chose
	// whose access they unticked on Google's consent screen.
	Missing []string `firestore:"missing,omitempty"`
}

// Granted says whether the user's grant covers scopes. A user with no
// recorded scopes (office-level impersonation, where the firm authorizes
// them) is taken as granted.
func (u User) Granted(scopes []string) bool {
	if len(u.Grant.Scopes) == 0 {
		return true
	}
	for _, sc := range scopes {
		if !slices.Contains(u.Grant.Scopes, sc) {
			return false
		}
	}
	return true
}

// SyncState is where a user's sync setup stands.
type SyncState string

const (
	NotConfigured   SyncState = "not_configured"
	PendingApproval SyncState = "pending_approval"
	Active          SyncState = "active"
	Rejected        SyncState = "rejected"
)

// PassStatus is the outcome of the last pass of one feature for a user,
// shown on status pages.
type PassStatus struct {
	At     time.Time      `firestore:"at"`
	OK     bool           `firestore:"ok"`
	Counts map[string]int `firestore:"counts,omitempty"`
	Error  string         `firestore:"error,omitempty"`
	// Pushed (mail) is when a pass a Gmail notification started last
	// succeeded: while notifications flow, the mail sweep is not needed.
	Pushed time.Time `firestore:"pushed,omitempty"`
	// Listed (mail) is when a pass last listed every message carrying the
	// trigger label, and RetryPending whether a message has waited since
	// to be tried again: the sweep lists them again then, and reads only
	// the history since the cursor otherwise.
	Listed       time.Time `firestore:"listed,omitempty"`
	RetryPending bool      `firestore:"retryPending,omitempty"`
	// Day (mail, YYYY-MM-DD in UTC) is the day Today counts: the messages
	// posted, failed and unmatched that day, summed over its passes.
	Day   string         `firestore:"day,omitempty"`
	Today map[string]int `firestore:"today,omitempty"`
	// LastFailure (mail) is why the newest message that failed, failed.
	LastFailure string `firestore:"lastFailure,omitempty"`
}

// MailToday is what the mail passes of the day of now came to: posted,
// failed and unmatched; none when the user had no pass that day.
func (p PassStatus) MailToday(now time.Time) map[string]int {
	if p.Day != now.UTC().Format(time.DateOnly) {
		return nil
	}
	return p.Today
}

// Grant is a user's Google authorization: the refresh token, sealed by
// package tokencrypt (never stored in plain text), and its scopes.
type Grant struct {
	SealedRefreshToken string    `firestore:"sealedRefreshToken,omitempty"`
	Scopes             []string  `firestore:"scopes,omitempty"`
	GrantedAt          time.Time `firestore:"grantedAt"`
}

// MailSetup is a user's e-mail posting options and Gmail state. The
// option names follow the product description; package matching gives
// them meaning.
type MailSetup struct {
	// Enabled is e-mail posting by label (to contacts' notes).
	Enabled bool `firestore:"enabled"`
	// AutoSync is automatic mail sync (to clients' e-mail activities),
	// when the firm allows it (Tenant.AutoMailSync).
	AutoSync bool `firestore:"autoSync"`
	// Outgoing and Incoming are the compared headers (From, To, Cc, Bcc).
	Outgoing                 []string `firestore:"outgoing"`
	Incoming                 []string `firestore:"incoming"`
	SkipInternal             bool     `firestore:"skipInternal"`
	IncludeAttachments       bool     `firestore:"includeAttachments"`
	PostUnmatchedToOwnRecord bool     `firestore:"postUnmatchedToOwnRecord"`
	OfferLinkedRecords       bool     `firestore:"offerLinkedRecords"`
	// Labels maps label roles (trigger, posted, failed, unmatched) to the
	// Gmail label ids made for them.
	Labels map[string]string `firestore:"labels,omitempty"`
	// WatchExpiration is when the Gmail watch runs out unless renewed.
	WatchExpiration time.Time `firestore:"watchExpiration"`
}

// ContactsSetup is a user's contact sync options, as the product
// description names them; package contactsync gives them meaning.
type ContactsSetup struct {
	// Direction: "" or "off", "crm-to-google", "google-to-crm", "both".
	Direction string `firestore:"direction"`
	// Group is the Google contact label synced; "" means all contacts.
	Group string `firestore:"group"`
	// SetID limits the CRM side to one set; "" means all CRM contacts.
	SetID string `firestore:"setId"`
	// BirthDates sends CRM birth dates to Google (never the other way).
	BirthDates bool `firestore:"birthDates"`
	// CreateType is the CRM record type made for Google contacts:
	// "contact" or "advisor".
	CreateType        string `firestore:"createType"`
	IncludeAdvisors   bool   `firestore:"includeAdvisors"`
	IncludeDependents bool   `firestore:"includeDependents"`
	// OnGoogleDelete: "delete" (to Deleted Records), "keep", or
	// "remove-from-set" (only when a set is synced).
	OnGoogleDelete string `firestore:"onGoogleDelete"`
	// MaxDeleteShare is the mass-deletion guard (0 means the default).
	MaxDeleteShare float64 `firestore:"maxDeleteShare"`
	// ConfirmedDeletes lets the next pass apply a guarded plan once.
	ConfirmedDeletes bool `firestore:"confirmedDeletes"`
}

// CalendarSetup is a user's calendar sync options ("Calendar Sync
// Options"); package calendarsync gives them meaning.
type CalendarSetup struct {
	// Direction: "" or "off", "crm-to-google", "google-to-crm", "both".
	Direction string `firestore:"direction"`
	// CalendarName is the Google calendar synced ("" is the primary one);
	// it is created when missing and the CRM is a source.
	CalendarName string `firestore:"calendarName"`
	Recurring    bool   `firestore:"recurring"`
	AllDay       bool   `firestore:"allDay"`
	Documents    bool   `firestore:"documents"`
	// ContactAssociation links activities from Google to the CRM contacts
	// of their guests.
	ContactAssociation bool `firestore:"contactAssociation"`
	// Channel is the Calendar push channel watching the synced calendar.
	Channel PushChannel `firestore:"channel"`
}

// PushChannel is a Calendar events.watch channel. Token is the shared
// secret Google echoes in X-Goog-Channel-Token; the webhook checks it.
type PushChannel struct {
	ID         string    `firestore:"id,omitempty"`
	ResourceID string    `firestore:"resourceId,omitempty"`
	Token      string    `firestore:"token,omitempty"`
	CalendarID string    `firestore:"calendarId,omitempty"`
	Expiration time.Time `firestore:"expiration"`
}

// User is one Google account of a firm.
type User struct {
	// ID is the lowercased e-mail address (see UserID).
	ID          string `firestore:"-"`
	TenantID    string `firestore:"tenantId"`
	Email       string `firestore:"email"`
	DisplayName string `firestore:"displayName,omitempty"`
	// CRMUserID is the CRM user behind this Google account.
	CRMUserID  string     `firestore:"crmUserId,omitempty"`
	Connection Connection `firestore:"connection"`
	// Grant is the user's own Google authorization (per-user OAuth).
	Grant Grant `firestore:"grant"`
	// SettingsVersion increases with every save of the sync settings; a
	// preview is made for one version.
	SettingsVersion int64     `firestore:"settingsVersion"`
	SyncState       SyncState `firestore:"syncState"`
	// Decision is the user's last Approve or Reject of a preview.
	Decision Decision `firestore:"decision"`
	// Passes is keyed by feature: "mail", "contacts", "calendar", …
	Passes map[string]PassStatus `firestore:"passes,omitempty"`
	// Mail is the user's e-mail posting setup.
	Mail MailSetup `firestore:"mail"`
	// Contacts is the user's contact sync setup.
	Contacts ContactsSetup `firestore:"contacts"`
	// Calendar is the user's calendar sync setup.
	Calendar CalendarSetup `firestore:"calendar"`
	// Attention, when set, says why the user must look at something (a
	// mass-deletion guard tripped, a reconnect needed).
	Attention string `firestore:"attention,omitempty"`
	// SessionsFrom ends every session issued before it (sign-out, a
	// withdrawn right): sessions are checked against it on every request.
	SessionsFrom time.Time `firestore:"sessionsFrom,omitempty"`
	// RightWithdrawn is set while the firm's admin has withdrawn the
	// user's integration right: nothing syncs for them.
	RightWithdrawn bool      `firestore:"rightWithdrawn,omitempty"`
	CreatedAt      time.Time `firestore:"createdAt"`
	UpdatedAt      time.Time `firestore:"updatedAt"`
	Version        int64     `firestore:"version"`
}

// UserID returns the store ID of the user with this address: the bare
// address, lowercased. It fails with Invalid when email is not an address.
func UserID(email string) (string, error) {
	a, err := mail.ParseAddress(strings.TrimSpace(email))
	if err != nil || strings.ContainsAny(a.Address, "/ ") || a.Name != "" {
		return "", failure.Errorf("store: user id", failure.Invalid, "%q is not an e-mail address", email)
	}
	return strings.ToLower(a.Address), nil
}

// Users is the repository of users.
type Users struct{ s *Store }

func (r *Users) col() *firestore.CollectionRef { return r.s.fs.Collection("users") }

// Get returns the user with this address.
func (r *Users) Get(ctx context.Context, email string) (User, error) {
	const op = "store: user get"
	id, err := UserID(email)
	if err != nil {
		return User{}, err
	}
	snap, err := r.col().Doc(id).Get(ctx)
	if err != nil {
		return User{}, classify(op, err)
	}
	return decodeUser(op, snap)
}

func decodeUser(op string, snap *firestore.DocumentSnapshot) (User, error) {
	var u User
	if err := snap.DataTo(&u); err != nil {
		return User{}, failure.E(op, failure.Permanent, err)
	}
	u.ID = snap.Ref.ID
	return u, nil
}

// Create stores a new user of a tenant; Conflict when the address exists.
func (r *Users) Create(ctx context.Context, u User) (User, error) {
	const op = "store: user create"
	id, err := UserID(u.Email)
	if err != nil {
		return User{}, err
	}
	if u.TenantID == "" {
		return User{}, failure.Errorf(op, failure.Invalid, "user %s has no tenant", id)
	}
	now := r.s.now()
	u.ID, u.CreatedAt, u.UpdatedAt, u.Version = id, now, now, 1
	if u.Connection.State == "" {
		u.Connection = Connection{State: NotConnected, ChangedAt: now}
	}
	if u.SyncState == "" {
		u.SyncState = NotConfigured
	}
	if _, err := r.col().Doc(id).Create(ctx, u); err != nil {
		return User{}, classify(op, err)
	}
	return u, nil
}

// Update applies fn to the stored user in a transaction and stores the
// result with a higher Version. An error from fn aborts the update.
func (r *Users) Update(ctx context.Context, email string, fn func(*User) error) (User, error) {
	const op = "store: user update"
	id, err := UserID(email)
	if err != nil {
		return User{}, err
	}
	var out User
	err = r.s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		ref := r.col().Doc(id)
		snap, err := tx.Get(ref)
		if err != nil {
			return classify(op, err)
		}
		u, err := decodeUser(op, snap)
		if err != nil {
			return err
		}
		if err := fn(&u); err != nil {
			return err
		}
		u.ID, u.UpdatedAt, u.Version = id, r.s.now(), u.Version+1
		out = u
		return tx.Set(ref, u)
	})
	return out, classify(op, err)
}

// RecordPass stores the outcome of a feature's pass without touching the
// rest of the user document.
func (r *Users) RecordPass(ctx context.Context, email, feature string, p PassStatus) error {
	w, err := r.PassWrite(email, feature, p)
	if err != nil {
		return err
	}
	return r.s.contended(ctx, "store: user record pass", func() error {
		_, err := w.ref.Update(ctx, w.updates)
		return err
	})
}

// Reseal replaces the user's sealed refresh token with the same token
// sealed under a newer key, if the stored one is still old: a grant that
// changed meanwhile (a reconnect, a disconnect) is left as it is. Only the
// one field is written.
func (r *Users) Reseal(ctx context.Context, email, old, resealed string) (bool, error) {
	const op = "store: user reseal"
	id, err := UserID(email)
	if err != nil {
		return false, err
	}
	done := false
	err = r.s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		done = false
		ref := r.col().Doc(id)
		snap, err := tx.Get(ref)
		if err != nil {
			return err
		}
		cur, err := snap.DataAt("grant.sealedRefreshToken")
		if err != nil || cur != old {
			return nil
		}
		done = true
		return tx.Update(ref, []firestore.Update{{Path: "grant.sealedRefreshToken", Value: resealed}})
	})
	return done, classify(op, err)
}

// ListByTenant returns a tenant's users ordered by address.
func (r *Users) ListByTenant(ctx context.Context, tenantID string) ([]User, error) {
	const op = "store: user list"
	it := r.col().Where("tenantId", "==", tenantID).Documents(ctx)
	defer it.Stop()
	var out []User
	for {
		snap, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			return nil, classify(op, err)
		}
		u, err := decodeUser(op, snap)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
