package matching

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLinkClient(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 11, d, 12, 0, 0, 0, time.UTC) }
	cases := []struct {
		name       string
		cands      []ClientCandidate
		client     string
		review     bool
		others     []string
		reasonHint string
	}{
		{"no client: nothing is created", nil, "", false, nil, ""},
		{"one client: linked, no review", []ClientCandidate{{ClientID: "c1", Addresses: 1}}, "c1", false, nil, ""},
		{"more matched addresses decide", []ClientCandidate{{ClientID: "c1", Addresses: 1, LastActivity: day(20)}, {ClientID: "c2", Addresses: 2}}, "c2", true, []string{"c1"}, SignalAddresses},
		{"equal addresses: the most recent activity decides", []ClientCandidate{{ClientID: "c1", Addresses: 1, LastActivity: day(3)}, {ClientID: "c2", Addresses: 1, LastActivity: day(9)}, {ClientID: "c3", Addresses: 1}},
			"c2", true, []string{"c1", "c3"}, SignalRecent},
		{"nothing tells them apart: the first by ID", []ClientCandidate{{ClientID: "c9", Addresses: 1}, {ClientID: "c4", Addresses: 1}}, "c4", true, []string{"c9"}, SignalOrder},
		{"a tie below the best does not matter", []ClientCandidate{{ClientID: "a", Addresses: 3}, {ClientID: "b", Addresses: 1}, {ClientID: "c", Addresses: 1}}, "a", true, []string{"b", "c"}, SignalAddresses},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := slices.Clone(c.cands)
			got := LinkClient(c.cands)
			if got.ClientID != c.client || got.NeedsReview != c.review || !slices.Equal(got.Others, c.others) || !strings.HasPrefix(got.Reason, c.reasonHint) {
				t.Errorf("LinkClient = %+v, want %s review=%v others=%v reason %q…", got, c.client, c.review, c.others, c.reasonHint)
			}
			if !slices.Equal(in, c.cands) {
				t.Error("LinkClient reordered its input")
			}
		})
	}
}
