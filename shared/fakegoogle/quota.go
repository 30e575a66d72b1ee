package fakegoogle

import (
	"time"
)

// MethodUsage counts one method's calls for one user.
type MethodUsage struct {
	// Calls counts requests that passed authentication.
	Calls int
	// Units counts the quota units charged (Google's published costs).
	Units int
	// RateLimited counts calls refused with 429 for the user's budget.
	RateLimited int
	// Faults counts calls answered with an injected error.
	Faults int
}

type bucket struct {
	tokens float64
	last   time.Time
}

type quotaState struct {
	buckets map[string]*bucket                 // user + "/" + service
	usage   map[string]map[string]*MethodUsage // user → method → usage
}

func newQuotaState() *quotaState {
	return &quotaState{buckets: map[string]*bucket{}, usage: map[string]map[string]*MethodUsage{}}
}

func (s *Server) usageLocked(email, method string) *MethodUsage {
	m := s.quota.usage[email]
	if m == nil {
		m = map[string]*MethodUsage{}
		s.quota.usage[email] = m
	}
	u := m[method]
	if u == nil {
		u = &MethodUsage{}
		m[method] = u
	}
	return u
}

// countFault records a call answered with an injected error, uncharged.
func (s *Server) countFault(rt *route, email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.usageLocked(email, rt.id)
	u.Calls++
	u.Faults++
}

// charge takes rt's units from the user's per-minute budget of rt's
// service, a token bucket refilled continuously. It reports false, and
// counts a rate-limited call, when the budget is spent.
func (s *Server) charge(rt *route, email string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.usageLocked(email, rt.id)
	u.Calls++
	if limit := s.opts.QuotaPerUserPerMinute; limit > 0 {
		now := s.opts.Clock.Now()
		key := email + "/" + rt.service
		capacity := float64(limit)
		if burst := s.opts.QuotaBurst; burst > 0 {
			capacity = float64(limit) * burst.Minutes()
		}
		b := s.quota.buckets[key]
		if b == nil {
			b = &bucket{tokens: capacity, last: now}
			s.quota.buckets[key] = b
		}
		b.tokens += now.Sub(b.last).Minutes() * float64(limit)
		if b.tokens > capacity {
			b.tokens = capacity
		}
		b.last = now
		if b.tokens < float64(rt.units) {
			u.RateLimited++
			return false
		}
		b.tokens -= float64(rt.units)
	}
	u.Units += rt.units
	return true
}

// Usage returns a copy of the user's counters by method ID.
func (s *Server) Usage(email string) map[string]MethodUsage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]MethodUsage{}
	for m, u := range s.quota.usage[email] {
		out[m] = *u
	}
	return out
}

// TotalUsage sums every user's counters by method ID.
func (s *Server) TotalUsage() map[string]MethodUsage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]MethodUsage{}
	for _, m := range s.quota.usage {
		for id, u := range m {
			t := out[id]
			t.Calls += u.Calls
			t.Units += u.Units
			t.RateLimited += u.RateLimited
			t.Faults += u.Faults
			out[id] = t
		}
	}
	return out
}

// ResetUsage clears every counter (not the budgets).
func (s *Server) ResetUsage() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quota.usage = map[string]map[string]*MethodUsage{}
}
