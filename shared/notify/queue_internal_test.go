package notify

import (
	"errors"
	"testing"
	"time"
)

// When Gmail names the time sending works again, the next attempt is then;
// otherwise it backs off from ten minutes, doubling, to six hours at most.
func TestRetryAt(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	at := now.Add(23*time.Hour + 15*time.Minute)
	named := errors.New("googleapi: Error 429: User-rate limit exceeded.  Retry after " + at.Format("2006-01-02T15:04:05.000Z") + " (Mail sending), rateLimitExceeded")
	if got := retryAt(now, 1, named); !got.Equal(at) {
		t.Errorf("named time: %v, want %v", got, at)
	}
	outage := errors.New("googleapi: Error 503: The service is currently unavailable.")
	for attempts, want := range map[int]time.Duration{1: 10 * time.Minute, 2: 20 * time.Minute, 4: 80 * time.Minute, 7: 6 * time.Hour, 30: 6 * time.Hour} {
		if got := retryAt(now, attempts, outage).Sub(now); got != want {
			t.Errorf("attempt %d: waits %v, want %v", attempts, got, want)
		}
	}
	past := errors.New("Retry after " + now.Add(-time.Hour).Format("2006-01-02T15:04:05.000Z"))
	if got := retryAt(now, 1, past).Sub(now); got != FirstRetry {
		t.Errorf("a named time already past: waits %v", got)
	}
}
