package mailbox

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
	gmail "google.golang.org/api/gmail/v1"

	"github.com/crmsync/crmsync/shared/failure"
)

// DefaultMemoryBudget is the default of Engine.MemoryBudget: under half of
// the 1 GiB GmailPush and Jobs instances have, leaving the rest to the
// runtime, the clients and the garbage collector's headroom.
const DefaultMemoryBudget = 384 << 20

// footprintFactor estimates the bytes a message occupies while it is
// handled, as a multiple of its size: Gmail's JSON answer and the base64
// string in it (each about 4/3 of the size), the decoded message, its
// decoded parts, and the note's request body to the CRM (base64 again).
// The hostile-mail test measures the real figure against it.
const footprintFactor = 6

// memoryBudget is the instance's byte budget for messages in hand, shared
// by every pass of the Engine, with the peak it reached.
type memoryBudget struct {
	total int64
	sem   *semaphore.Weighted
	held  atomic.Int64
	peak  atomic.Int64
}

func (e *Engine) memory() *memoryBudget {
	e.memOnce.Do(func() {
		total := e.MemoryBudget
		if total <= 0 {
			total = DefaultMemoryBudget
		}
		e.mem = &memoryBudget{total: total, sem: semaphore.NewWeighted(total)}
	})
	return e.mem
}

// MemoryPeak is the most bytes (estimated) the instance's passes have held
// for messages at once.
func (e *Engine) MemoryPeak() int64 { return e.memory().peak.Load() }

// acquire reserves n bytes, waiting while other messages hold the budget.
func (b *memoryBudget) acquire(ctx context.Context, n int64) (release func(), err error) {
	if err := b.sem.Acquire(ctx, n); err != nil {
		return nil, err
	}
	now := b.held.Add(n)
	for {
		p := b.peak.Load()
		if now <= p || b.peak.CompareAndSwap(p, now) {
			break
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			b.held.Add(-n)
			b.sem.Release(n)
		})
	}, nil
}

// tooLarge is a message whose handling would need more memory than the
// instance's whole budget.
type tooLarge struct{ size, budget int64 }

func (t *tooLarge) Error() string {
	return fmt.Sprintf("the message is %.1f MB, more than this service handles in memory (%.1f MB)",
		float64(t.size)/1e6, float64(t.budget/footprintFactor)/1e6)
}

// errNotBase64 is a raw message Gmail sent that does not decode.
var errNotBase64 = errors.New("Gmail's raw message is not base64url")

// fetchRaw reads message id within the instance's memory budget: its size
// first (messages.get format minimal), then, once the budget holds what
// handling it takes, its raw form. The caller calls release when it is
// done with the message. A message deleted meanwhile is *messageGone; one
// that could never fit is *tooLarge; a raw form that does not decode is
// errNotBase64.
func (p *pass) fetchRaw(ctx context.Context, id string) (msg *gmail.Message, raw []byte, release func(), err error) {
	get := func(format string) (*gmail.Message, error) {
		m, err := gmailCall(ctx, p, "gmail: messages.get", 5, func() (*gmail.Message, error) {
			return p.gm.Users.Messages.Get("me", id).Format(format).Context(ctx).Do()
		})
		if failure.Is(err, failure.NotFound) {
			return nil, &messageGone{err}
		}
		return m, err
	}
	meta, err := get("minimal")
	if err != nil {
		return nil, nil, nil, err
	}
	mem := p.e.memory()
	need := max(meta.SizeEstimate, 1) * footprintFactor
	if need > mem.total {
		return meta, nil, nil, &tooLarge{size: meta.SizeEstimate, budget: mem.total}
	}
	release, err = mem.acquire(ctx, need)
	if err != nil {
		return nil, nil, nil, failure.E("mailbox: memory budget", failure.Transient, err)
	}
	msg, err = get("raw")
	if err == nil {
		raw, err = base64.URLEncoding.DecodeString(msg.Raw)
		if err != nil {
			raw, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(msg.Raw, "="))
		}
		if err != nil {
			err = errNotBase64
		}
		msg.Raw = "" // the decoded bytes are what is kept
	}
	if err != nil {
		release()
		return nil, nil, nil, err
	}
	return msg, raw, release, nil
}
