// Package crm is the CRM port: the only way the product reaches the CRM,
// the system of record for contacts, notes, clients and activities.
//
// The port is split into small interfaces (Directory, ContactFinder,
// Contacts, Feed, Notes, Clients, Activities) so each engine asks for what
// it uses; CRM is all of them. Two implementations exist: refcrm, the
// reference CRM (Firestore-backed, also served over HTTP), and restcrm, a
// client of the documented CRM REST API (docs/crm-api.md) that any CRM
// serving that API plugs into. crmtest holds the conformance suite both
// pass.
//
// Rules every implementation keeps:
//   - Office security: reads and writes made as a user only see contacts
//     that user may access; others are NotFound, never Forbidden, so their
//     existence does not leak.
//   - Writes carry a Write: the acting user, the origin (Origin for this
//     product, so sync engines skip their own echoes in the change feed)
//     and an idempotency key; a create with a key already used returns
//     what the first one created.
//   - Updates and deletes carry the version read; a stale one fails with
//     failure.Conflict wrapping ErrStaleVersion, and nothing changes.
//   - Deleting a contact is soft: it moves to Deleted Records, is left out
//     of lookups and lists, and can be restored.
//   - Errors carry a failure.Kind: NotFound, Conflict, Invalid (naming the
//     field), Transient, Quota.
package crm

import (
	"context"
	"errors"
	"time"
)

// Origin marks writes made by this product in the change feed.
const Origin = "crmsync"

// ErrStaleVersion is wrapped by the Conflict errors of updates and deletes
// whose version precondition failed.
var ErrStaleVersion = errors.New("crm: the record changed since it was read (stale version)")

// ContactType is the kind of a contact record.
type ContactType string

// Contact types.
const (
	TypeContact   ContactType = "contact"
	TypeAdvisor   ContactType = "advisor"
	TypeDependent ContactType = "dependent"
)

// Valid reports whether t is a known contact type.
func (t ContactType) Valid() bool {
	return t == TypeContact || t == TypeAdvisor || t == TypeDependent
}

// User is a CRM user: the person behind a Google account.
type User struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
	// ContactID is the user's own contact record, where "post unmatched
	// e-mails to my contact record" posts.
	ContactID string `json:"contactId,omitempty"`
	// IntegrationEnabled is the CRM right to use the Google integration.
	IntegrationEnabled bool `json:"integrationEnabled"`
	// Domains are the firm's e-mail domains as the CRM knows them, for
	// "do not post internal e-mail".
	Domains []string `json:"domains,omitempty"`
	// Offices the user belongs to; with office security a user sees the
	// contacts of these offices and those of no office.
	Offices []string `json:"offices,omitempty"`
}

// Contact is a contact record.
type Contact struct {
	ID        string      `json:"id"`
	Type      ContactType `json:"type"`
	FirstName string      `json:"firstName,omitempty"`
	LastName  string      `json:"lastName,omitempty"`
	Emails    []string    `json:"emails,omitempty"`
	Phones    []string    `json:"phones,omitempty"`
	// BirthDate is YYYY-MM-DD, or empty.
	BirthDate string `json:"birthDate,omitempty"`
	// Sets are the ids of the sets the contact belongs to.
	Sets []string `json:"sets,omitempty"`
	// ClientIDs are the clients (households) the contact belongs to.
	ClientIDs []string `json:"clientIds,omitempty"`
	// Offices restrict who may see the contact; empty means everybody.
	Offices []string  `json:"offices,omitempty"`
	Deleted bool      `json:"deleted"`
	Version int64     `json:"version"`
	Updated time.Time `json:"updated"`
}

// Set is a named subset of contacts.
type Set struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Record is a record linked to a contact that notes can also be posted to.
type Record struct {
	ID        string `json:"id"`
	Type      string `json:"type"` // policy or pendingCase
	ContactID string `json:"contactId"`
	Title     string `json:"title"`
}

// Record types.
const (
	RecordPolicy      = "policy"
	RecordPendingCase = "pendingCase"
)

// Attachment is a file posted with a note or an e-mail activity. Data is
// set on writes and on reads of a single attachment; lists carry only the
// metadata.
type Attachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	Data        []byte `json:"data,omitempty"`
}

// Email is the content of a posted e-mail.
type Email struct {
	Subject string    `json:"subject"`
	From    string    `json:"from"`
	To      []string  `json:"to,omitempty"`
	Cc      []string  `json:"cc,omitempty"`
	Date    time.Time `json:"date"`
	Text    string    `json:"text,omitempty"`
	// HTML is sanitized by the CRM before it is stored.
	HTML           string       `json:"html,omitempty"`
	Attachments    []Attachment `json:"attachments,omitempty"`
	GmailMessageID string       `json:"gmailMessageId,omitempty"`
}

// Note is an entry of a contact's SmartPad: here, a posted e-mail.
type Note struct {
	ID        string `json:"id"`
	ContactID string `json:"contactId"`
	Email
	// Records are linked records (policies, pending cases) of the contact
	// the note is also posted to.
	Records []string  `json:"records,omitempty"`
	Author  string    `json:"author,omitempty"` // the user who posted it
	Created time.Time `json:"created"`
}

// Client is a client (household) in the second product's sense.
type Client struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// EmailActivity is an e-mail synced to a client's activities.
type EmailActivity struct {
	ID       string `json:"id"`
	ClientID string `json:"clientId"`
	Owner    string `json:"owner"` // the user whose mailbox it came from
	Email
	// NeedsReview marks an educated guess among several candidate clients.
	NeedsReview bool     `json:"needsReview"`
	Candidates  []string `json:"candidates,omitempty"`
	// Reason says which signal decided the guess.
	Reason  string    `json:"reason,omitempty"`
	Version int64     `json:"version"`
	Created time.Time `json:"created"`
}

// Document is a file attached to a calendar activity.
type Document struct {
	Title    string `json:"title"`
	URL      string `json:"url"`
	MimeType string `json:"mimeType,omitempty"`
}

// Activity is a calendar activity. A timed activity has Start and End
// with a TimeZone; an all-day one has StartDate and an exclusive EndDate
// (YYYY-MM-DD). A series has Recurrence (RRULE/RDATE/EXDATE lines); an
// exception to a series has SeriesID and OriginalStart.
type Activity struct {
	ID            string     `json:"id"`
	Owner         string     `json:"owner"`
	Title         string     `json:"title"`
	Start         time.Time  `json:"start,omitzero"`
	End           time.Time  `json:"end,omitzero"`
	TimeZone      string     `json:"timeZone,omitempty"`
	StartDate     string     `json:"startDate,omitempty"`
	EndDate       string     `json:"endDate,omitempty"`
	Recurrence    []string   `json:"recurrence,omitempty"`
	SeriesID      string     `json:"seriesId,omitempty"`
	OriginalStart string     `json:"originalStart,omitempty"`
	Cancelled     bool       `json:"cancelled,omitempty"`
	Location      string     `json:"location,omitempty"`
	Notes         string     `json:"notes,omitempty"`
	Documents     []Document `json:"documents,omitempty"`
	// PrimaryContact and AdditionalContacts are contact ids.
	PrimaryContact     string    `json:"primaryContact,omitempty"`
	AdditionalContacts []string  `json:"additionalContacts,omitempty"`
	Deleted            bool      `json:"deleted"`
	Version            int64     `json:"version"`
	Updated            time.Time `json:"updated"`
}

// Write says who writes, for what, and how to recognise a retry.
type Write struct {
	// AsUser is the acting CRM user's id; office security applies to it.
	// Empty writes as the system (seeding, imports).
	AsUser string
	// Origin tags the change in the feed; this product writes with Origin.
	Origin string
	// IdempotencyKey makes a create safe to retry: the same key returns
	// the first result.
	IdempotencyKey string
}

// Collection names a change feed.
type Collection string

// Change feed collections.
const (
	ContactsFeed   Collection = "contacts"
	ActivitiesFeed Collection = "activities"
)

// Change is one entry of a change feed: the record's id and version after
// the change, and who made it.
type Change struct {
	ID      string    `json:"id"`
	Version int64     `json:"version"`
	Deleted bool      `json:"deleted"`
	Origin  string    `json:"origin,omitempty"`
	Owner   string    `json:"owner,omitempty"` // activities: the owning user
	At      time.Time `json:"at"`
}

// ChangePage is a page of a change feed. Cursor is opaque and only moves
// forward; pass it back to read what changed after this page. More says a
// next page is already waiting.
type ChangePage struct {
	Changes []Change `json:"changes"`
	Cursor  string   `json:"cursor"`
	More    bool     `json:"more"`
}

// ContactQuery selects contacts to list.
type ContactQuery struct {
	SetID    string
	ClientID string
	// Types limits the listing to these types; empty means all.
	Types []ContactType
}

// Directory reads CRM users.
type Directory interface {
	Users(ctx context.Context) ([]User, error)
	User(ctx context.Context, id string) (User, error)
	// UserByEmail finds the user with this login address (any case).
	UserByEmail(ctx context.Context, email string) (User, error)
}

// ContactFinder looks contacts up by e-mail address as a user: the
// case-insensitive exact match over all of a contact's addresses, among
// the contacts the user may access, deleted ones left out.
type ContactFinder interface {
	FindContacts(ctx context.Context, asUser, email string) ([]Contact, error)
}

// Contacts reads and writes contact records and sets.
type Contacts interface {
	ContactFinder
	Contact(ctx context.Context, asUser, id string) (Contact, error)
	ListContacts(ctx context.Context, asUser string, q ContactQuery) ([]Contact, error)
	CreateContact(ctx context.Context, w Write, c Contact) (Contact, error)
	// UpdateContact replaces the contact's fields if c.Version is current.
	UpdateContact(ctx context.Context, w Write, c Contact) (Contact, error)
	// DeleteContact moves the contact to Deleted Records if version is current.
	DeleteContact(ctx context.Context, w Write, id string, version int64) (Contact, error)
	RestoreContact(ctx context.Context, w Write, id string) (Contact, error)
	Sets(ctx context.Context) ([]Set, error)
	CreateSet(ctx context.Context, w Write, name string) (Set, error)
	AddToSet(ctx context.Context, w Write, setID, contactID string) (Contact, error)
	RemoveFromSet(ctx context.Context, w Write, setID, contactID string) (Contact, error)
}

// FeedScope narrows a change feed. Owner limits the activities feed to
// one user's activities; Set limits the contacts feed to changes of
// contacts that were in the set before or after the change (so leaving
// the set is in it). The zero scope is the whole feed.
type FeedScope struct {
	Owner string
	Set   string
}

// Feed reads a change feed.
type Feed interface {
	Changes(ctx context.Context, c Collection, scope FeedScope, cursor string, limit int) (ChangePage, error)
}

// Notes posts e-mail to contacts' SmartPads.
type Notes interface {
	// PostNote posts to the contact (and its linked records n.Records);
	// the same Write.IdempotencyKey returns the first note.
	PostNote(ctx context.Context, w Write, n Note) (Note, error)
	Notes(ctx context.Context, asUser, contactID string) ([]Note, error)
	// Attachment reads one attachment of a note, with its data.
	Attachment(ctx context.Context, asUser, contactID, noteID string, index int) (Attachment, error)
	Records(ctx context.Context, asUser, contactID string) ([]Record, error)
	CreateRecord(ctx context.Context, w Write, r Record) (Record, error)
}

// Clients holds clients and the e-mail activities synced to them.
type Clients interface {
	Client(ctx context.Context, id string) (Client, error)
	ListClients(ctx context.Context) ([]Client, error)
	CreateClient(ctx context.Context, w Write, c Client) (Client, error)
	// CreateEmailActivity files an e-mail on a client; the idempotency key
	// returns the first activity.
	CreateEmailActivity(ctx context.Context, w Write, a EmailActivity) (EmailActivity, error)
	EmailActivity(ctx context.Context, id string) (EmailActivity, error)
	// EmailActivities lists a client's ("" for all) e-mail activities of an
	// owner ("" for all), only those needing review when asked.
	EmailActivities(ctx context.Context, clientID, owner string, needsReview bool) ([]EmailActivity, error)
	// ResolveEmailActivity moves the activity to clientID (the suggested
	// one approves it) and clears needsReview.
	ResolveEmailActivity(ctx context.Context, w Write, id, clientID string, version int64) (EmailActivity, error)
}

// Activities holds calendar activities.
type Activities interface {
	Activity(ctx context.Context, id string) (Activity, error)
	ListActivities(ctx context.Context, owner string) ([]Activity, error)
	CreateActivity(ctx context.Context, w Write, a Activity) (Activity, error)
	UpdateActivity(ctx context.Context, w Write, a Activity) (Activity, error)
	DeleteActivity(ctx context.Context, w Write, id string, version int64) (Activity, error)
}

// CRM is the whole port.
type CRM interface {
	Directory
	Contacts
	Feed
	Notes
	Clients
	Activities
}
