// Package preview is the preview report of a user's sync settings: what
// the first contact and calendar passes would create, update and delete on
// each side, and how e-mail posting will behave, e-mailed with Approve and
// Reject links. Sync becomes active only on Approve.
//
// A link names the preview and carries no secret: opening it sends the
// user through sign-in, and only the user the preview belongs to can
// decide, with a form (GET never acts, because mail scanners open links).
// A decision works once, before the preview expires, and only for the
// settings version it previews: saving the settings again voids it
// (store.Previews.Decide checks all of it in one transaction).
package preview

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/direction"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/notify"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/twoway"
)

// Planner plans a user's first pass without writing (contactsync and
// calendarsync engines).
type Planner interface {
	Preview(ctx context.Context, email string) (twoway.Plan, error)
}

// Service makes and decides previews.
type Service struct {
	Store    *store.Store
	Contacts Planner
	Calendar Planner
	Sender   notify.Sender
	// WebURL is the web function's public base URL.
	WebURL string
	Clock  clock.Clock
	Log    *slog.Logger
	// TTL is how long links work (default 7 days).
	TTL time.Duration
}

// MaxRows is how many rows of each section the report lists.
const MaxRows = 10

func (s *Service) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return 7 * 24 * time.Hour
}

// Run makes and e-mails the preview of the user's settings version, once:
// a preview job delivered again, or for settings saved since, does
// nothing.
func (s *Service) Run(ctx context.Context, email string, version int64) error {
	u, err := s.Store.Users().Get(ctx, email)
	if failure.Is(err, failure.NotFound) {
		s.Log.Info("preview: the user is gone; nothing to do", "user", email)
		return nil
	}
	if err != nil {
		return err
	}
	if u.SettingsVersion != version || u.SyncState != store.PendingApproval {
		s.Log.Info("preview: superseded; nothing to do", "user", u.ID, "version", version, "current", u.SettingsVersion, "state", u.SyncState)
		return nil
	}
	t, err := s.Store.Tenants().Get(ctx, u.TenantID)
	if err != nil {
		return err
	}
	now := s.Clock.Now()
	p, _, err := s.Store.Previews().Create(ctx, store.Preview{User: u.ID, TenantID: u.TenantID, SettingsVersion: version, Expires: now.Add(s.ttl())})
	if err != nil {
		return err
	}
	if !p.SentAt.IsZero() {
		s.Log.Info("preview: already sent", "user", u.ID, "preview", p.ID)
		return nil
	}
	r := Report{App: appName(t), Firm: t.Name, User: u, Tenant: t, Expires: p.Expires}
	if r.Contacts, err = s.section(ctx, "Contacts", u.Contacts.Direction, s.Contacts, u.ID); err != nil {
		return err
	}
	if r.Calendar, err = s.section(ctx, "Calendar", u.Calendar.Direction, s.Calendar, u.ID); err != nil {
		return err
	}
	r.Mail = MailBehaviour(t, u.Mail)
	r.ApproveURL, r.RejectURL = LinkURL(s.WebURL, p.ID, "approve"), LinkURL(s.WebURL, p.ID, "reject")
	msg, err := r.Message()
	if err != nil {
		return err
	}
	msg.Key = "preview-" + p.ID
	if err := s.Sender.Send(ctx, msg); err != nil {
		return err
	}
	s.Log.Info("preview: sent", "user", u.ID, "preview", p.ID, "version", version)
	return s.Store.Previews().MarkSent(ctx, p.ID, r.Summary())
}

// section plans one feature. A plan that cannot be made for a lasting
// reason (Google not connected, a missing calendar) is reported in the
// section; a passing one (Google or the CRM unavailable) fails the run so
// the job is retried.
func (s *Service) section(ctx context.Context, title, direction string, planner Planner, user string) (Section, error) {
	sec := Section{Title: title, Direction: DirectionText(direction)}
	if direction == "" || direction == "off" {
		sec.Off = true
		return sec, nil
	}
	plan, err := planner.Preview(ctx, user)
	if err != nil {
		if failure.KindOf(err).Retryable() {
			return sec, err
		}
		sec.Problem = failure.Message(err)
		return sec, nil
	}
	return SectionOf(sec, plan), nil
}

// Decide applies the signed-in user's Approve or Reject to the preview id:
// it must be theirs, pending, unexpired and of their current settings.
func (s *Service) Decide(ctx context.Context, user, id string, approve bool) (store.User, error) {
	if id == "" {
		return store.User{}, failure.Errorf("preview: decide", failure.Invalid, "this link names no preview; use the links of the newest preview e-mail")
	}
	_, u, err := s.Store.Previews().Decide(ctx, user, id, approve)
	if err != nil {
		return store.User{}, err
	}
	s.Log.Info("preview: decided", "user", u.ID, "preview", id, "decision", u.Decision.State)
	return u, nil
}

// Check says whether the user can still decide the preview id, with the
// reason in words when they cannot, so the link's page offers no button
// that would only fail.
func (s *Service) Check(ctx context.Context, u store.User, id string) (store.Preview, error) {
	if id == "" {
		return store.Preview{}, failure.Errorf("preview: check", failure.Invalid, "this link names no preview; use the links of the newest preview e-mail")
	}
	p, err := s.Store.Previews().Get(ctx, id)
	if failure.Is(err, failure.NotFound) {
		return store.Preview{}, failure.Errorf("preview: check", failure.Invalid, "no such preview; it may have been deleted with its sync setup")
	}
	if err != nil {
		return store.Preview{}, err
	}
	return p, p.Refusal(u, s.Clock.Now())
}

func appName(t store.Tenant) string {
	if t.AppName != "" {
		return t.AppName
	}
	return t.CRMName + " Sync"
}

// LinkURL is the link a report carries for action ("approve" or
// "reject"): the preview's id, no secret.
func LinkURL(webURL, id, action string) string {
	return strings.TrimSuffix(webURL, "/") + "/preview/" + action + "?p=" + url.QueryEscape(id)
}

// DirectionText names a stored sync direction as the settings page does.
func DirectionText(d string) string {
	parsed, _ := direction.Parse(d)
	return parsed.Text()
}
