package mailbox

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/api/googleapi"
)

// DefaultUserUnitsPerMinute is Gmail's per-user limit for projects
// created since 1 May 2026 (the quota page,
// developers.google.com/workspace/gmail/api/reference/quota). The
// per-project limit reaches the engine as InstanceUnitsPerMinute (config
// GMAIL_PROJECT_UNITS_PER_MINUTE).
const DefaultUserUnitsPerMinute = 6_000

// pacer keeps calls under a per-minute limit that Google counts over any
// rolling minute: it lets through 95% of the limit a minute, evenly, plus
// a burst of the other 5%, so no minute can hold more than the limit. A
// refusal from Google (the limit is shared with other clients, or our
// count and Google's differ) halves the pace and empties the burst; each
// call that goes through wins back a little, up to the limit.
type pacer struct {
	mu     sync.Mutex
	lim    *rate.Limiter
	target rate.Limit
}

func newPacer(perMinute int) *pacer {
	target := rate.Limit(float64(perMinute) * 0.95 / 60)
	return &pacer{lim: rate.NewLimiter(target, max(perMinute/20, 50)), target: target}
}

func (p *pacer) wait(ctx context.Context, units int) error {
	return p.lim.WaitN(ctx, min(units, p.lim.Burst()))
}

// refused slows the pace after Google refused a call for the limit.
func (p *pacer) refused() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lim.SetLimit(max(p.lim.Limit()/2, p.target/20))
	if left := int(p.lim.Tokens()); left > 0 {
		p.lim.ReserveN(time.Now(), left)
	}
}

// passed wins back pace after a call went through.
func (p *pacer) passed() {
	if l := p.lim.Limit(); l < p.target {
		p.mu.Lock()
		p.lim.SetLimit(min(p.target, l+p.target/100))
		p.mu.Unlock()
	}
}

// projectLimited says whether Google refused a call for the project's
// limit (rateLimitExceeded) rather than the user's (userRateLimitExceeded).
func projectLimited(err error) bool {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return false
	}
	for _, e := range ge.Errors {
		if e.Reason == "rateLimitExceeded" {
			return true
		}
	}
	return false
}
