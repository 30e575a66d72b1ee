package notify

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/store"
)

// Queue sends through Next and, when Gmail does not take a message now (its
// daily sending limit answers 429 for hours; an outage; the system sender
// not yet configured), keeps it in the store's outbox and sends it later
// (Flush, run by the system-mail job), so no system e-mail is lost. Only a
// message that can never be sent (a malformed recipient) is refused.
type Queue struct {
	Next  Sender
	Store *store.Store
	Clock clock.Clock
	Log   *slog.Logger
}

// Backoff bounds: the first retry after FirstRetry, doubling up to
// MaxRetry (unless Gmail names the time sending works again).
const (
	FirstRetry = 10 * time.Minute
	MaxRetry   = 6 * time.Hour
)

// Send sends m now, or queues it. A queued message counts as sent for
// the caller.
func (q *Queue) Send(ctx context.Context, m Message) error {
	err := q.Next.Send(ctx, m)
	if err == nil || failure.Is(err, failure.Invalid) {
		return err
	}
	user := strings.ToLower(strings.TrimSpace(m.To))
	tenant := ""
	if u, uerr := q.Store.Users().Get(ctx, user); uerr == nil {
		tenant = u.TenantID
	}
	now := q.Clock.Now()
	queued, perr := q.Store.Outbox().Put(ctx, store.QueuedMail{Tenant: tenant, User: user, To: m.To, Subject: m.Subject, Text: m.Text,
		HTML: m.HTML, Key: m.Key, FromName: m.FromName, Attempts: 1, NextAt: retryAt(now, 1, err), LastError: failure.Message(err)})
	if perr != nil {
		return failure.E("notify: queue", failure.Transient, perr)
	}
	q.Log.Warn("notify: Gmail did not take a system e-mail; queued for later", "user", user, "queued", queued.ID, "next", queued.NextAt, "err", err)
	return nil
}

// Flush sends the user's queued e-mail that is due and returns how many
// went out. One that fails again waits longer; the rest are still tried.
func (q *Queue) Flush(ctx context.Context, user string) (int, error) {
	queued, err := q.Store.Outbox().OfUser(ctx, user)
	if err != nil {
		return 0, err
	}
	now, sent := q.Clock.Now(), 0
	for _, m := range queued {
		if m.NextAt.After(now) {
			continue
		}
		err := q.Next.Send(ctx, Message{To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML, Key: m.Key, FromName: m.FromName})
		if err != nil {
			next := retryAt(now, m.Attempts+1, err)
			q.Log.Warn("notify: a queued system e-mail was not taken again", "user", user, "queued", m.ID, "attempt", m.Attempts+1, "next", next, "err", err)
			if lerr := q.Store.Outbox().Later(ctx, m.ID, next, failure.Message(err)); lerr != nil {
				return sent, lerr
			}
			continue
		}
		if err := q.Store.Outbox().Sent(ctx, m.ID); err != nil {
			return sent, err
		}
		sent++
		q.Log.Info("notify: a queued system e-mail was sent", "user", user, "queued", m.ID, "attempts", m.Attempts+1)
	}
	return sent, nil
}

// retryAfter finds the time Gmail names in a sending-limit answer
// ("User-rate limit exceeded.  Retry after 2026-12-01T09:00:00.000Z").
var retryAfter = regexp.MustCompile(`Retry after (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)`)

// retryAt is when attempt n+1 of a message is due after err.
func retryAt(now time.Time, attempts int, err error) time.Time {
	if m := retryAfter.FindStringSubmatch(err.Error()); m != nil {
		if t, perr := time.Parse(time.RFC3339Nano, m[1]); perr == nil && t.After(now) {
			return t
		}
	}
	wait := FirstRetry
	for i := 1; i < attempts && wait < MaxRetry; i++ {
		wait *= 2
	}
	return now.Add(min(wait, MaxRetry))
}
