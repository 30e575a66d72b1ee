package contactsync

import (
	"context"

	people "google.golang.org/api/people/v1"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/syncpass"
	"github.com/crmsync/crmsync/shared/twoway"
	"github.com/crmsync/crmsync/shared/workspace"
)

// Engine syncs users' contacts. Its fields are its dependencies.
type Engine struct {
	syncpass.Deps
	CRM    CRM
	Google Google
}

// Pass syncs one user's contacts once.
func (e *Engine) Pass(ctx context.Context, email string) (Result, error) {
	return syncpass.ResultOf[Result](e.runner().Pass(ctx, email, e.newPass))
}

// Preview plans a pass for the user without writing anything (the preview
// report shows it): what would be created, changed and deleted where.
func (e *Engine) Preview(ctx context.Context, email string) (twoway.Plan, error) {
	return e.runner().Preview(ctx, email, e.newPass)
}

// Google gives a People client acting as a user.
type Google interface {
	People(ctx context.Context, email string) (*people.Service, error)
}

// CRM is what contact sync needs of the CRM.
type CRM interface {
	syncpass.CRM
	FindContacts(ctx context.Context, asUser, email string) ([]crm.Contact, error)
	Contact(ctx context.Context, asUser, id string) (crm.Contact, error)
	ListContacts(ctx context.Context, asUser string, q crm.ContactQuery) ([]crm.Contact, error)
	CreateContact(ctx context.Context, w crm.Write, c crm.Contact) (crm.Contact, error)
	UpdateContact(ctx context.Context, w crm.Write, c crm.Contact) (crm.Contact, error)
	DeleteContact(ctx context.Context, w crm.Write, id string, version int64) (crm.Contact, error)
	RemoveFromSet(ctx context.Context, w crm.Write, setID, contactID string) (crm.Contact, error)
}

// Result counts what a pass did.
type Result struct {
	syncpass.Tally
	// Detached counts Google deletions that took a contact out of the
	// synced set instead of deleting it.
	Detached int
	// Duplicates counts new contacts not copied because their address is
	// a contact already synced (another user's copy, or one made before):
	// they are reported to be merged.
	Duplicates int
	// Paused counts pairs that stopped syncing because one side left its
	// scope (a label or set taken away); both records stay.
	Paused int
	// Skipped counts Google contacts not copied because their address
	// belongs to a CRM contact outside the synced scope.
	Skipped int
	// FullCRM says the CRM side was read whole.
	FullCRM bool
	// PeopleCalls counts the People API calls of the pass.
	PeopleCalls int
}

// feature is what contact sync syncs, and where its state is stored.
var feature = syncpass.Feature{Kind: "contacts", GoogleCursor: "people-sync", CRMCursor: "crm-contacts",
	Product: "Google Contacts", Scopes: workspace.PeopleScopes, Feed: crm.ContactsFeed}

// runner runs the engine's passes.
func (e *Engine) runner() *syncpass.Runner {
	return &syncpass.Runner{Deps: e.Deps, Feature: feature, CRM: e.CRM}
}
