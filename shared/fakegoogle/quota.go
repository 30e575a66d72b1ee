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

// window is the units charged in the last minute, oldest first.
type window struct {
	at    []time.Time
	units []int
	sum   int
}

// room drops what is a minute old and says whether n more units fit in
// limit.
func (w *window) room(now time.Time, n, limit int) bool {
	drop := 0
	for drop < len(w.at) && now.Sub(w.at[drop]) >= time.Minute {
		w.sum -= w.units[drop]
		drop++
	}
	w.at, w.units = w.at[drop:], w.units[drop:]
	return w.sum+n <= limit
}

func (w *window) add(now time.Time, n int) {
	w.at, w.units, w.sum = append(w.at, now), append(w.units, n), w.sum+n
}

type quotaState struct {
	buckets map[string]*bucket                 // user + "/" + service
	windows map[string]*window                 // user + "/" + service, or "project/" + service
	usage   map[string]map[string]*MethodUsage // user → method → usage
}

func newQuotaState() *quotaState {
	return &quotaState{buckets: map[string]*bucket{}, windows: map[string]*window{}, usage: map[string]map[string]*MethodUsage{}}
}

func (q *quotaState) window(key string) *window {
	w := q.windows[key]
	if w == nil {
		w = &window{}
		q.windows[key] = w
	}
	return w
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

// charge takes rt's units from the user's budget of rt's service and from
// the project's. The quota page states both per minute: by default the
// fake counts the units of the last minute (a rolling window), so no
// minute ever holds more than the limit. With QuotaBurst set, the user's
// budget is a token bucket instead, refilled at the per-minute rate and
// holding QuotaBurst's worth (Gmail's older "250 units per user per second,
// moving average"). It reports which limit refused the call (and counts it
// as rate limited), or ok.
func (s *Server) charge(rt *route, email string) (ok, perUser bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.usageLocked(email, rt.id)
	u.Calls++
	now := s.opts.Clock.Now()
	key := email + "/" + rt.service
	if limit := s.opts.QuotaPerUserPerMinute; limit > 0 {
		if burst := s.opts.QuotaBurst; burst > 0 {
			capacity := float64(limit) * burst.Minutes()
			b := s.quota.buckets[key]
			if b == nil {
				b = &bucket{tokens: capacity, last: now}
				s.quota.buckets[key] = b
			}
			b.tokens = min(capacity, b.tokens+now.Sub(b.last).Minutes()*float64(limit))
			b.last = now
			if b.tokens < float64(rt.units) {
				u.RateLimited++
				return false, true
			}
		} else if !s.quota.window(key).room(now, rt.units, limit) {
			u.RateLimited++
			return false, true
		}
	}
	if limit := s.opts.QuotaPerProjectPerMinute; limit > 0 && !s.quota.window("project/"+rt.service).room(now, rt.units, limit) {
		u.RateLimited++
		return false, false
	}
	if s.opts.QuotaPerUserPerMinute > 0 {
		if s.opts.QuotaBurst > 0 {
			s.quota.buckets[key].tokens -= float64(rt.units)
		} else {
			s.quota.window(key).add(now, rt.units)
		}
	}
	if s.opts.QuotaPerProjectPerMinute > 0 {
		s.quota.window("project/"+rt.service).add(now, rt.units)
	}
	u.Units += rt.units
	return true, false
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
