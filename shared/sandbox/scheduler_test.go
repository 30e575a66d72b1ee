package sandbox

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/jobs"
	"github.com/crmsync/crmsync/shared/logging"
)

// The sandbox runs each job at the period production documents for it,
// not on one shared tick.
func TestSandboxSchedulesAreProductions(t *testing.T) {
	p := productionPeriods()
	want := map[string]time.Duration{jobs.MailSweep: 10 * time.Minute, jobs.ContactSync: 15 * time.Minute,
		jobs.CalendarSync: 5 * time.Minute, jobs.WatchRenewal: 24 * time.Hour, jobs.SystemMail: 10 * time.Minute}
	if len(p) != len(want) {
		t.Errorf("periods %v, want %v", p, want)
	}
	for k, d := range want {
		if p[k] != d {
			t.Errorf("%s every %v, want %v (docs/development.md, the Terraform's schedules)", k, p[k], d)
		}
	}
}

// Each kind runs on its own period, and "next run" is always in the
// future, also on a moved clock.
func TestSchedulerRunsEachKindOnItsOwnPeriod(t *testing.T) {
	var mu sync.Mutex
	runs := map[string]int{}
	clk := clock.Offset{By: 365 * 24 * time.Hour}
	s := newScheduler(map[string]time.Duration{"fast": 20 * time.Millisecond, "slow": 90 * time.Millisecond, "daily": time.Hour},
		func(_ context.Context, kind string) error {
			mu.Lock()
			defer mu.Unlock()
			runs[kind]++
			return nil
		}, clk, logging.Discard())
	if _, next := s.times("fast"); !next.IsZero() {
		t.Errorf("next run %v before the schedule started", next)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.start(ctx)
	deadline := time.Now().Add(400 * time.Millisecond)
	for time.Now().Before(deadline) {
		for _, k := range []string{"fast", "slow", "daily"} {
			now := clk.Now()
			if _, next := s.times(k); !next.After(now) {
				t.Fatalf("%s: next run %v is not after now %v", k, next, now)
			}
		}
		time.Sleep(3 * time.Millisecond)
	}
	cancel()
	mu.Lock()
	defer mu.Unlock()
	if runs["fast"] <= runs["slow"] || runs["slow"] < 1 || runs["daily"] != 0 {
		t.Errorf("runs %v: want fast more often than slow, slow at least once, daily never", runs)
	}
	if last, _ := s.times("fast"); last.Before(time.Now().Add(300 * 24 * time.Hour)) {
		t.Errorf("last run %v is not on the scheduler's clock", last)
	}
}
