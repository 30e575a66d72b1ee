package setup

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/store"
)

// Office is the office settings an admin edits. The OAuth client secret
// is not among them: it lives in Secret Manager and is never shown.
type Office struct {
	AppName           string         `json:"appName"`
	OAuthClientID     string         `json:"oauthClientId"`
	AttachmentLimitMB int            `json:"attachmentLimitMB"`
	AllowAllContacts  bool           `json:"allowAllContacts"`
	LabelName         string         `json:"labelName"`
	AuthMode          store.AuthMode `json:"authMode"`
	AutoMailSync      bool           `json:"autoMailSync"`
}

// OfficeOf returns a tenant's office settings.
func OfficeOf(t store.Tenant) Office {
	return Office{AppName: t.AppName, OAuthClientID: t.OAuthClientID, AttachmentLimitMB: int(t.AttachmentLimitBytes >> 20),
		AllowAllContacts: t.AllowAllContacts, LabelName: t.CRMName, AuthMode: t.AuthMode, AutoMailSync: t.AutoMailSync}
}

// OfficeFromForm reads the office settings form.
func OfficeFromForm(f url.Values) (Office, error) {
	var bad Invalid
	o := Office{AppName: strings.TrimSpace(f.Get("appName")), OAuthClientID: strings.TrimSpace(f.Get("oauthClientId")),
		AllowAllContacts: f.Get("allowAllContacts") == "on", LabelName: strings.TrimSpace(f.Get("labelName")),
		AuthMode: store.AuthMode(f.Get("authMode")), AutoMailSync: f.Get("autoMailSync") == "on"}
	if n, err := strconv.Atoi(strings.TrimSpace(f.Get("attachmentLimitMB"))); err != nil || n < 0 || n > 1024 {
		bad = append(bad, FieldError{"attachmentLimitMB", "a whole number of MiB (1,048,576 bytes) from 0 (no limit) to 1024"})
	} else {
		o.AttachmentLimitMB = n
	}
	if o.LabelName == "" || len(o.LabelName) > 40 || strings.ContainsAny(o.LabelName, "/\\\"") {
		bad = append(bad, FieldError{"labelName", "1 to 40 characters, without / \\ or \""})
	}
	if len(o.AppName) > 80 {
		bad = append(bad, FieldError{"appName", "at most 80 characters"})
	}
	if o.OAuthClientID != "" && !strings.HasSuffix(o.OAuthClientID, ".apps.googleusercontent.com") && !strings.HasPrefix(o.OAuthClientID, "sandbox-") {
		bad = append(bad, FieldError{"oauthClientId", "an OAuth client ID ends with .apps.googleusercontent.com"})
	}
	if o.AuthMode != store.AuthUserOAuth && o.AuthMode != store.AuthDelegation {
		bad = append(bad, FieldError{"authMode", "choose per-user OAuth or office-level impersonation"})
	}
	if len(bad) > 0 {
		return o, bad
	}
	return o, nil
}

// SaveOffice stores the office settings of tenant id.
func (s *Service) SaveOffice(ctx context.Context, id string, o Office) (store.Tenant, error) {
	t, err := s.Store.Tenants().Update(ctx, id, func(t *store.Tenant) error {
		t.AppName, t.OAuthClientID, t.AttachmentLimitBytes = o.AppName, o.OAuthClientID, int64(o.AttachmentLimitMB)<<20
		t.AllowAllContacts, t.CRMName, t.AuthMode, t.AutoMailSync = o.AllowAllContacts, o.LabelName, o.AuthMode, o.AutoMailSync
		return nil
	})
	if err == nil {
		s.Log.Info("setup: office settings saved", "tenant", id)
	}
	return t, err
}

// SetRight grants or withdraws a firm user's integration right in the CRM.
func (s *Service) SetRight(ctx context.Context, t store.Tenant, email string, enabled bool) error {
	const op = "setup: user right"
	cu, err := s.CRM.UserByEmail(ctx, email)
	if err != nil {
		return err
	}
	if got, err := s.TenantFor(ctx, cu.Email); err != nil || got.ID != t.ID {
		return failure.Errorf(op, failure.Forbidden, "%s is not a user of %s", email, t.Name)
	}
	if _, err := s.CRM.SetIntegration(ctx, cu.ID, enabled); err != nil {
		return err
	}
	// Withdrawn: every session of the user ends and nothing syncs for them
	// from the next pass; given back, sync goes on from where it stopped.
	now := s.Clock.Now()
	_, err = s.Store.Users().Update(ctx, strings.ToLower(cu.Email), func(u *store.User) error {
		u.RightWithdrawn = !enabled
		if !enabled {
			u.SessionsFrom = now
			u.Attention = RightWithdrawnAttention
		} else if u.Attention == RightWithdrawnAttention {
			u.Attention = ""
		}
		return nil
	})
	if failure.Is(err, failure.NotFound) {
		err = nil // never signed in here: nothing runs for them
	}
	if err == nil {
		s.Log.Info("setup: integration right changed", "tenant", t.ID, "user", cu.ID, "enabled", enabled)
	}
	return err
}

// RightWithdrawnAttention is what the admin page shows of a user whose
// right was withdrawn.
const RightWithdrawnAttention = "The integration right was withdrawn: nothing syncs for this user until it is given back."

// EndSessions ends every session of the user (sign-out).
func (s *Service) EndSessions(ctx context.Context, email string) error {
	now := s.Clock.Now()
	_, err := s.Store.Users().Update(ctx, email, func(u *store.User) error {
		u.SessionsFrom = now
		return nil
	})
	return err
}

// Status is what the status pages show of a user.
type Status struct {
	Email         string          `json:"email"`
	Name          string          `json:"name,omitempty"`
	Admin         bool            `json:"admin"`
	Connection    store.ConnState `json:"connection"`
	ConnectionWhy string          `json:"connectionReason,omitempty"`
	// NeedsAccess are the features (mail, contacts, calendar) the user
	// chose but whose access they unticked on Google's consent screen.
	NeedsAccess     []string                    `json:"needsAccess,omitempty"`
	Setup           store.SyncState             `json:"setup"`
	SettingsVersion int64                       `json:"settingsVersion"`
	Decision        *store.Decision             `json:"decision,omitempty"`
	Passes          map[string]store.PassStatus `json:"passes,omitempty"`
	WatchExpires    *time.Time                  `json:"gmailWatchExpires,omitempty"`
	ChannelExpires  *time.Time                  `json:"calendarChannelExpires,omitempty"`
	Attention       string                      `json:"attention,omitempty"`
	Integration     *bool                       `json:"integrationRight,omitempty"`
	// Stored: the product keeps state for the user (they signed in), which
	// removing them deletes.
	Stored bool `json:"stored"`
	// Today is what the user's mail came to today (posted, failed,
	// unmatched); the roster fills it in.
	Today map[string]int `json:"mailToday,omitempty"`
	// LastError is the newest failure of the user's sync: a pass that
	// failed, or else a message that failed, in words.
	LastError string `json:"lastError,omitempty"`
}

// StatusOf returns a user's status.
func StatusOf(t store.Tenant, u store.User) Status {
	s := Status{Email: u.Email, Name: u.DisplayName, Admin: IsAdmin(t, u.Email), Connection: u.Connection.State, ConnectionWhy: u.Connection.Reason,
		Setup: u.SyncState, SettingsVersion: u.SettingsVersion, Passes: u.Passes, Attention: u.Attention, Stored: !u.CreatedAt.IsZero()}
	if u.Connection.State == store.Connected {
		s.NeedsAccess = u.Connection.Missing
	}
	if u.Decision.State != "" {
		d := u.Decision
		s.Decision = &d
	}
	s.LastError = lastError(u.Passes)
	if !u.Mail.WatchExpiration.IsZero() {
		w := u.Mail.WatchExpiration
		s.WatchExpires = &w
	}
	if !u.Calendar.Channel.Expiration.IsZero() {
		c := u.Calendar.Channel.Expiration
		s.ChannelExpires = &c
	}
	return s
}

// lastError is the newest pass that failed, by feature, or else why the
// newest message that failed, failed.
func lastError(passes map[string]store.PassStatus) string {
	var at time.Time
	out := ""
	for feature, p := range passes {
		if !p.OK && p.Error != "" && p.At.After(at) {
			at, out = p.At, feature+": "+p.Error
		}
	}
	if out == "" && passes["mail"].LastFailure != "" {
		out = "a message failed: " + passes["mail"].LastFailure
	}
	return out
}
