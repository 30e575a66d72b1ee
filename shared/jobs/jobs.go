// Package jobs is the scheduler's fan-out: Cloud Scheduler calls the
// Dispatch function with a job kind; Dispatch publishes one job per
// eligible user to the jobs topic; Pub/Sub pushes each to the Jobs
// function, which runs it for that user. So a scheduler tick costs one
// message per user, users run in parallel across instances, and a failed
// user's job is redelivered alone.
//
// Kinds:
//
//	mail-sweep     every 10 minutes: post mail still carrying the CRM label
//	               (a lost notification delays a message by one period at
//	               most). Only for users without a successful pass started
//	               by a notification within the period: while notifications
//	               flow, each pass reads the history since the cursor, which
//	               holds what a lost notification was about, so sweeping
//	               would spend quota on nothing.
//	watch-renewal  daily: renew the Gmail watch (it lapses after 7 days) and
//	               re-make deleted labels
//	contact-sync   every 15 minutes: a contact sync pass (package contactsync)
//	calendar-sync  every 5 minutes: a calendar sync pass (package calendarsync)
//	system-mail    every 10 minutes: send the user's queued system e-mail
//	               (package notify's Queue), for the users who have some due
//
// and one kind the web function publishes when a user saves sync settings:
//
//	preview        make and e-mail the preview report of that settings
//	               version (package preview)
//
// and one that each mail-sweep tick publishes for the disconnected users of
// office-level impersonation firms:
//
//	access-check   connect the user again if acting for them works again
//	               (package reconnect's Restore), and renew their watch
//
// Approving a preview (or reconnecting Google) publishes the user's mail
// (watch-renewal, mail-sweep), contact and calendar jobs at once, so sync
// starts, or catches up from the stored cursors, without waiting for a
// tick.
package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/crmsync/crmsync/shared/calendarsync"
	"github.com/crmsync/crmsync/shared/contactsync"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/mailbox"
	"github.com/crmsync/crmsync/shared/pubsubpush"
	"github.com/crmsync/crmsync/shared/store"
)

// Job kinds.
const (
	MailSweep    = "mail-sweep"
	WatchRenewal = "watch-renewal"
	ContactSync  = "contact-sync"
	CalendarSync = "calendar-sync"
	SystemMail   = "system-mail"
	Preview      = "preview"
	AccessCheck  = "access-check"
)

// Kinds lists the job kinds.
func Kinds() []string {
	return []string{MailSweep, WatchRenewal, ContactSync, CalendarSync, SystemMail}
}

// Period is how often Cloud Scheduler runs a job of kind: the default
// schedules of the Terraform (infra/envs/example, checked by its plan test)
// and the sandbox's scheduler. Zero for a kind that is not scheduled.
func Period(kind string) time.Duration {
	switch kind {
	case MailSweep:
		return 10 * time.Minute
	case WatchRenewal:
		return 24 * time.Hour
	case ContactSync:
		return 15 * time.Minute
	case CalendarSync:
		return 5 * time.Minute
	case SystemMail:
		return 10 * time.Minute
	}
	return 0
}

// Job is one user's job.
type Job struct {
	Kind string `json:"kind"`
	User string `json:"user"`
	// Version is the settings version a preview job is for.
	Version int64 `json:"version,omitempty"`
}

// Publisher publishes a job message to the jobs topic. Publish returns at
// once; wait reports whether the message was accepted, so many publishes
// can be in flight.
type Publisher interface {
	Publish(ctx context.Context, data []byte, attrs map[string]string) (wait func() error)
}

// notified says whether a pass a Gmail notification started succeeded
// within a sweep period before now.
func notified(u store.User, now time.Time) bool {
	last := u.Passes["mail"]
	return last.OK && !last.Pushed.IsZero() && now.Sub(last.Pushed) < Period(MailSweep)
}

// eligible says whether a user takes jobs of kind.
func eligible(kind string, u store.User) bool {
	if u.SyncState != store.Active || u.Connection.State != store.Connected || u.RightWithdrawn {
		return false // not approved yet, rejected, Google access lost, or the right withdrawn
	}
	switch kind {
	case MailSweep, WatchRenewal:
		return u.Mail.Enabled || u.Mail.AutoSync
	case ContactSync:
		return u.Contacts.Direction != "" && u.Contacts.Direction != "off"
	case CalendarSync:
		return u.Calendar.Direction != "" && u.Calendar.Direction != "off"
	}
	return false
}

// Dispatch publishes a job of kind for every eligible user of every
// tenant and returns how many it published. A publish that fails stops
// the dispatch with the error (the scheduler retries the tick; a user who
// gets the job twice runs it twice, which every job allows).
func Dispatch(ctx context.Context, st *store.Store, pub Publisher, kind string) (int, error) {
	return dispatch(ctx, st, pub, kind, false)
}

// DispatchNow is Dispatch for someone who asked for a run now (the
// sandbox console's Run now, an operator's request): every eligible user,
// also those whose notifications make a mail sweep needless.
func DispatchNow(ctx context.Context, st *store.Store, pub Publisher, kind string) (int, error) {
	return dispatch(ctx, st, pub, kind, true)
}

func dispatch(ctx context.Context, st *store.Store, pub Publisher, kind string, everyone bool) (int, error) {
	const op = "jobs: dispatch"
	if !slices.Contains(Kinds(), kind) {
		return 0, failure.Errorf(op, failure.Invalid, "kind %q is not one of %v", kind, Kinds())
	}
	type pending struct {
		user string
		wait func() error
	}
	var sent []pending
	if kind == SystemMail {
		// Whoever has queued system e-mail due, whatever their sync state
		// (a reconnect request goes to a disconnected user).
		due, err := st.Outbox().Due(ctx)
		if err != nil {
			return 0, err
		}
		seen := map[string]bool{}
		for _, m := range due {
			if !seen[m.User] {
				seen[m.User] = true
				sent = append(sent, pending{m.User, Enqueue(ctx, pub, Job{Kind: kind, User: m.User})})
			}
		}
	}
	var tenants []store.Tenant
	if kind != SystemMail { // its users come from the outbox, not from eligibility
		var err error
		if tenants, err = st.Tenants().List(ctx); err != nil {
			return 0, err
		}
	}
	for _, t := range tenants {
		users, err := st.Users().ListByTenant(ctx, t.ID)
		if err != nil {
			return 0, err
		}
		for _, u := range users {
			if kind == MailSweep && t.AuthMode == store.AuthDelegation && u.Connection.State == store.Disconnected {
				// Nobody reconnects these users: ask whether acting for
				// them works again.
				sent = append(sent, pending{u.ID, Enqueue(ctx, pub, Job{Kind: AccessCheck, User: u.ID})})
				continue
			}
			if !eligible(kind, u) || kind == MailSweep && !everyone && notified(u, st.Now()) {
				continue
			}
			sent = append(sent, pending{u.ID, Enqueue(ctx, pub, Job{Kind: kind, User: u.ID})})
		}
	}
	for _, p := range sent {
		if err := p.wait(); err != nil {
			return 0, failure.E(fmt.Sprintf("%s: publish %s for %s", op, kind, p.user), failure.Transient, err)
		}
	}
	return len(sent), nil
}

// Enqueue publishes one job (a webhook asking for a user's pass does, as
// Dispatch does for every user); wait reports whether Pub/Sub took it.
func Enqueue(ctx context.Context, pub Publisher, j Job) (wait func() error) {
	data, _ := json.Marshal(j)
	return pub.Publish(ctx, data, map[string]string{"kind": j.Kind})
}

// Decode reads a pushed job; what is not a job is Invalid.
func Decode(body []byte) (Job, error) {
	m, err := pubsubpush.Decode(body)
	if err != nil {
		return Job{}, err
	}
	var j Job
	if err := json.Unmarshal(m.Data, &j); err != nil {
		return Job{}, failure.Errorf("jobs: decode", failure.Invalid, "the message data is not a job: %v", err)
	}
	if (!slices.Contains(Kinds(), j.Kind) && j.Kind != Preview && j.Kind != AccessCheck) || j.User == "" || (j.Kind == Preview && j.Version <= 0) {
		return Job{}, failure.Errorf("jobs: decode", failure.Invalid, "job %+v: unknown kind or no user", j)
	}
	return j, nil
}

// Mail is the mail engine as jobs use it.
type Mail interface {
	Sweep(ctx context.Context, email string) (mailbox.Result, error)
	Connect(ctx context.Context, email string) error
}

// Contacts is the contact sync engine as jobs use it.
type Contacts interface {
	Pass(ctx context.Context, email string) (contactsync.Result, error)
}

// Calendar is the calendar sync engine as jobs use it.
type Calendar interface {
	Pass(ctx context.Context, email string) (calendarsync.Result, error)
}

// Outbox sends a user's queued system e-mail, as jobs use it.
type Outbox interface {
	Flush(ctx context.Context, user string) (int, error)
}

// Previews makes preview reports, as jobs use it.
type Previews interface {
	Run(ctx context.Context, email string, version int64) error
}

// Access connects office-level impersonation users again, as jobs use it.
type Access interface {
	Restore(ctx context.Context, email string) (bool, error)
}

// Engines run the jobs.
type Engines struct {
	Access     Access
	Mail       Mail
	Contacts   Contacts
	Calendar   Calendar
	Previews   Previews
	SystemMail Outbox
}

// Activated publishes the jobs that start a user's sync right after a
// setup is approved, and waits until Pub/Sub took them.
func Activated(ctx context.Context, pub Publisher, u store.User) error {
	var waits []func() error
	for _, k := range []string{WatchRenewal, MailSweep, ContactSync, CalendarSync} {
		if eligible(k, u) {
			waits = append(waits, Enqueue(ctx, pub, Job{Kind: k, User: u.ID}))
		}
	}
	for _, w := range waits {
		if err := w(); err != nil {
			return failure.E("jobs: publish the first passes of "+u.ID, failure.Transient, err)
		}
	}
	return nil
}

// Run runs one job.
func Run(ctx context.Context, j Job, e Engines) error {
	switch j.Kind {
	case MailSweep:
		_, err := e.Mail.Sweep(ctx, j.User)
		return err
	case WatchRenewal:
		return e.Mail.Connect(ctx, j.User)
	case ContactSync:
		_, err := e.Contacts.Pass(ctx, j.User)
		return err
	case CalendarSync:
		_, err := e.Calendar.Pass(ctx, j.User)
		return err
	case Preview:
		return e.Previews.Run(ctx, j.User, j.Version)
	case AccessCheck:
		if e.Access == nil {
			return failure.Errorf("jobs: access check", failure.Transient, "this instance cannot check access")
		}
		restored, err := e.Access.Restore(ctx, j.User)
		if err != nil || !restored {
			return err
		}
		// Connected again: renew the Gmail watch now; the next ticks sync.
		return e.Mail.Connect(ctx, j.User)
	case SystemMail:
		if e.SystemMail == nil {
			return failure.Errorf("jobs: system mail", failure.Transient, "this instance has no system e-mail sender")
		}
		_, err := e.SystemMail.Flush(ctx, j.User)
		return err
	}
	return failure.Errorf("jobs: run", failure.Invalid, "unknown kind %q", j.Kind)
}
