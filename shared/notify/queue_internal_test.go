package notify

import (
	"errors"
	"testing"
	"time"
)

// When Gmail names the time sending works again, the next attempt is then;
// otherwise it backs off from ten minutes, doubling, to six hours at most.
func TestRetryAt(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	named := errors.New("googleapi: Error 429: User-rate limit exceeded.  Retry after 2026-12-01T08:15:00.000Z (Mail sending), rateLimitExceeded")
	if got := retryAt(now, 1, named); !got.Equal(time.Date(2026, 12, 1, 8, 15, 0, 0, time.UTC)) {
		t.Errorf("named time: %v", got)
	}
	outage := errors.New("googleapi: Error 503: The service is currently unavailable.")
	for attempts, want := range map[int]time.Duration{1: 10 * time.Minute, 2: 20 * time.Minute, 4: 80 * time.Minute, 7: 6 * time.Hour, 30: 6 * time.Hour} {
		if got := retryAt(now, attempts, outage).Sub(now); got != want {
			t.Errorf("attempt %d: waits %v, want %v", attempts, got, want)
		}
	}
	past := errors.New("Retry after 2026-11-30T08:00:00.000Z")
	if got := retryAt(now, 1, past).Sub(now); got != FirstRetry {
		t.Errorf("a named time already past: waits %v", got)
	}
}
