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
	"github.com/crmsync/crmsync/shared/matching"
	"github.com/crmsync/crmsync/shared/workspace"
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

// reservation is the part of the budget one message holds.
type reservation struct {
	b    *memoryBudget
	held int64
	once sync.Once
}

// reserve waits for n bytes of the budget. The caller holds none while it
// waits, so waiting cannot deadlock.
func (b *memoryBudget) reserve(ctx context.Context, n int64) (*reservation, error) {
	n = min(n, b.total)
	if err := b.sem.Acquire(ctx, n); err != nil {
		return nil, err
	}
	b.note(n)
	return &reservation{b: b, held: n}, nil
}

// grow adds n bytes to the reservation if they are free now.
func (r *reservation) grow(n int64) bool {
	n = min(n, r.b.total-r.held)
	if n <= 0 || !r.b.sem.TryAcquire(n) {
		return false
	}
	r.held += n
	r.b.note(n)
	return true
}

func (b *memoryBudget) note(n int64) {
	now := b.held.Add(n)
	for {
		p := b.peak.Load()
		if now <= p || b.peak.CompareAndSwap(p, now) {
			break
		}
	}
}

// release gives the reservation back; more calls do nothing.
func (r *reservation) release() {
	r.once.Do(func() {
		r.b.held.Add(-r.held)
		r.b.sem.Release(r.held)
	})
}

// tooLarge is a message whose handling would need more memory than the
// instance's whole budget.
type tooLarge struct{ size, budget int64 }

func (t *tooLarge) Error() string {
	return fmt.Sprintf("the message is %.1f MB or more, more than this service handles in memory (%.1f MB)",
		float64(t.size)/1e6, float64(t.budget/footprintFactor)/1e6)
}

// errNotBase64 is a raw message Gmail sent that does not decode.
var errNotBase64 = errors.New("the raw message Gmail sent is not base64url")

// errMemoryBusy stops a download that needs more of the budget than is
// free at that moment; it is fetched again once its size is known.
var errMemoryBusy = errors.New("the memory budget is taken by other messages")

// errOverAttachmentCap stops a download once it is larger than the firm's
// attachment limit: whether an attachment is over the limit is then read
// from the message's structure, without its attachments.
var errOverAttachmentCap = errors.New("the message is larger than the firm's attachment limit")

// firstReservation is what a download reserves before its first byte:
// most mail fits in it, and a download that holds it only can wait for it
// without deadlock.
const firstReservation = 1 << 20

// jsonOverhead: Gmail's raw answer is the message in base64url inside
// JSON, about 4/3 of the message's size. footprintFactor is per byte of
// the message, so a byte of the answer stands for 3/4 of one.
func footprintOfAnswer(n int64) int64 { return n * footprintFactor * 3 / 4 }

// fetchRaw reads message id's raw form within the instance's memory
// budget, in one messages.get (5 quota units): it reserves the budget as
// the answer arrives, so no size is read first. A message whose handling
// could never fit is *tooLarge as soon as its answer passes the budget,
// without reading the rest. When the budget is taken by other messages,
// the download stops and the message's size is read (messages.get
// minimal), then it waits for room and downloads again. With capAttachments
// (the user posts attachments and the firm has a limit), a message larger
// than the limit is checked for an attachment over it from its structure
// (format full, without attachment data), and is not downloaded when it
// has one: the returned error is then *overLimit, worded as the posting
// rule words it. The
// caller calls release when it is done with the message. A message deleted
// meanwhile is *messageGone; a raw form that does not decode is
// errNotBase64.
func (p *pass) fetchRaw(ctx context.Context, id string, capAttachments bool) (msg *gmail.Message, raw []byte, release func(), err error) {
	mem := p.e.memory()
	limit := p.tenant.AttachmentLimitBytes
	var answerCap int64
	if capAttachments && limit > 0 {
		answerCap = limit*4/3 + 64<<10 // the limit in base64, and room for the other parts
	}
	reserve, known := int64(firstReservation), false
	for {
		res, err := mem.reserve(ctx, reserve)
		if err != nil {
			return nil, nil, nil, failure.E("mailbox: memory budget", failure.Transient, err)
		}
		msg, err = p.download(ctx, id, res, answerCap)
		switch {
		case err == nil:
			raw, err = decodeRaw(msg)
			if err != nil {
				res.release()
				return nil, nil, nil, err
			}
			return msg, raw, res.release, nil
		case errors.Is(err, errOverAttachmentCap):
			res.release()
			over, err := p.attachmentOverLimit(ctx, id, limit)
			if err != nil {
				return nil, nil, nil, err
			}
			if over != nil {
				return nil, nil, nil, over
			}
			answerCap = 0 // no attachment is over the limit: the whole message is needed
		case errors.Is(err, errMemoryBusy) && !known:
			res.release()
			meta, err := p.get(ctx, id, "minimal")
			if err != nil {
				return nil, nil, nil, err
			}
			need := max(meta.SizeEstimate, 1) * footprintFactor
			if need > mem.total {
				return nil, nil, nil, &tooLarge{size: meta.SizeEstimate, budget: mem.total}
			}
			reserve, known = need, true
		case errors.Is(err, errMemoryBusy):
			// Larger than Gmail's size estimate, and the budget is full:
			// a later pass tries again.
			res.release()
			return nil, nil, nil, failure.E("mailbox: memory budget", failure.Transient, errMemoryBusy)
		default:
			res.release()
			return nil, nil, nil, err
		}
	}
}

// get is messages.get in format; a message deleted meanwhile is
// *messageGone.
func (p *pass) get(ctx context.Context, id, format string) (*gmail.Message, error) {
	m, err := gmailCall(ctx, p, "gmail: messages.get", 5, func() (*gmail.Message, error) {
		return p.gm.Users.Messages.Get("me", id).Format(format).Context(ctx).Do()
	})
	if failure.Is(err, failure.NotFound) {
		return nil, &messageGone{err}
	}
	return m, err
}

// download is messages.get format raw, its answer metered into res: the
// reservation grows as bytes arrive when the budget has room now, and the
// download stops with errMemoryBusy when it has not; past the whole budget
// it is *tooLarge, past answerCap (when set) errOverAttachmentCap.
func (p *pass) download(ctx context.Context, id string, res *reservation, answerCap int64) (*gmail.Message, error) {
	var read int64
	meter := func(n int) error {
		read += int64(n)
		switch need := footprintOfAnswer(read); {
		case answerCap > 0 && read > answerCap:
			return failure.E("gmail: messages.get", failure.Permanent, errOverAttachmentCap)
		case need > res.b.total:
			return failure.E("gmail: messages.get", failure.Permanent, &tooLarge{size: read * 3 / 4, budget: res.b.total})
		case need <= res.held:
			return nil
		case !res.grow(max(need-res.held, firstReservation)):
			// Someone else has the rest of the budget: stop, rather than
			// wait holding part of it.
			return failure.E("gmail: messages.get", failure.Permanent, errMemoryBusy)
		}
		return nil
	}
	mctx := workspace.WithBodyMeter(ctx, meter)
	return p.get(mctx, id, "raw")
}

func decodeRaw(msg *gmail.Message) ([]byte, error) {
	raw, err := base64.URLEncoding.DecodeString(msg.Raw)
	if err != nil {
		raw, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(msg.Raw, "="))
	}
	msg.Raw = "" // the decoded bytes are what is kept
	if err != nil {
		return nil, errNotBase64
	}
	return raw, nil
}

// overLimit is a message with an attachment over the firm's limit, found
// from its structure; its reason is the posting rule's own.
type overLimit struct{ reason string }

func (o *overLimit) Error() string { return o.reason }

// attachmentOverLimit reads the message's structure (format full: part
// sizes, and no attachment data) and returns *overLimit when an attachment
// is larger than limit.
func (p *pass) attachmentOverLimit(ctx context.Context, id string, limit int64) (*overLimit, error) {
	m, err := p.get(ctx, id, "full")
	if err != nil {
		return nil, err
	}
	var walk func(part *gmail.MessagePart) *overLimit
	walk = func(part *gmail.MessagePart) *overLimit {
		if part == nil {
			return nil
		}
		name := part.Filename
		if name == "" && part.MimeType == "message/rfc822" {
			name = "forwarded message.eml" // a message attached whole is a file too
		}
		if name != "" && part.Body != nil && part.Body.Size > limit {
			return &overLimit{reason: matching.AttachmentOverLimit(name, part.Body.Size, limit)}
		}
		for _, c := range part.Parts {
			if o := walk(c); o != nil {
				return o
			}
		}
		return nil
	}
	return walk(m.Payload), nil
}
