// Package mailbox is the e-mail posting engine (label mode): it finds the
// messages a user labeled with the CRM's label, posts each to the matching
// CRM contacts, and relabels it with its outcome.
//
// A pass for one user (Process on a Gmail notification, Sweep on the
// scheduler's tick) runs under the user's lease, so passes of one user
// never overlap. It reads what changed since the stored history cursor
// (history.list, labelAdded of the trigger label, pages of 500), or, when
// Gmail no longer has that history (404), lists the messages carrying the
// trigger label. Each message is claimed in the ledger, fetched within the
// instance's memory budget (its raw form, the budget reserved as the bytes
// arrive), matched (package matching) and posted with an idempotency key
// of user, message and contact, so no redelivery, crash or retry ever
// posts it twice. Gmail calls are paced to the user's and the project's
// per-minute limits (pacing.go). Outcomes are written back in batches with
// messages.batchModify: the trigger label off, exactly one status label on.
// The cursor advances only after that. A message that fails transiently
// keeps its trigger label and is tried again by the next sweep (the cursor
// moves on, so a notification storm does not retry it in a tight loop);
// after MaxAttempts passes it is labeled Failed with the reason.
package mailbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/sync/errgroup"
	gmail "google.golang.org/api/gmail/v1"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/mailparse"
	"github.com/crmsync/crmsync/shared/matching"
	"github.com/crmsync/crmsync/shared/reconnect"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/workspace"
)

// CRM is what the engine needs of the CRM.
type CRM interface {
	UserByEmail(ctx context.Context, email string) (crm.User, error)
	FindContacts(ctx context.Context, asUser, email string) ([]crm.Contact, error)
	PostNote(ctx context.Context, w crm.Write, n crm.Note) (crm.Note, error)
	Records(ctx context.Context, asUser, contactID string) ([]crm.Record, error)
	// Automatic mail sync files e-mail activities on clients.
	CreateEmailActivity(ctx context.Context, w crm.Write, a crm.EmailActivity) (crm.EmailActivity, error)
	EmailActivities(ctx context.Context, clientID, owner string, needsReview bool) ([]crm.EmailActivity, error)
}

// LostAccess is told when a user's Google access is gone (package
// reconnect marks the user disconnected and asks them, once, to
// reconnect).
type LostAccess interface {
	Lost(ctx context.Context, email string, cause error) error
}

// Gmail gives a Gmail client acting as a user.
type Gmail interface {
	Gmail(ctx context.Context, email string) (*gmail.Service, error)
}

// Label roles.
const (
	RoleTrigger   = "trigger"
	RolePosted    = "posted"
	RoleFailed    = "failed"
	RoleUnmatched = "unmatched"
)

var roles = []string{RoleTrigger, RolePosted, RoleFailed, RoleUnmatched}

// LabelName is the Gmail label of a role for a CRM called crmName:
// "SmartOffice", "SmartOfficePosted", …
func LabelName(crmName, role string) string {
	switch role {
	case RolePosted:
		return crmName + "Posted"
	case RoleFailed:
		return crmName + "Failed"
	case RoleUnmatched:
		return crmName + "Unmatched"
	}
	return crmName
}

func roleOf(s matching.Status) string {
	switch s {
	case matching.Posted:
		return RolePosted
	case matching.Unmatched:
		return RoleUnmatched
	}
	return RoleFailed
}

// Engine posts users' labeled mail. Its fields are its dependencies.
type Engine struct {
	Store  *store.Store
	CRM    CRM
	Google Gmail
	Log    *slog.Logger
	Clock  clock.Clock
	// Topic is the Pub/Sub topic Gmail notifications go to
	// ("projects/P/topics/gmail-notifications").
	Topic string
	// Holder names this worker in leases and ledger claims.
	Holder string
	// Retry is the budget of each Google call.
	Retry workspace.Retry
	// MaxAttempts is how many passes may fail on a message transiently
	// before it is labeled Failed (default 5).
	MaxAttempts int
	// LeaseTTL is how long the user's lease and a message's claim outlive
	// a pass that stops renewing them, because its instance died (default
	// 2 minutes; a live pass renews its lease, so it may run longer).
	LeaseTTL time.Duration
	// Parallel is how many messages of a pass are fetched and posted at
	// once (default 8); Gmail's per-user quota, not this, bounds the rate.
	Parallel int
	// UserUnitsPerMinute is Gmail's per-user limit each user's calls are
	// paced to (default DefaultUserUnitsPerMinute), so a burst runs at the
	// quota's pace instead of into refusals.
	UserUnitsPerMinute int
	// InstanceUnitsPerMinute is this instance's share of the project's
	// limit (the project's units a minute divided by the most instances
	// that call Gmail at once; config GMAIL_PROJECT_UNITS_PER_MINUTE and
	// GMAIL_INSTANCES). Every user's calls in the instance are paced to it
	// too, so all instances together stay under the project's limit. Zero:
	// no instance pace.
	InstanceUnitsPerMinute int
	// Lost handles a user whose Google access is gone; nil marks the user
	// disconnected without an e-mail.
	Lost LostAccess

	// MemoryBudget bounds the memory (bytes, estimated from each message's
	// size) that the instance's passes hold for messages being handled at
	// once (default DefaultMemoryBudget): a message waits for room before
	// it is downloaded, and one that could never fit is labeled Failed
	// with the reason. One Engine serves a whole instance, so the budget
	// covers all its concurrent passes.
	MemoryBudget int64

	budgetsMu sync.Mutex
	budgets   map[string]*pacer
	instance  *pacer
	tenantsMu sync.Mutex
	tenants   map[string]cachedTenant
	memOnce   sync.Once
	mem       *memoryBudget
}

// tenantTTL is how long an instance reuses a firm's settings before it
// reads them again: an admin's change reaches passes within it.
const tenantTTL = time.Minute

// tenant is the firm's settings, read at most once a tenantTTL per
// instance rather than once a pass.
func (e *Engine) tenant(ctx context.Context, id string) (store.Tenant, error) {
	now := e.Clock.Now()
	e.tenantsMu.Lock()
	c, ok := e.tenants[id]
	e.tenantsMu.Unlock()
	if ok && now.Sub(c.at) < tenantTTL {
		return c.t, nil
	}
	t, err := e.Store.Tenants().Get(ctx, id)
	if err != nil {
		return store.Tenant{}, err
	}
	e.tenantsMu.Lock()
	if e.tenants == nil {
		e.tenants = map[string]cachedTenant{}
	}
	e.tenants[id] = cachedTenant{t: t, at: now}
	e.tenantsMu.Unlock()
	return t, nil
}

type cachedTenant struct {
	t  store.Tenant
	at time.Time
}

// userPacer is the user's Gmail pacer in this instance.
func (e *Engine) userPacer(user string) *pacer {
	e.budgetsMu.Lock()
	defer e.budgetsMu.Unlock()
	if e.budgets == nil {
		e.budgets = map[string]*pacer{}
	}
	p := e.budgets[user]
	if p == nil {
		p = newPacer(cmp.Or(e.UserUnitsPerMinute, DefaultUserUnitsPerMinute))
		e.budgets[user] = p
	}
	return p
}

// instancePacer is the instance's share of the project's limit, or nil.
func (e *Engine) instancePacer() *pacer {
	e.budgetsMu.Lock()
	defer e.budgetsMu.Unlock()
	if e.instance == nil && e.InstanceUnitsPerMinute > 0 {
		e.instance = newPacer(e.InstanceUnitsPerMinute)
	}
	return e.instance
}

// gmailCall makes the call within the retry budget, waiting for its quota
// units from the user's pacer (and the instance's) before every attempt,
// so retries keep to the pace too. A refusal for the quota slows the
// user's pace (and the instance's, when the project's limit refused), so
// the next calls wait for the quota instead of retrying into more
// refusals.
func gmailCall[T any](ctx context.Context, p *pass, op string, units int, fn func() (T, error)) (T, error) {
	user, inst := p.e.userPacer(p.user.ID), p.e.instancePacer()
	return workspace.Call(ctx, p.e.Retry, op, func() (T, error) {
		var zero T
		if err := user.wait(ctx, units); err != nil {
			return zero, failure.E(op, failure.Transient, err)
		}
		if inst != nil {
			if err := inst.wait(ctx, units); err != nil {
				return zero, failure.E(op, failure.Transient, err)
			}
		}
		v, err := fn()
		switch {
		case err != nil && failure.KindOf(workspace.Classify(op, err)) == failure.Quota:
			user.refused()
			if inst != nil && projectLimited(err) {
				inst.refused()
			}
		case err == nil:
			user.passed()
			if inst != nil {
				inst.passed()
			}
		}
		return v, err
	})
}

func (e *Engine) parallel() int {
	if e.Parallel > 0 {
		return e.Parallel
	}
	return 8
}

const (
	cursorName = "gmail-history"
	leaseScope = "mail"
)

func (e *Engine) maxAttempts() int {
	if e.MaxAttempts > 0 {
		return e.MaxAttempts
	}
	return 5
}

func (e *Engine) leaseTTL() time.Duration {
	if e.LeaseTTL > 0 {
		return e.LeaseTTL
	}
	return store.PassLeaseTTL
}

// Result counts what a pass did.
type Result struct {
	Posted, Failed, Unmatched int
	// Synced, Review and NoClient count automatic mail sync: e-mail
	// activities filed on one client, filed on a guess waiting for review,
	// and messages of no client (remembered, never filed later).
	Synced, Review, NoClient int
	// Retrying counts messages left for a later pass after a transient failure.
	Retrying int
	// Resynced says the history was gone and the labeled messages were listed.
	Resynced bool
	// LastFailure is why the pass's last message that failed, failed.
	LastFailure string
}

func (r Result) counts() map[string]int {
	return map[string]int{"posted": r.Posted, "failed": r.Failed, "unmatched": r.Unmatched, "retrying": r.Retrying,
		"synced": r.Synced, "review": r.Review, "noClient": r.NoClient}
}

// pass is one user's pass: everything it needs, read once.
type pass struct {
	e      *Engine
	holder string // this pass, in leases and ledger claims
	user   store.User
	tenant store.Tenant
	gm     *gmail.Service
	crmer  crm.User
	labels map[string]string // role → label id

	mu     sync.Mutex // guards result while messages are handled in parallel
	result Result
	// cursor is the history cursor as the pass read it.
	cursor store.Cursor
	// status is the pass's status, written when the lease is released.
	status []store.Write
}

// ErrBusy is returned (as Transient) when another pass of the user is
// running; the notification is redelivered later.
var ErrBusy = errors.New("mailbox: another pass of this user is running")

// begin loads the user and takes the lease. A nil pass with a nil error
// means there is nothing to do for this address.
func (e *Engine) begin(ctx context.Context, email string) (context.Context, *pass, func(), error) {
	// The user, the history cursor and the lease, in one read.
	start, err := e.Store.StartPass(ctx, email, leaseScope, cursorName)
	u := start.User
	if failure.Is(err, failure.NotFound) {
		e.Log.Info("mail: notification for an unknown user; acknowledged", "user", email)
		return ctx, nil, nil, nil
	}
	if err != nil {
		return ctx, nil, nil, err
	}
	if (!u.Mail.Enabled && !u.Mail.AutoSync) || u.Connection.State != store.Connected || u.SyncState != store.Active || u.RightWithdrawn {
		e.Log.Info("mail: posting is not active for the user; acknowledged", "user", u.ID, "connection", u.Connection.State, "setup", u.SyncState)
		return ctx, nil, nil, nil
	}
	if !u.Granted(workspace.GmailScopes()) {
		// The user unticked Gmail on Google's consent screen: no 403 loop;
		// the status page asks them to give access.
		e.Log.Info("mail: no access granted to Gmail; acknowledged", "user", u.ID)
		return ctx, nil, nil, nil
	}
	work, holder, end, err := e.Store.Leases().HoldPassFrom(ctx, start, e.Holder, e.leaseTTL())
	if failure.Is(err, failure.Conflict) {
		return ctx, nil, nil, failure.E("mailbox: lease", failure.Transient, ErrBusy)
	}
	if err != nil {
		return ctx, nil, nil, err
	}
	p := &pass{e: e, user: u, holder: holder, cursor: start.Cursor}
	release := func() {
		// The pass's status is written with the lease's release.
		if err := end(p.status...); err != nil {
			e.Log.Warn("mail: lease release", "user", u.ID, "err", err)
		}
	}
	if err := p.load(work); err != nil {
		release()
		return ctx, nil, nil, p.fail(ctx, err)
	}
	return work, p, release, nil
}

func (p *pass) load(ctx context.Context) error {
	var err error
	if p.tenant, err = p.e.tenant(ctx, p.user.TenantID); err != nil {
		return err
	}
	if p.crmer, err = p.e.CRM.UserByEmail(ctx, p.user.Email); err != nil {
		if failure.Is(err, failure.NotFound) {
			return failure.Errorf("mailbox: CRM user", failure.Permanent, "no CRM user has the address %s", p.user.Email)
		}
		return err
	}
	if p.gm, err = p.e.Google.Gmail(ctx, p.user.Email); err != nil {
		return err
	}
	p.labels = p.user.Mail.Labels
	return nil
}

// fail records a pass that could not run. Lost Google access marks the
// user disconnected (and is not retried); a configuration problem is
// recorded for the admin (and the pass waits for the fix, not retried
// now); other errors are returned.
func (p *pass) fail(ctx context.Context, err error) error {
	now := p.e.Clock.Now()
	if failure.Is(err, failure.Configuration) {
		p.e.Store.Users().RecordPass(ctx, p.user.ID, "mail", store.PassStatus{At: now, OK: false, Counts: p.result.counts(), Error: failure.Message(err)})
	}
	if failure.Is(err, failure.AuthRevoked) || failure.Is(err, failure.Configuration) {
		lost := p.e.Lost
		if lost == nil {
			lost = &reconnect.Handler{Store: p.e.Store, Clock: p.e.Clock, Log: p.e.Log}
		}
		return lost.Lost(ctx, p.user.ID, err)
	}
	p.e.Store.Users().RecordPass(ctx, p.user.ID, "mail", store.PassStatus{At: now, OK: false, Counts: p.result.counts(), Error: err.Error()})
	return err
}

// Connect makes the user's labels and starts (or renews) the Gmail watch
// on the trigger label. It sets the history cursor when there is none.
func (e *Engine) Connect(ctx context.Context, email string) error {
	ctx, p, release, err := e.begin(ctx, email)
	if err != nil || p == nil {
		return err
	}
	defer release()
	var watched []string
	if p.user.Mail.Enabled {
		if err := p.ensureLabels(ctx); err != nil {
			return p.fail(ctx, err)
		}
		watched = append(watched, p.labels[RoleTrigger])
	}
	if p.auto() {
		watched = append(watched, "INBOX", "SENT")
	}
	resp, err := gmailCall(ctx, p, "gmail: users.watch", 100, func() (*gmail.WatchResponse, error) {
		return p.gm.Users.Watch("me", &gmail.WatchRequest{TopicName: e.Topic, LabelIds: watched, LabelFilterBehavior: "include"}).Context(ctx).Do()
	})
	if err != nil {
		return p.fail(ctx, err)
	}
	if cur := p.cursor; cur.Value == "" {
		if _, err := e.Store.Cursors().Advance(ctx, p.user.ID, cur, strconv.FormatUint(resp.HistoryId, 10)); err != nil {
			return err
		}
	}
	_, err = e.Store.Users().Update(ctx, p.user.ID, func(u *store.User) error {
		u.Mail.WatchExpiration = time.UnixMilli(resp.Expiration)
		return nil
	})
	return err
}

// Disconnect stops the Gmail watch.
func (e *Engine) Disconnect(ctx context.Context, email string) error {
	gm, err := e.Google.Gmail(ctx, email)
	if err != nil {
		return err
	}
	_, err = workspace.Call(ctx, e.Retry, "gmail: users.stop", func() (any, error) { return nil, gm.Users.Stop("me").Context(ctx).Do() })
	if failure.Is(err, failure.AuthRevoked) {
		return nil // nothing left to stop
	}
	return err
}

// ensureLabels finds or makes the four labels and stores their ids.
func (p *pass) ensureLabels(ctx context.Context) error {
	list, err := gmailCall(ctx, p, "gmail: labels.list", 1, func() (*gmail.ListLabelsResponse, error) {
		return p.gm.Users.Labels.List("me").Context(ctx).Do()
	})
	if err != nil {
		return err
	}
	byName := map[string]string{}
	for _, l := range list.Labels {
		byName[strings.ToLower(l.Name)] = l.Id
	}
	ids := map[string]string{}
	for _, role := range roles {
		name := LabelName(p.tenant.CRMName, role)
		if id, ok := byName[strings.ToLower(name)]; ok {
			ids[role] = id
			continue
		}
		l, err := gmailCall(ctx, p, "gmail: labels.create", 5, func() (*gmail.Label, error) {
			return p.gm.Users.Labels.Create("me", &gmail.Label{Name: name, LabelListVisibility: "labelShow", MessageListVisibility: "show"}).Context(ctx).Do()
		})
		if err != nil {
			return err
		}
		ids[role] = l.Id
	}
	if !maps.Equal(ids, p.labels) {
		if _, err := p.e.Store.Users().Update(ctx, p.user.ID, func(u *store.User) error { u.Mail.Labels = ids; return nil }); err != nil {
			return err
		}
	}
	p.labels = ids
	return nil
}

// Process runs a pass for a notification of the user's mailbox: the
// history since the cursor, for labeled messages (label posting) and new
// messages (automatic mail sync).
func (e *Engine) Process(ctx context.Context, email string) (Result, error) {
	ctx, p, release, err := e.begin(ctx, email)
	if err != nil || p == nil {
		return Result{}, err
	}
	defer release()
	return p.result, p.fromHistory(ctx, true)
}

// fromHistory handles what changed since the cursor: messages labeled
// (label posting) and new messages (automatic mail sync), then moves the
// cursor and records the pass. pushed says a notification started it.
func (p *pass) fromHistory(ctx context.Context, pushed bool) error {
	cur := p.cursor
	newest := ""
	if p.user.Mail.Enabled {
		var err error
		if newest, err = p.processLabeled(ctx, cur.Value); err != nil {
			return p.fail(ctx, err)
		}
	}
	if p.auto() {
		n, err := p.processNew(ctx, cur.Value)
		if err != nil {
			return p.fail(ctx, err)
		}
		if newer(n, newest) {
			newest = n
		}
	}
	if newest != "" && newest != cur.Value && newer(newest, cur.Value) {
		if _, err := p.e.Store.Cursors().Advance(ctx, p.user.ID, cur, newest); err != nil && !failure.Is(err, failure.Conflict) {
			return p.fail(ctx, err)
		}
	}
	return p.done(ctx, pushed, false)
}

// listingEvery is how often a sweep lists every message carrying the
// trigger label even when nothing says it must.
const listingEvery = 24 * time.Hour

// listingDue says whether the sweep must list the labeled messages rather
// than read the history since the cursor: a message waits to be tried
// again (it keeps its label, but the cursor moved past it), the last pass
// failed, there is no cursor or the labels are not all known, or the
// last listing is a day old.
func (p *pass) listingDue() bool {
	last := p.user.Passes["mail"]
	return p.user.Mail.Enabled && (!last.OK || last.RetryPending || p.cursor.Value == "" || len(p.labels) != len(roles) ||
		p.e.Clock.Now().Sub(last.Listed) >= listingEvery)
}

// processLabeled posts the messages labeled since the cursor (all labeled
// messages when the history is gone) and returns the newest history id.
func (p *pass) processLabeled(ctx context.Context, cursor string) (string, error) {
	if len(p.labels) != len(roles) {
		if err := p.ensureLabels(ctx); err != nil {
			return "", err
		}
	}
	ids, newest, err := p.changedSince(ctx, cursor)
	if failure.Is(err, failure.NotFound) || failure.Is(err, failure.CursorExpired) || cursor == "" {
		p.result.Resynced = true
		p.e.Log.Info("mail: history gone; listing labeled messages", "user", p.user.ID, "cursor", cursor)
		ids, newest, err = p.labeled(ctx)
	}
	if err != nil {
		return "", err
	}
	return newest, p.handle(ctx, ids)
}

// Sweep processes every message still carrying the trigger label, so a
// lost notification delays a message by one sweep period at worst. It
// also re-makes labels the user deleted.
func (e *Engine) Sweep(ctx context.Context, email string) (Result, error) {
	ctx, p, release, err := e.begin(ctx, email)
	if err != nil || p == nil {
		return Result{}, err
	}
	defer release()
	if !p.listingDue() {
		// The history since the cursor holds whatever a lost notification
		// was about: 2 quota units instead of the listing's 7.
		return p.result, p.fromHistory(ctx, false)
	}
	cur, newest := p.cursor, ""
	if p.user.Mail.Enabled {
		if err := p.ensureLabels(ctx); err != nil {
			return p.result, p.fail(ctx, err)
		}
		// Every message labeled before the mailbox's history id read
		// here is in the listing; later ones are in the history after it.
		ids, listedAt, err := p.labeled(ctx)
		if err != nil {
			return p.result, p.fail(ctx, err)
		}
		if err := p.handle(ctx, ids); err != nil {
			return p.result, p.fail(ctx, err)
		}
		newest = listedAt
	}
	if p.auto() {
		// The safety net of automatic sync: the history since the cursor,
		// for mail whose notification was lost. Labeled mail was all
		// listed above, so moving the cursor skips none of it.
		n, err := p.processNew(ctx, cur.Value)
		if err != nil {
			return p.result, p.fail(ctx, err)
		}
		if newer(n, newest) {
			newest = n
		}
	}
	if newest != "" && newer(newest, cur.Value) {
		if _, err := e.Store.Cursors().Advance(ctx, p.user.ID, cur, newest); err != nil && !failure.Is(err, failure.Conflict) {
			return p.result, p.fail(ctx, err)
		}
	}
	return p.result, p.done(ctx, false, p.user.Mail.Enabled)
}

// done records the pass. A pass a notification started (pushed) says so,
// which lets the next sweeps be skipped while notifications flow; a sweep
// that listed the labeled messages (listed) says so, and whether a message
// still waits to be tried again; other passes keep what the last said.
func (p *pass) done(ctx context.Context, pushed, listed bool) error {
	p.e.Log.Info("mail: pass done", "user", p.user.ID, "posted", p.result.Posted, "failed", p.result.Failed,
		"unmatched", p.result.Unmatched, "retrying", p.result.Retrying, "resynced", p.result.Resynced)
	now := p.e.Clock.Now()
	last := p.user.Passes["mail"]
	st := store.PassStatus{At: now, OK: true, Counts: p.result.counts(), Pushed: last.Pushed, Listed: last.Listed,
		RetryPending: last.RetryPending || p.result.Retrying > 0}
	if pushed {
		st.Pushed = now
	}
	if listed || p.result.Resynced {
		st.Listed, st.RetryPending = now, p.result.Retrying > 0
	}
	// The day's counts go on from the last pass's, unless a day began.
	st.Day, st.Today, st.LastFailure = now.UTC().Format(time.DateOnly), map[string]int{}, last.LastFailure
	if last.Day == st.Day {
		maps.Copy(st.Today, last.Today)
	}
	for k, n := range map[string]int{"posted": p.result.Posted, "failed": p.result.Failed, "unmatched": p.result.Unmatched} {
		st.Today[k] += n
	}
	if p.result.LastFailure != "" {
		st.LastFailure = p.result.LastFailure
	}
	w, err := p.e.Store.Users().PassWrite(p.user.ID, "mail", st)
	if err != nil {
		return err
	}
	p.status = []store.Write{w} // with the lease's release
	return nil
}

func newer(a, b string) bool {
	x, err1 := strconv.ParseUint(a, 10, 64)
	y, err2 := strconv.ParseUint(b, 10, 64)
	return err1 == nil && (err2 != nil || x > y)
}

// changedSince lists the messages that got the trigger label after the
// cursor, and the newest history id.
func (p *pass) changedSince(ctx context.Context, cursor string) ([]string, string, error) {
	trigger := p.labels[RoleTrigger]
	return p.history(ctx, cursor, func(c *gmail.UsersHistoryListCall) *gmail.UsersHistoryListCall {
		return c.HistoryTypes("labelAdded").LabelId(trigger)
	}, func(h *gmail.History, add func(string)) {
		for _, la := range h.LabelsAdded {
			if la.Message != nil && slices.Contains(la.LabelIds, trigger) {
				add(la.Message.Id)
			}
		}
	})
}

// history reads the mailbox history after the cursor, page by page, with
// the query narrowed by narrow; pick adds the message ids of each record.
// It returns the ids (each once, in order) and the newest history id. An
// empty cursor reads nothing.
func (p *pass) history(ctx context.Context, cursor string, narrow func(*gmail.UsersHistoryListCall) *gmail.UsersHistoryListCall,
	pick func(h *gmail.History, add func(id string))) ([]string, string, error) {
	if cursor == "" {
		return nil, "", nil
	}
	start, err := strconv.ParseUint(cursor, 10, 64)
	if err != nil {
		return nil, "", failure.Errorf("mailbox: cursor", failure.CursorExpired, "stored history id %q is not a number", cursor)
	}
	var ids []string
	seen := map[string]bool{}
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	newest := cursor
	err = workspace.EachPage(func(page string) (string, error) {
		resp, err := gmailCall(ctx, p, "gmail: history.list", 2, func() (*gmail.ListHistoryResponse, error) {
			return workspace.AtPage(narrow(p.gm.Users.History.List("me").StartHistoryId(start).MaxResults(500).Context(ctx)), page).Do()
		})
		if err != nil {
			return "", err
		}
		for _, h := range resp.History {
			pick(h, add)
		}
		if resp.HistoryId > 0 {
			newest = strconv.FormatUint(resp.HistoryId, 10)
		}
		return resp.NextPageToken, nil
	})
	if err != nil {
		return nil, "", err
	}
	return ids, newest, nil
}

// labeled lists every message carrying the trigger label, and the
// mailbox's history id read before listing (the cursor after a resync).
func (p *pass) labeled(ctx context.Context) ([]string, string, error) {
	return p.listed(ctx, []string{p.labels[RoleTrigger]}, "")
}

// listed lists the messages of each label (matching q, when set), each
// once, and the mailbox's history id read before listing.
func (p *pass) listed(ctx context.Context, labelIDs []string, q string) ([]string, string, error) {
	prof, err := gmailCall(ctx, p, "gmail: getProfile", 1, func() (*gmail.Profile, error) {
		return p.gm.Users.GetProfile("me").Context(ctx).Do()
	})
	if err != nil {
		return nil, "", err
	}
	var ids []string
	seen := map[string]bool{}
	for _, label := range labelIDs {
		page := ""
		for {
			resp, err := gmailCall(ctx, p, "gmail: messages.list", 5, func() (*gmail.ListMessagesResponse, error) {
				c := p.gm.Users.Messages.List("me").LabelIds(label).MaxResults(500).Context(ctx)
				if q != "" {
					c = c.Q(q)
				}
				if page != "" {
					c = c.PageToken(page)
				}
				return c.Do()
			})
			if err != nil {
				return nil, "", err
			}
			for _, m := range resp.Messages {
				if !seen[m.Id] {
					seen[m.Id] = true
					ids = append(ids, m.Id)
				}
			}
			if page = resp.NextPageToken; page == "" {
				break
			}
		}
	}
	return ids, strconv.FormatUint(prof.HistoryId, 10), nil
}

// handle posts the messages and relabels them by outcome.
func (p *pass) handle(ctx context.Context, ids []string) error {
	byRole := map[string][]string{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.e.parallel())
	for _, id := range ids {
		g.Go(func() error {
			role, err := p.message(gctx, id)
			if err != nil {
				return err
			}
			if role != "" {
				p.mu.Lock()
				byRole[role] = append(byRole[role], id)
				p.mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, role := range roles[1:] {
		if err := p.relabel(ctx, byRole[role], role); err != nil {
			return err
		}
	}
	return nil
}

// batchBreakEven is the batch size from which one messages.batchModify
// (50 quota units) is cheaper than a messages.modify (5 units) each.
const batchBreakEven = 10

// relabel takes the trigger and other status labels off ids and puts the
// role's label on: in batches of up to 1,000, or one by one for fewer
// messages than batchBreakEven, whichever costs fewer quota units.
func (p *pass) relabel(ctx context.Context, ids []string, role string) error {
	var remove []string
	for _, r := range roles {
		if r != role {
			remove = append(remove, p.labels[r])
		}
	}
	if len(ids) < batchBreakEven {
		for _, id := range ids {
			_, err := gmailCall(ctx, p, "gmail: messages.modify", 5, func() (*gmail.Message, error) {
				return p.gm.Users.Messages.Modify("me", id, &gmail.ModifyMessageRequest{AddLabelIds: []string{p.labels[role]}, RemoveLabelIds: remove}).Context(ctx).Do()
			})
			if err != nil && !failure.Is(err, failure.NotFound) {
				return err
			}
		}
		return nil
	}
	for start := 0; start < len(ids); start += 1000 {
		batch := ids[start:min(start+1000, len(ids))]
		_, err := gmailCall(ctx, p, "gmail: messages.batchModify", 50, func() (any, error) {
			return nil, p.gm.Users.Messages.BatchModify("me", &gmail.BatchModifyMessagesRequest{Ids: batch, AddLabelIds: []string{p.labels[role]}, RemoveLabelIds: remove}).Context(ctx).Do()
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *pass) count(fn func(*Result)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(&p.result)
}

func (p *pass) scope() string { return LedgerScope(p.user.ID) }

// message posts one message; it returns the role to label it with, or ""
// to leave it for a later pass. Only errors that stop the whole pass
// (lost access, the store) are returned.
func (p *pass) message(ctx context.Context, id string) (string, error) {
	ledger := p.e.Store.Ledger()
	entry, err := ledger.Claim(ctx, p.scope(), id, p.holder, p.e.leaseTTL())
	if failure.Is(err, failure.Conflict) {
		return "", nil // another worker has it
	}
	if err != nil {
		return "", err
	}
	if entry.State == store.Done {
		if entry.Outcome == string(matching.Posted) {
			return RolePosted, nil // posted before; only the labels are behind
		}
		// The user put the label back on a Failed or Unmatched message: try again.
		if _, err := ledger.Reopen(ctx, p.scope(), id); err != nil {
			return "", err
		}
		if entry, err = ledger.Claim(ctx, p.scope(), id, p.holder, p.e.leaseTTL()); err != nil {
			return "", err
		}
	}
	out, offeredRecords, err := p.post(ctx, id)
	var gone *messageGone
	switch {
	case err == nil:
	case failure.Is(err, failure.AuthRevoked), failure.Is(err, failure.Configuration):
		// Not the message's fault: it waits, unmarked, for access.
		ledger.Abandon(ctx, entry, err.Error())
		return "", err
	case errors.As(err, &gone):
		// The message is gone (deleted); nothing to label.
		_, err := ledger.Complete(ctx, entry, "gone", nil)
		return "", err
	case failure.KindOf(err).Retryable() && entry.Attempts < p.e.maxAttempts():
		p.count(func(r *Result) { r.Retrying++ })
		p.e.Log.Warn("mail: message left for a later pass", "user", p.user.ID, "messageId", id, "attempt", entry.Attempts, "err", err)
		_, aerr := ledger.Abandon(ctx, entry, err.Error())
		return "", aerr
	default:
		reason := err.Error()
		if failure.KindOf(err).Retryable() {
			reason = fmt.Sprintf("gave up after %d attempts: %v", entry.Attempts, err)
		}
		out = matching.Outcome{Status: matching.Failed, Reason: reason}
	}
	detail := map[string]string{}
	if out.Reason != "" {
		detail["reason"] = out.Reason
	}
	if len(out.Contacts) > 0 {
		detail["contacts"] = strings.Join(out.Contacts, ",")
	}
	if out.OwnRecord {
		detail["ownRecord"] = "true"
	}
	if len(offeredRecords) > 0 {
		detail["offeredRecords"] = strings.Join(offeredRecords, ",")
	}
	if _, err := ledger.Complete(ctx, entry, string(out.Status), detail); err != nil {
		if failure.Is(err, failure.Conflict) {
			return "", nil // our claim ran out; the new holder labels it
		}
		return "", err
	}
	switch out.Status {
	case matching.Posted:
		p.count(func(r *Result) { r.Posted++ })
	case matching.Unmatched:
		p.count(func(r *Result) { r.Unmatched++ })
	default:
		p.count(func(r *Result) { r.Failed, r.LastFailure = r.Failed+1, out.Reason })
		p.e.Log.Info("mail: message failed", "user", p.user.ID, "messageId", id, "reason", out.Reason)
	}
	return roleOf(out.Status), nil
}

// noteOf is the note a message is posted as: its text, sanitized HTML
// and, when the rules allow, its attachments.
func noteOf(id string, msg *gmail.Message, parsed *mailparse.Message, withAttachments bool) crm.Note {
	date := parsed.Date
	if date.IsZero() {
		date = time.UnixMilli(msg.InternalDate).UTC()
	}
	note := crm.Note{Email: crm.Email{Subject: parsed.Subject, From: parsed.FromText, To: matching.Addresses(parsed.To), Cc: matching.Addresses(parsed.Cc),
		Date: date, Text: parsed.Text, HTML: htmlPolicy.Sanitize(parsed.HTML), GmailMessageID: id}}
	if withAttachments {
		for _, a := range parsed.Attachments {
			note.Attachments = append(note.Attachments, crm.Attachment{Filename: a.Filename, ContentType: a.ContentType, Data: a.Data})
		}
	}
	return note
}

// messageGone is a message deleted before it could be fetched.
type messageGone struct{ err error }

func (g *messageGone) Error() string { return "the message is gone: " + g.err.Error() }
func (g *messageGone) Unwrap() error { return g.err }

// post fetches, matches and posts one message. It returns the outcome and
// the linked records offered for the contacts posted to.
func (p *pass) post(ctx context.Context, id string) (matching.Outcome, []string, error) {
	if !p.crmer.IntegrationEnabled {
		return matching.Outcome{Status: matching.Failed, Reason: "the CRM has not granted you the right to use the Google integration"}, nil, nil
	}
	msg, raw, release, err := p.fetchRaw(ctx, id, p.user.Mail.IncludeAttachments)
	var big *tooLarge
	var over *overLimit
	switch {
	case errors.As(err, &big):
		return matching.Outcome{Status: matching.Failed, Reason: big.Error()}, nil, nil
	case errors.As(err, &over):
		return matching.Outcome{Status: matching.Failed, Reason: over.reason}, nil, nil
	case errors.Is(err, errNotBase64):
		return matching.Outcome{Status: matching.Failed, Reason: err.Error()}, nil, nil
	case err != nil:
		return matching.Outcome{}, nil, err
	}
	defer release()
	parsed, err := mailparse.Parse(raw)
	if err != nil {
		return matching.Outcome{Status: matching.Failed, Reason: "the message cannot be read: " + err.Error()}, nil, nil
	}
	opts := matching.Options{SkipInternal: p.user.Mail.SkipInternal, IncludeAttachments: p.user.Mail.IncludeAttachments,
		PostUnmatchedToOwnRecord: p.user.Mail.PostUnmatchedToOwnRecord, OfferLinkedRecords: p.user.Mail.OfferLinkedRecords}
	for _, h := range p.user.Mail.Outgoing {
		opts.Outgoing = append(opts.Outgoing, matching.Header(h))
	}
	for _, h := range p.user.Mail.Incoming {
		opts.Incoming = append(opts.Incoming, matching.Header(h))
	}
	who := matching.User{Email: p.user.Email, Domains: slices.Concat(p.tenant.Domains, p.crmer.Domains),
		OwnContactID: p.crmer.ContactID, AttachmentLimit: p.tenant.AttachmentLimitBytes}
	m := matching.Message{From: parsed.From, To: parsed.To, Cc: parsed.Cc, Bcc: parsed.Bcc, Sent: slices.Contains(msg.LabelIds, "SENT")}
	for _, a := range parsed.Attachments {
		m.Attachments = append(m.Attachments, matching.Attachment{Filename: a.Filename, Size: int64(len(a.Data))})
	}
	plan := matching.Prepare(m, who, opts)
	found := map[string][]string{}
	for _, addr := range plan.Lookup {
		cs, err := p.e.CRM.FindContacts(ctx, p.crmer.ID, addr)
		if err != nil {
			return matching.Outcome{}, nil, err
		}
		for _, c := range cs {
			found[addr] = append(found[addr], c.ID)
		}
	}
	out := matching.Decide(plan, found, who, opts)
	if out.Status != matching.Posted {
		return out, nil, nil
	}
	note := noteOf(id, msg, parsed, out.WithAttachments)
	var offeredRecords []string
	for _, contactID := range out.Contacts {
		note.ContactID = contactID
		w := crm.Write{AsUser: p.crmer.ID, Origin: crm.Origin, IdempotencyKey: "mail:" + p.user.ID + ":" + id + ":" + contactID}
		if _, err := p.e.CRM.PostNote(ctx, w, note); err != nil {
			if failure.Is(err, failure.Invalid) || failure.Is(err, failure.NotFound) {
				return matching.Outcome{Status: matching.Failed, Reason: "the CRM refused the note: " + err.Error()}, nil, nil
			}
			return matching.Outcome{}, nil, err
		}
		if out.OfferLinkedRecords {
			recs, err := p.e.CRM.Records(ctx, p.crmer.ID, contactID)
			if err != nil {
				return matching.Outcome{}, nil, err
			}
			for _, r := range recs {
				offeredRecords = append(offeredRecords, r.ID)
			}
		}
	}
	return out, offeredRecords, nil
}

// htmlPolicy sanitizes message HTML before it reaches the CRM: the
// formatting of user-generated content stays, scripts, event handlers and
// remote-content tricks go. Remote images go too (each becomes an empty
// inline image): they are tracking beacons, and viewing the note in the
// CRM would tell the sender when and from where. Links stay links.
var htmlPolicy = func() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.RewriteSrc(func(u *url.URL) { *u = url.URL{Scheme: "data", Opaque: ","} })
	return p
}()
