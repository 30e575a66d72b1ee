// Package preview is the preview report of a user's sync settings: what
// the first contact and calendar passes would create, update and delete on
// each side, and how e-mail posting will behave, e-mailed with signed
// Approve and Reject links. Sync becomes active only on Approve.
//
// Links are signed (HMAC), expire, work once, and are bound to the
// settings version they preview: saving the settings again voids them
// (store.Previews.Decide checks all of it in one transaction).
package preview

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/crmsync/crmsync/shared/authn"
	"github.com/crmsync/crmsync/shared/clock"
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
	Links    *Links
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
	if r.ApproveURL, err = s.Links.URL(s.WebURL, p, "approve"); err != nil {
		return err
	}
	if r.RejectURL, err = s.Links.URL(s.WebURL, p, "reject"); err != nil {
		return err
	}
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

// Decide acts on a link's token: approve or reject the preview it belongs
// to. The token must be this product's, unexpired and of this action.
func (s *Service) Decide(ctx context.Context, token string, approve bool) (store.User, error) {
	c, err := s.Links.Open(token, s.Clock.Now())
	if err != nil {
		return store.User{}, err
	}
	if (c.Action == "approve") != approve {
		return store.User{}, failure.Errorf("preview: decide", failure.Invalid, "this link is for %s", c.Action)
	}
	_, u, err := s.Store.Previews().Decide(ctx, c.Preview, approve)
	if err != nil {
		return store.User{}, err
	}
	s.Log.Info("preview: decided", "user", u.ID, "preview", c.Preview, "decision", u.Decision.State)
	return u, nil
}

func appName(t store.Tenant) string {
	if t.AppName != "" {
		return t.AppName
	}
	return t.CRMName + " Sync"
}

// Links signs and opens Approve/Reject tokens.
type Links struct{ signer *authn.Signer }

// NewLinks returns links keyed from the root secret.
func NewLinks(root []byte) (*Links, error) {
	s, err := authn.NewSigner(root, "preview links")
	if err != nil {
		return nil, err
	}
	return &Links{signer: s}, nil
}

// Claims are what a link's token says.
type Claims struct {
	Preview string `json:"p"`
	Version int64  `json:"v"`
	Action  string `json:"a"`
	Expires int64  `json:"e"`
}

// Token returns the signed token of action ("approve" or "reject") on p.
func (l *Links) Token(p store.Preview, action string) (string, error) {
	return l.signer.Sign(Claims{Preview: p.ID, Version: p.SettingsVersion, Action: action, Expires: p.Expires.Unix()})
}

// URL returns the link a report carries: a page that shows a button (GET
// never acts; mail scanners open links).
func (l *Links) URL(webURL string, p store.Preview, action string) (string, error) {
	t, err := l.Token(p, action)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(webURL, "/") + "/preview/" + action + "?t=" + url.QueryEscape(t), nil
}

// Open checks a token and returns its claims: Invalid when tampered with,
// expired or not a preview link.
func (l *Links) Open(token string, now time.Time) (Claims, error) {
	const op = "preview: link"
	var c Claims
	if err := l.signer.Open(token, &c); err != nil {
		return Claims{}, err
	}
	if c.Preview == "" || (c.Action != "approve" && c.Action != "reject") {
		return Claims{}, failure.Errorf(op, failure.Invalid, "this is not a preview link")
	}
	if now.Unix() >= c.Expires {
		return Claims{}, failure.Errorf(op, failure.Invalid, "this link expired on %s; save your settings again for a new preview", time.Unix(c.Expires, 0).UTC().Format("2 Jan 2006 15:04 MST"))
	}
	return c, nil
}

// DirectionText names a sync direction as the settings page does.
func DirectionText(d string) string {
	switch d {
	case "crm-to-google":
		return "CRM to Google only"
	case "google-to-crm":
		return "Google to CRM only"
	case "both":
		return "both ways"
	}
	return "do not sync"
}
