package setup

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/connect"
	"github.com/crmsync/crmsync/shared/contactsync"
	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/jobs"
	"github.com/crmsync/crmsync/shared/notify"
	"github.com/crmsync/crmsync/shared/preview"
	"github.com/crmsync/crmsync/shared/store"
)

// CRM is what setup reads and changes in the CRM: its users and their
// integration right, and the contact sets a user may sync.
type CRM interface {
	Users(ctx context.Context) ([]crm.User, error)
	UserByEmail(ctx context.Context, email string) (crm.User, error)
	SetIntegration(ctx context.Context, id string, enabled bool) (crm.User, error)
	Sets(ctx context.Context) ([]crm.Set, error)
	// The review queue of automatic mail sync.
	ListClients(ctx context.Context) ([]crm.Client, error)
	EmailActivity(ctx context.Context, id string) (crm.EmailActivity, error)
	EmailActivities(ctx context.Context, clientID, owner string, needsReview bool) ([]crm.EmailActivity, error)
	ResolveEmailActivity(ctx context.Context, w crm.Write, id, clientID string, version int64) (crm.EmailActivity, error)
}

// Stopper stops a user's Google push (the Gmail watch; the Calendar
// channel) while the grant still works.
type Stopper interface {
	Disconnect(ctx context.Context, email string) error
}

// Service carries out setup actions. Its fields are its dependencies.
type Service struct {
	Store  *store.Store
	CRM    CRM
	Jobs   jobs.Publisher
	Sender notify.Sender
	// Flow connects users of per-user OAuth tenants.
	Flow *connect.Flow
	// Mail stops Gmail watches; Calendar stops push channels.
	Mail, Calendar Stopper
	// WebURL is the web function's public base URL.
	WebURL string
	Clock  clock.Clock
	Log    *slog.Logger
}

// IsAdmin says whether email is an admin of t.
func IsAdmin(t store.Tenant, email string) bool {
	return slices.ContainsFunc(t.Admins, func(a string) bool { return strings.EqualFold(strings.TrimSpace(a), email) })
}

// TenantFor returns the firm whose e-mail domain email is in.
func (s *Service) TenantFor(ctx context.Context, email string) (store.Tenant, error) {
	const op = "setup: tenant"
	id, err := store.UserID(email)
	if err != nil {
		return store.Tenant{}, err
	}
	domain := id[strings.LastIndexByte(id, '@')+1:]
	ts, err := s.Store.Tenants().List(ctx)
	if err != nil {
		return store.Tenant{}, err
	}
	for _, t := range ts {
		if slices.ContainsFunc(t.Domains, func(d string) bool { return strings.EqualFold(d, domain) }) || IsAdmin(t, id) {
			return t, nil
		}
	}
	return store.Tenant{}, failure.Errorf(op, failure.Forbidden, "no firm using this service has the e-mail domain %s; sign in with your work account", domain)
}

// Admit lets a signed-in Google account in: a firm's admin, or a CRM user
// of the firm with the integration right ("Sync & E-mail Posting for
// Google"). Their user record is made on first sign-in; under office-level
// impersonation they are connected at once.
func (s *Service) Admit(ctx context.Context, email string) (store.User, error) {
	const op = "setup: admit"
	t, err := s.TenantFor(ctx, email)
	if err != nil {
		return store.User{}, err
	}
	admin := IsAdmin(t, email)
	cu, err := s.CRM.UserByEmail(ctx, email)
	switch {
	case failure.Is(err, failure.NotFound) && !admin:
		return store.User{}, failure.Errorf(op, failure.Forbidden, "%s is not a %s user; ask your administrator to add you", email, t.CRMName)
	case err != nil && !failure.Is(err, failure.NotFound):
		return store.User{}, err
	case !admin && !cu.IntegrationEnabled:
		return store.User{}, failure.Errorf(op, failure.Forbidden, "you do not have the %s right \"Sync & E-mail Posting for Google\"; ask your administrator to grant it", t.CRMName)
	}
	u, err := s.Store.Users().Get(ctx, email)
	if failure.Is(err, failure.NotFound) {
		nu := store.User{TenantID: t.ID, Email: strings.ToLower(email), DisplayName: cu.Name, CRMUserID: cu.ID}
		if t.AuthMode == store.AuthDelegation {
			nu.Connection = store.Connection{State: store.Connected, ChangedAt: s.Clock.Now(), Reason: "office-level impersonation"}
		}
		u, err = s.Store.Users().Create(ctx, nu)
		if failure.Is(err, failure.Conflict) {
			u, err = s.Store.Users().Get(ctx, email)
		}
	}
	if err != nil {
		return store.User{}, err
	}
	if u.TenantID != t.ID {
		return store.User{}, failure.Errorf(op, failure.Forbidden, "%s belongs to another firm", email)
	}
	return u, nil
}

// Save stores new settings as the next settings version, waiting for
// approval (sync pauses until the new preview is approved; older preview
// links stop working), e-mails the confirmation and asks for the preview.
func (s *Service) Save(ctx context.Context, email string, set Settings) (store.User, error) {
	const op = "setup: save"
	u, err := s.Store.Users().Get(ctx, email)
	if err != nil {
		return store.User{}, err
	}
	t, err := s.Store.Tenants().Get(ctx, u.TenantID)
	if err != nil {
		return store.User{}, err
	}
	if u.Connection.State != store.Connected {
		return store.User{}, failure.Errorf(op, failure.Invalid, "connect Google first: the preview reads your Google data")
	}
	if missing := MissingScopes(set, t, u); len(missing) > 0 {
		var names []string
		for _, f := range missing {
			names = append(names, string(f))
		}
		return store.User{}, failure.Errorf(op, failure.Invalid, "Google access for %s was not granted: connect Google again with it checked", strings.Join(names, " and "))
	}
	u, err = s.Store.Users().Update(ctx, u.ID, func(u *store.User) error {
		labels, watch, channel := u.Mail.Labels, u.Mail.WatchExpiration, u.Calendar.Channel
		u.Mail, u.Contacts, u.Calendar = set.Mail, set.Contacts, set.Calendar
		u.Mail.Labels, u.Mail.WatchExpiration, u.Calendar.Channel = labels, watch, channel
		u.SettingsVersion++
		u.SyncState = store.PendingApproval
		return nil
	})
	if err != nil {
		return store.User{}, err
	}
	s.Log.Info("setup: settings saved", "user", u.ID, "version", u.SettingsVersion)
	if msg, err := preview.Confirmation(t, u, s.WebURL+"/settings"); err != nil {
		s.Log.Error("setup: confirmation e-mail", "user", u.ID, "err", err)
	} else if err := s.Sender.Send(ctx, msg); err != nil {
		// The setup is saved and the preview follows; the confirmation is
		// a courtesy, so its failure is logged, not returned.
		s.Log.Error("setup: confirmation e-mail not sent", "user", u.ID, "err", err)
	}
	if err := jobs.Enqueue(ctx, s.Jobs, jobs.Job{Kind: jobs.Preview, User: u.ID, Version: u.SettingsVersion})(); err != nil {
		return u, failure.Errorf(op, failure.Transient, "your settings were saved, but the preview could not be requested (%v); save again in a minute", err)
	}
	return u, nil
}

// Approved starts sync right after an approval.
func (s *Service) Approved(ctx context.Context, u store.User) error {
	return jobs.Activated(ctx, s.Jobs, u)
}

// stopPush stops the user's Gmail watch and Calendar channel; failures
// are logged (the watch lapses in 7 days, the channel on expiry).
func (s *Service) stopPush(ctx context.Context, u store.User) {
	if u.Connection.State != store.Connected {
		return
	}
	if !u.Mail.WatchExpiration.IsZero() && s.Mail != nil {
		if err := s.Mail.Disconnect(ctx, u.ID); err != nil {
			s.Log.Warn("setup: stopping the Gmail watch", "user", u.ID, "err", err)
		}
	}
	if u.Calendar.Channel.ID != "" && s.Calendar != nil {
		if err := s.Calendar.Disconnect(ctx, u.ID); err != nil {
			s.Log.Warn("setup: stopping the Calendar channel", "user", u.ID, "err", err)
		}
	}
}

// Delete removes the user's sync setup to start over: push stopped, the
// options back to their defaults, sync positions reset (the next setup
// reads everything again; the link tables stay, so nothing is created
// twice), previews voided. Google stays connected.
func (s *Service) Delete(ctx context.Context, email string) (store.User, error) {
	u, err := s.Store.Users().Get(ctx, email)
	if err != nil {
		return store.User{}, err
	}
	s.stopPush(ctx, u)
	u, err = s.Store.Users().Update(ctx, u.ID, func(u *store.User) error {
		labels := u.Mail.Labels
		u.Mail, u.Contacts, u.Calendar = store.MailSetup{Labels: labels}, store.ContactsSetup{}, store.CalendarSetup{}
		u.SettingsVersion++
		u.SyncState, u.Attention = store.NotConfigured, ""
		return nil
	})
	if err != nil {
		return store.User{}, err
	}
	if err := s.Store.Cursors().ResetAll(ctx, u.ID); err != nil {
		return u, err
	}
	s.Log.Info("setup: sync setup deleted", "user", u.ID)
	return u, nil
}

// Disconnect stops the user's push, revokes the grant at Google and wipes
// it (per-user OAuth); the setup stays but nothing runs until the user
// connects again.
func (s *Service) Disconnect(ctx context.Context, email string) (store.User, error) {
	u, err := s.Store.Users().Get(ctx, email)
	if err != nil {
		return store.User{}, err
	}
	s.stopPush(ctx, u)
	u, err = s.Flow.Disconnect(ctx, u.ID)
	if err != nil {
		return store.User{}, err
	}
	s.Log.Info("setup: Google disconnected", "user", u.ID)
	return u, nil
}

// Offboarded is what removing a user did.
type Offboarded struct {
	User string `json:"user"`
	// PushStopped: the Gmail watch and the Calendar channel were stopped.
	PushStopped bool `json:"pushStopped"`
	// GrantRevoked: the user's own Google grant was revoked at Google
	// (per-user OAuth; office-level impersonation has none).
	GrantRevoked bool `json:"grantRevoked"`
	// Deleted counts the documents deleted, by kind.
	Deleted store.Removed `json:"deleted"`
}

// Offboard removes a user who leaves the firm: their Gmail watch and
// Calendar channel are stopped and their grant revoked at Google while it
// still works, then everything the product keeps about them is deleted.
// The CRM is not touched: their notes, contacts and activities stay. The
// user must be of tenant t; the admin's own account cannot be removed
// from here.
func (s *Service) Offboard(ctx context.Context, t store.Tenant, admin, email string) (Offboarded, error) {
	const op = "setup: offboard"
	u, err := s.Store.Users().Get(ctx, email)
	if err != nil {
		return Offboarded{}, err
	}
	if u.TenantID != t.ID {
		return Offboarded{}, failure.Errorf(op, failure.NotFound, "%s is not a user of this firm", email)
	}
	if strings.EqualFold(u.ID, admin) {
		return Offboarded{}, failure.Errorf(op, failure.Invalid, "you cannot remove your own account; another admin can")
	}
	out := Offboarded{User: u.ID}
	if u.Connection.State == store.Connected {
		s.stopPush(ctx, u)
		out.PushStopped = true
	}
	if u.Grant.SealedRefreshToken != "" && s.Flow != nil {
		if _, err := s.Flow.Disconnect(ctx, u.ID); err != nil {
			return out, err
		}
		out.GrantRevoked = true
	}
	if out.Deleted, err = s.Store.Users().Remove(ctx, u.ID); err != nil {
		return out, err
	}
	s.Log.Info("setup: user offboarded", "user", u.ID, "admin", admin, "pushStopped", out.PushStopped, "grantRevoked", out.GrantRevoked)
	return out, nil
}

// FirmOffboarded is what removing a whole firm did.
type FirmOffboarded struct {
	Tenant string       `json:"tenant"`
	Users  []Offboarded `json:"users"`
	// Exported counts the documents written to the export, by kind.
	Exported store.Removed `json:"exported"`
}

// OffboardFirm removes a whole firm before its project is destroyed:
// first everything the product keeps about the firm is written to export
// (JSON lines, one document a line, without credentials); then each
// user is offboarded as the admin page does it (push stopped, grant
// revoked at Google, state deleted); last the firm's own document. The
// CRM is not touched. A failure stops it where it is: what is done is
// reported, and running it again carries on.
func (s *Service) OffboardFirm(ctx context.Context, t store.Tenant, export io.Writer) (FirmOffboarded, error) {
	out := FirmOffboarded{Tenant: t.ID, Exported: store.Removed{}}
	users, err := s.Store.Users().ListByTenant(ctx, t.ID)
	if err != nil {
		return out, err
	}
	if err := s.Store.Tenants().Export(ctx, t.ID, export); err != nil {
		return out, err
	}
	out.Exported["tenants"] = 1
	for _, u := range users {
		n, err := s.Store.Users().ExportUser(ctx, u.ID, export)
		for k, v := range n {
			out.Exported[k] += v
		}
		if err != nil {
			return out, err
		}
	}
	for _, u := range users {
		done, err := s.Offboard(ctx, t, "", u.ID)
		if err != nil {
			return out, err
		}
		out.Users = append(out.Users, done)
	}
	if err := s.Store.Tenants().Delete(ctx, t.ID); err != nil {
		return out, err
	}
	s.Log.Info("setup: firm offboarded", "tenant", t.ID, "users", len(out.Users))
	return out, nil
}

// ConfirmDeletions is the user's go-ahead for a contact pass the
// mass-deletion guard stopped: the next pass applies the deletions once,
// and it runs now.
func (s *Service) ConfirmDeletions(ctx context.Context, email string) (store.User, error) {
	const op = "setup: confirm deletions"
	u, err := s.Store.Users().Update(ctx, email, func(u *store.User) error {
		if !strings.HasPrefix(u.Attention, contactsync.AttentionPrefix) {
			return failure.Errorf(op, failure.Invalid, "no contact sync is waiting for your confirmation")
		}
		u.Contacts.ConfirmedDeletes = true
		return nil
	})
	if err != nil {
		return store.User{}, err
	}
	s.Log.Info("setup: deletions confirmed", "user", u.ID)
	if err := jobs.Enqueue(ctx, s.Jobs, jobs.Job{Kind: jobs.ContactSync, User: u.ID})(); err != nil {
		s.Log.Warn("setup: the confirmed pass waits for the next tick", "user", u.ID, "err", err)
	}
	return u, nil
}
