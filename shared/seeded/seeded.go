// Package seeded runs randomized tests, one subtest per seed, so that a
// failure can be replayed exactly.
//
// Seeds come from CRMSYNC_RANDOM_SEEDS (comma-separated) or are drawn. A
// failing seed's subtest logs the command that replays it, the story the
// test told (Story.Printf) and, with CRMSYNC_RANDOM_TRACE set, the trace
// the code under test wrote (Story.Trace, e.g. an engine's debug log):
//
//	seeded.Run(t, 4, func(t *testing.T, rng *rand.Rand, s *seeded.Story) {
//		s.Printf("google %s: create %s", user, addr)
//		…
//	})
package seeded

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/shared/logging"
)

// Story is what a seed's run did, shown when it fails.
type Story struct {
	lines []string
	// Trace collects what the code under test logs.
	Trace logging.Buffer
}

// Printf adds a line to the story.
func (s *Story) Printf(format string, args ...any) {
	s.lines = append(s.lines, fmt.Sprintf(format, args...))
}

// Seeds returns CRMSYNC_RANDOM_SEEDS, or n seeds drawn at random.
func Seeds(t testing.TB, n int) []uint64 {
	t.Helper()
	var seeds []uint64
	if v := os.Getenv("CRMSYNC_RANDOM_SEEDS"); v != "" {
		for _, s := range strings.Split(v, ",") {
			n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
			if err != nil {
				t.Fatalf("CRMSYNC_RANDOM_SEEDS=%q: %v", v, err)
			}
			seeds = append(seeds, n)
		}
		return seeds
	}
	for range n {
		seeds = append(seeds, rand.Uint64())
	}
	return seeds
}

// Run runs body once per seed (Seeds(t, n)) as a subtest named after the
// seed, with a generator made from it. A randomized run is many passes:
// -short skips it.
func Run(t *testing.T, n int, body func(t *testing.T, rng *rand.Rand, s *Story)) {
	t.Helper()
	if testing.Short() {
		t.Skip("a randomized run of many passes")
	}
	for _, seed := range Seeds(t, n) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			s := &Story{}
			defer func() {
				if !t.Failed() {
					return
				}
				t.Logf("replay: CRMSYNC_RANDOM_SEEDS=%d go test -run '%s'; what happened:\n%s", seed, t.Name(), strings.Join(s.lines, "\n"))
				if os.Getenv("CRMSYNC_RANDOM_TRACE") != "" {
					t.Logf("the trace:\n%s", s.Trace.String())
				} else {
					t.Log("set CRMSYNC_RANDOM_TRACE=1 to see the trace too")
				}
			}()
			body(t, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), s)
		})
	}
}
