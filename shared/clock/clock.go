// Package clock lets code ask for the time through a dependency, so tests can
// control it.
//
// Production code takes a Clock field and uses clock.Real{} by default;
// tests pass a *clock.Fake and move it with Advance or Set.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time. Implementations are safe for concurrent use.
type Clock interface {
	Now() time.Time
}

// Real is the system clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Offset is the system clock moved by a fixed duration. The sandbox runs
// on one (CRMSYNC_CLOCK_OFFSET) so that a test can live a year ahead of
// today and find whatever depends on a fixed date.
type Offset struct {
	By time.Duration
}

// Now returns time.Now() moved by o.By.
func (o Offset) Now() time.Time { return time.Now().Add(o.By) }

// Of returns the system clock moved by d: Real when d is zero.
func Of(d time.Duration) Clock {
	if d == 0 {
		return Real{}
	}
	return Offset{By: d}
}

// Fake is a clock that moves only when told to. The zero value starts at the
// zero time; use NewFake for a realistic start.
type Fake struct {
	mu  sync.Mutex
	now time.Time
}

// NewFake returns a fake clock set to start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake's current time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the clock forward by d and returns the new time.
func (f *Fake) Advance(d time.Duration) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	return f.now
}

// Set moves the clock to t.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = t
}

var (
	_ Clock = Real{}
	_ Clock = Offset{}
	_ Clock = (*Fake)(nil)
)
