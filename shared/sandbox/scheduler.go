package sandbox

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/jobs"
)

// scheduler does what Cloud Scheduler does in production: it runs each job
// kind at its own period (jobs.Period, the same as the Terraform's
// schedules), through the Dispatch function, so the jobs travel the same
// path (Dispatch → jobs topic → Jobs) as in production. It remembers when
// each kind last ran and runs next, for the console.
type scheduler struct {
	periods map[string]time.Duration
	run     func(ctx context.Context, kind string) error
	clock   clock.Clock
	log     *slog.Logger

	mu    sync.Mutex
	began time.Time // when the schedule started; zero before start
	last  map[string]time.Time
}

func newScheduler(periods map[string]time.Duration, run func(context.Context, string) error, clk clock.Clock, log *slog.Logger) *scheduler {
	return &scheduler{periods: periods, run: run, clock: clk, log: log, last: map[string]time.Time{}}
}

// productionPeriods are the periods Cloud Scheduler runs the jobs at.
func productionPeriods() map[string]time.Duration {
	p := map[string]time.Duration{}
	for _, k := range jobs.Kinds() {
		p[k] = jobs.Period(k)
	}
	return p
}

// start runs every kind on its own ticker until ctx is done.
func (s *scheduler) start(ctx context.Context) {
	s.mu.Lock()
	s.began = s.clock.Now()
	s.mu.Unlock()
	for kind, period := range s.periods {
		go s.every(ctx, kind, period)
	}
}

func (s *scheduler) every(ctx context.Context, kind string, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.ranNow(kind)
			if err := s.run(ctx, kind); err != nil && ctx.Err() == nil {
				s.log.Warn("sandbox: scheduled job", "kind", kind, "err", err)
			}
		}
	}
}

// ranNow records a run outside the schedule (the console's "Run now", the
// first passes at start): the schedule itself does not move, as Cloud
// Scheduler's "force run" does not move it.
func (s *scheduler) ranNow(kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last[kind] = s.clock.Now()
}

// times returns when kind last ran (zero: not yet) and runs next: the
// schedule's next tick after now, always in the future (zero before the
// schedule starts).
func (s *scheduler) times(kind string) (last, next time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	last = s.last[kind]
	period := s.periods[kind]
	if s.began.IsZero() || period <= 0 {
		return last, time.Time{}
	}
	ticks := s.clock.Now().Sub(s.began)/period + 1
	return last, s.began.Add(ticks * period)
}
