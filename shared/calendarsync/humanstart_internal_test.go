package calendarsync

import "testing"

// The preview names events with their start as people read it, in the
// event's own time zone, not as stored (RFC 3339 in UTC).
func TestHumanStart(t *testing.T) {
	for _, c := range []struct{ start, zone, want string }{
		{"2026-11-24T19:00:00Z", "America/New_York", "Tue 24 Nov 2026 14:00 America/New_York"},
		{"2026-11-24T19:00:00Z", "", "Tue 24 Nov 2026 19:00 UTC"},
		{"date:2026-12-25", "", "Fri 25 Dec 2026, all day"},
		{"2026-12-25", "Europe/Paris", "Fri 25 Dec 2026, all day"},
		{"not a time", "", "not a time"},
	} {
		if got := humanStart(c.start, c.zone); got != c.want {
			t.Errorf("humanStart(%q, %q) = %q, want %q", c.start, c.zone, got, c.want)
		}
	}
}
