package twoway

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

func rec(id, ver string, at int, f Fields, keys ...string) Record {
	return Record{ID: id, Version: ver, Modified: t0.Add(time.Duration(at) * time.Minute), Fields: f, Keys: keys}
}

func gone(id, ver string) Record { return Record{ID: id, Version: ver, Deleted: true} }

func describe(p Plan) []string {
	var out []string
	for _, a := range p.Actions {
		s := ""
		switch a.Op {
		case Create:
			s = fmt.Sprintf("create on %s from %s %v", a.Side, a.Source, a.Fields)
		case Update:
			s = fmt.Sprintf("update %s %s %v", a.Side, a.ID, a.Fields)
		case Delete:
			s = fmt.Sprintf("delete %s %s", a.Side, a.ID)
		case DetachOp:
			s = fmt.Sprintf("detach %s %s", a.Side, a.ID)
		case LinkOp:
			s = fmt.Sprintf("link %s=%s", a.Link.A, a.Link.B)
		case Unlink:
			s = fmt.Sprintf("unlink %s=%s", a.Link.A, a.Link.B)
		case Duplicate:
			s = fmt.Sprintf("duplicate %s %s of %s=%s", a.Side, a.ID, a.Link.A, a.Link.B)
		}
		out = append(out, s)
	}
	return out
}

func TestPlan(t *testing.T) {
	link := Link{A: "a1", B: "b1", AVersion: "av1", BVersion: "bv1", Base: Fields{"name": "Carol", "phone": "1"}}
	both := Options{Direction: Both}
	cases := []struct {
		name string
		in   Input
		opts Options
		want []string
		why  string
	}{
		{"nothing changed", Input{Links: []Link{link}}, both, nil, ""},
		{"our own write comes back: ignored", Input{Links: []Link{link}, ChangedA: []Record{rec("a1", "av1", 1, Fields{"name": "Carol", "phone": "1"})}}, both, nil, ""},
		{"changed on A goes to B", Input{Links: []Link{link}, ChangedA: []Record{rec("a1", "av2", 1, Fields{"name": "Caroline", "phone": "1"})}}, both,
			[]string{"update B b1 map[name:Caroline phone:1]"}, ""},
		{"changed on B goes to A", Input{Links: []Link{link}, ChangedB: []Record{rec("b1", "bv2", 1, Fields{"name": "Carol", "phone": "2"})}}, both,
			[]string{"update A a1 map[name:Carol phone:2]"}, ""},
		{"different fields on both sides merge", Input{Links: []Link{link},
			ChangedA: []Record{rec("a1", "av2", 1, Fields{"name": "Caroline", "phone": "1"})},
			ChangedB: []Record{rec("b1", "bv2", 2, Fields{"name": "Carol", "phone": "2"})}}, both,
			[]string{"update A a1 map[name:Caroline phone:2]", "update B b1 map[name:Caroline phone:2]"}, ""},
		{"same field on both: the newer side wins", Input{Links: []Link{link},
			ChangedA: []Record{rec("a1", "av2", 5, Fields{"name": "Caroline", "phone": "1"})},
			ChangedB: []Record{rec("b1", "bv2", 3, Fields{"name": "Carrie", "phone": "1"})}}, both,
			[]string{"update B b1 map[name:Caroline phone:1]"}, ""},
		{"same field on both, B newer", Input{Links: []Link{link},
			ChangedA: []Record{rec("a1", "av2", 3, Fields{"name": "Caroline", "phone": "1"})},
			ChangedB: []Record{rec("b1", "bv2", 5, Fields{"name": "Carrie", "phone": "1"})}}, both,
			[]string{"update A a1 map[name:Carrie phone:1]"}, ""},
		{"one direction: changes against it stay", Input{Links: []Link{link}, ChangedB: []Record{rec("b1", "bv2", 1, Fields{"name": "Carol", "phone": "2"})}},
			Options{Direction: AToB}, []string{"link a1=b1"}, ""},
		{"one direction: its source wins a conflict", Input{Links: []Link{link},
			ChangedA: []Record{rec("a1", "av2", 3, Fields{"name": "Caroline", "phone": "1"})},
			ChangedB: []Record{rec("b1", "bv2", 5, Fields{"name": "Carrie", "phone": "1"})}}, Options{Direction: AToB},
			[]string{"update B b1 map[name:Caroline phone:1]"}, ""},
		{"a one-way field never flows back, and stays where it was typed", Input{Links: []Link{link},
			ChangedA: []Record{rec("a1", "av2", 3, Fields{"name": "Carol", "phone": "1", "birthday": "1970-01-01"})}},
			Options{Direction: Both, OneWay: map[string]Side{"birthday": B}}, []string{"link a1=b1"}, ""},
		{"a one-way field flows from its source", Input{Links: []Link{link},
			ChangedB: []Record{rec("b1", "bv2", 3, Fields{"name": "Carol", "phone": "1", "birthday": "1970-01-01"})}},
			Options{Direction: Both, OneWay: map[string]Side{"birthday": B}}, []string{"update A a1 map[birthday:1970-01-01 name:Carol phone:1]"}, ""},
		{"deleted on A, propagate", Input{Links: []Link{link}, ChangedA: []Record{gone("a1", "av2")}}, both, []string{"delete B b1"}, ""},
		{"deleted on A, keep", Input{Links: []Link{link}, ChangedA: []Record{gone("a1", "av2")}}, Options{Direction: Both, OnDeleteA: Keep}, []string{"unlink a1=b1"}, ""},
		{"deleted on A, detach from the set", Input{Links: []Link{link}, ChangedA: []Record{gone("a1", "av2")}}, Options{Direction: Both, OnDeleteA: Detach}, []string{"detach B b1"}, ""},
		{"deleted on B, propagate", Input{Links: []Link{link}, ChangedB: []Record{gone("b1", "bv2")}}, both, []string{"delete A a1"}, ""},
		{"deleted on both", Input{Links: []Link{link}, ChangedA: []Record{gone("a1", "av2")}, ChangedB: []Record{gone("b1", "bv2")}}, both, []string{"unlink a1=b1"}, ""},
		{"created on A is created on B", Input{ChangedA: []Record{rec("a9", "v1", 1, Fields{"name": "Dan"}, "dan@x.test")}}, both,
			[]string{"create on B from a9 map[name:Dan]"}, ""},
		{"created on A matches an existing B by address: no duplicate", Input{
			ChangedA:  []Record{rec("a9", "v1", 1, Fields{"name": "Dan", "phone": "5"}, "dan@x.test")},
			UnlinkedB: []Record{rec("b9", "w1", 0, Fields{"name": "Daniel"}, "dan@x.test", "d@y.test")}}, both,
			[]string{"update B b9 map[name:Dan phone:5]"}, ""},
		{"first sync: the same person on both sides links", Input{
			ChangedA: []Record{rec("a9", "v1", 1, Fields{"name": "Dan"}, "dan@x.test")},
			ChangedB: []Record{rec("b9", "w1", 2, Fields{"name": "Dan"}, "dan@x.test")}}, both,
			[]string{"link a9=b9"}, ""},
		{"created against the direction stays", Input{ChangedB: []Record{rec("b9", "w1", 2, Fields{"name": "Dan"})}}, Options{Direction: AToB}, nil, ""},
		{"mass deletion is guarded", Input{SizeB: 10, Links: []Link{link, {A: "a2", B: "b2"}, {A: "a3", B: "b3"}},
			ChangedA: []Record{gone("a1", "x"), gone("a2", "x"), gone("a3", "x")}}, Options{Direction: Both, MaxDeleteShare: 0.2, MinDeletes: 2},
			[]string{"delete B b1", "delete B b2", "delete B b3"}, "would delete 3 of 10"},
		{"left the scope on A: unlinked, nothing deleted", Input{Links: []Link{link}, ChangedA: []Record{{ID: "a1", Version: "av2", Left: true, Fields: Fields{"name": "Carol"}}}}, both,
			[]string{"unlink a1=b1"}, ""},
		{"left the scope on B: unlinked even with deletions propagated", Input{Links: []Link{link}, ChangedB: []Record{{ID: "b1", Version: "bv2", Left: true}}},
			Options{Direction: Both, OnDeleteB: Propagate}, []string{"unlink a1=b1"}, ""},
		{"left on B while deleted on A: unlinked, B kept", Input{Links: []Link{link}, ChangedA: []Record{gone("a1", "av2")}, ChangedB: []Record{{ID: "b1", Version: "bv2", Left: true}}},
			both, []string{"unlink a1=b1"}, ""},
		{"left, with its version unchanged, is still seen", Input{Links: []Link{link}, ChangedA: []Record{{ID: "a1", Version: "av1", Left: true}}}, both,
			[]string{"unlink a1=b1"}, ""},
		{"a record out of scope never matches a new one", Input{ChangedA: []Record{rec("a9", "v1", 1, Fields{"name": "Dan"}, "dan@x.test")},
			UnlinkedB: []Record{{ID: "b9", Left: true, Keys: []string{"dan@x.test"}}}}, both, []string{"create on B from a9 map[name:Dan]"}, ""},
		{"new on B with the address of a linked pair: a duplicate, not copied", Input{
			Links:    []Link{{A: "a1", B: "b1", AVersion: "av1", BVersion: "bv1", Keys: []string{"carol@x.test"}}},
			ChangedB: []Record{rec("b2", "w1", 2, Fields{"name": "Carol"}, "carol@x.test")}}, both,
			[]string{"duplicate B b2 of a1=b1"}, ""},
		{"off does nothing", Input{ChangedA: []Record{rec("a9", "v1", 1, Fields{"name": "Dan"})}}, Options{}, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := PlanSync(tc.in, tc.opts)
			if got := describe(p); !slices.Equal(got, tc.want) {
				t.Errorf("plan\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if !strings.Contains(p.Guarded, tc.why) || (tc.why == "" && p.Guarded != "") {
				t.Errorf("guard %q, want %q", p.Guarded, tc.why)
			}
		})
	}
}

// sim is one side's store in the property test.
type sim struct {
	side    Side
	recs    map[string]*Record
	changed map[string]bool // since the last pass
	next    int
}

func newSim(side Side) *sim {
	return &sim{side: side, recs: map[string]*Record{}, changed: map[string]bool{}}
}

func (s *sim) write(id string, f Fields, keys []string, at time.Time, deleted bool) string {
	r := s.recs[id]
	if r == nil {
		s.next++
		id = fmt.Sprintf("%s%d", s.side, s.next)
		r = &Record{ID: id}
		s.recs[id] = r
	}
	n, _ := strconv.Atoi(r.Version)
	r.Version = strconv.Itoa(n + 1)
	r.Fields, r.Modified, r.Deleted = maps.Clone(f), at, deleted
	if keys != nil {
		r.Keys = keys
	}
	s.changed[id] = true
	return id
}

func (s *sim) changes() []Record {
	var out []Record
	for id := range s.changed {
		out = append(out, *s.recs[id])
	}
	s.changed = map[string]bool{}
	return out
}

func (s *sim) live() []*Record {
	var out []*Record
	for _, r := range s.recs {
		if !r.Deleted {
			out = append(out, r)
		}
	}
	return out
}

// Random edits on both sides over many rounds converge: every record is
// linked to one on the other side with the same content, nobody is
// duplicated, and each field holds its newest edit.
// With one direction, the other side's own edit stays on it: a later edit
// of the source side in another field does not carry the source's old
// value of the field the other side changed (found by the randomized run:
// an address changed in the CRM was reverted by a Google rename of a user
// syncing Google to CRM only).
// A record without an id (a zero value a caller left in its input) is
// never copied: it would make an empty contact on the other side.
func TestARecordWithoutAnIDIsNeverCreated(t *testing.T) {
	p := PlanSync(Input{ChangedA: []Record{{}, rec("a1", "1", 1, Fields{"given": "Ann"}, "ann@x")}, ChangedB: []Record{{}}}, Options{Direction: Both})
	if got := describe(p); len(got) != 1 || !strings.Contains(got[0], "create on B from a1") {
		t.Errorf("plan %v, want only a1 created on B", got)
	}
	for _, a := range p.Actions {
		if a.Op == Create && a.Source == "" {
			t.Errorf("a create from a record without an id: %+v", a)
		}
	}
}

func TestOneWayKeepsTheOtherSidesEditAcrossLaterSourceEdits(t *testing.T) {
	opts := Options{Direction: AToB}
	l := Link{A: "a1", B: "b1", AVersion: "av1", BVersion: "bv1", Base: Fields{"name": "Carol", "email": "old@x.test"}}
	// The CRM changes the address: it stays there; the link takes B's
	// version.
	p := PlanSync(Input{Links: []Link{l}, ChangedB: []Record{rec("b1", "bv2", 1, Fields{"name": "Carol", "email": "new@x.test"})}}, opts)
	if got := describe(p); !slices.Equal(got, []string{"link a1=b1"}) {
		t.Fatalf("the CRM's own edit: %v", got)
	}
	next := p.Actions[0].Link
	// Then Google renames Carol: the rename flows, the address stays new.
	p = PlanSync(Input{Links: []Link{next}, ChangedA: []Record{rec("a1", "av2", 2, Fields{"name": "Caroline", "email": "old@x.test"})}}, opts)
	if len(p.Actions) != 1 || p.Actions[0].Op != Update || p.Actions[0].Side != B {
		t.Fatalf("the source's later edit: %v", describe(p))
	}
	if got := p.Actions[0].Patch; !slices.Equal(got, []string{"name"}) {
		t.Errorf("a Google rename writes %v to the CRM, want only the name (not Google's old address over the CRM's own edit)", got)
	}
}

func TestRandomEditsConverge(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		a, b := newSim(A), newSim(B)
		var links []Link
		clock := t0
		tick := func() time.Time { clock = clock.Add(time.Second); return clock }
		// newest[key][field] is the newest edit of a person's field.
		newest := map[string]map[string]string{}
		keyOf := func(r *Record) string { return r.Keys[0] }
		person := 0
		edit := func(s, other *sim) {
			live := s.live()
			edited := map[string]bool{}
			for range 1 + rng.IntN(4) {
				switch x := rng.IntN(10); {
				case x < 3 || len(live) == 0: // a new person (sometimes also on the other side)
					person++
					key := fmt.Sprintf("p%d@x.test", person)
					f := Fields{"name": fmt.Sprintf("n%d", rng.IntN(5)), "phone": fmt.Sprint(rng.IntN(5))}
					s.write("", f, []string{key}, tick(), false)
					newest[key] = maps.Clone(f)
					if rng.IntN(3) == 0 {
						// The same person typed in on the other side too,
						// before any sync: the first pass must link, not copy.
						g := Fields{"name": fmt.Sprintf("m%d", rng.IntN(5)), "phone": fmt.Sprint(rng.IntN(5))}
						other.write("", g, []string{key}, tick(), false)
						newest[key] = maps.Clone(g)
					}
				case x < 9:
					r := live[rng.IntN(len(live))]
					if edited[r.ID] || r.Deleted {
						continue
					}
					edited[r.ID] = true // one edit per record per round: record-level timestamps
					f := maps.Clone(r.Fields)
					field := []string{"name", "phone", "city"}[rng.IntN(3)]
					f[field] = fmt.Sprintf("%s-%d", field, rng.IntN(1000))
					s.write(r.ID, f, nil, tick(), false)
					if newest[keyOf(r)] == nil {
						newest[keyOf(r)] = Fields{}
					}
					newest[keyOf(r)][field] = f[field]
				default:
					r := live[rng.IntN(len(live))]
					if edited[r.ID] {
						continue
					}
					edited[r.ID] = true
					s.write(r.ID, r.Fields, nil, tick(), true)
					delete(newest, keyOf(r))
				}
			}
		}
		pass := func() {
			p := PlanSync(Input{Links: links, ChangedA: a.changes(), ChangedB: b.changes(), SizeA: len(a.live()), SizeB: len(b.live())},
				Options{Direction: Both, MaxDeleteShare: 1})
			byPair := map[[2]string]Link{}
			for _, l := range links {
				byPair[[2]string{l.A, l.B}] = l
			}
			for _, act := range p.Actions {
				l := act.Link
				switch act.Op {
				case Create:
					to, from := b, a
					if act.Side == A {
						to, from = a, b
					}
					id := to.write("", act.Fields, from.recs[act.Source].Keys, tick(), false)
					if act.Side == A {
						l.A, l.AVersion = id, to.recs[id].Version
					} else {
						l.B, l.BVersion = id, to.recs[id].Version
					}
					byPair[[2]string{l.A, l.B}] = l
				case Update:
					to := b
					if act.Side == A {
						to = a
					}
					if to.recs[act.ID].Version != act.IfVersion {
						t.Fatalf("seed %d: update of %s at version %s, have %s", seed, act.ID, act.IfVersion, to.recs[act.ID].Version)
					}
					to.write(act.ID, act.Fields, nil, tick(), false)
					cur := byPair[[2]string{l.A, l.B}]
					if cur.A == "" {
						cur = l
					}
					cur.Base = l.Base
					if act.Side == A {
						cur.AVersion = to.recs[act.ID].Version
						if cur.BVersion == "" || l.BVersion != "" {
							cur.BVersion = l.BVersion
						}
					} else {
						cur.BVersion = to.recs[act.ID].Version
						if cur.AVersion == "" || l.AVersion != "" {
							cur.AVersion = l.AVersion
						}
					}
					byPair[[2]string{l.A, l.B}] = cur
				case LinkOp:
					byPair[[2]string{l.A, l.B}] = l
				case Delete:
					to := b
					if act.Side == A {
						to = a
					}
					to.write(act.ID, to.recs[act.ID].Fields, nil, tick(), true)
					delete(byPair, [2]string{l.A, l.B})
				case Unlink, DetachOp:
					delete(byPair, [2]string{l.A, l.B})
				}
			}
			links = slices.Collect(maps.Values(byPair))
			slices.SortFunc(links, func(x, y Link) int { return strings.Compare(x.A+x.B, y.A+y.B) })
		}
		for range 25 {
			edit(a, b)
			edit(b, a)
			pass()
		}
		// Quiet rounds: echoes of our own writes must settle.
		pass()
		pass()
		pass()
		if n := len(a.changes()) + len(b.changes()); n != 0 {
			t.Fatalf("seed %d: quiet passes still write (%d changes)", seed, n)
		}
		// Converged: a one-to-one link per live record, same content.
		if len(links) != len(a.live()) || len(links) != len(b.live()) {
			t.Fatalf("seed %d: %d links for %d live on A and %d on B", seed, len(links), len(a.live()), len(b.live()))
		}
		for _, l := range links {
			ra, rb := a.recs[l.A], b.recs[l.B]
			if ra.Deleted || rb.Deleted || !maps.Equal(ra.Fields, rb.Fields) {
				t.Fatalf("seed %d: link %s=%s: %v vs %v", seed, l.A, l.B, ra.Fields, rb.Fields)
			}
			// No lost update: each field holds the person's newest edit.
			for f, v := range newest[ra.Keys[0]] {
				if ra.Fields[f] != v {
					t.Fatalf("seed %d: %s field %s = %q, newest edit was %q", seed, ra.Keys[0], f, ra.Fields[f], v)
				}
			}
		}
		// No duplicates: one live record per person per side.
		for _, s := range []*sim{a, b} {
			seen := map[string]bool{}
			for _, r := range s.live() {
				if seen[r.Keys[0]] {
					t.Fatalf("seed %d: %s duplicated on %s", seed, r.Keys[0], s.side)
				}
				seen[r.Keys[0]] = true
			}
		}
	}
}

// A write's link keeps the other side as it was; an empty id keeps the
// written side's id.
func TestLinkWrote(t *testing.T) {
	l := Link{A: "people/1", B: "c1", AVersion: "e1", BVersion: "3", Base: Fields{"given": "Ann"}}
	if got := l.Wrote(A, "", "e2"); got.A != "people/1" || got.AVersion != "e2" || got.B != "c1" || got.BVersion != "3" || got.Base["given"] != "Ann" {
		t.Errorf("an update in Google: %+v", got)
	}
	if got := l.Wrote(B, "c9", "1"); got.B != "c9" || got.BVersion != "1" || got.A != "people/1" || got.AVersion != "e1" {
		t.Errorf("a create in the CRM: %+v", got)
	}
	if l.AVersion != "e1" {
		t.Error("Wrote changed the link it was called on")
	}
}

func TestIfVersionOr(t *testing.T) {
	if v := (Action{IfVersion: "7"}).IfVersionOr(3); v != 7 {
		t.Errorf("planned version 7: got %d", v)
	}
	if v := (Action{}).IfVersionOr(3); v != 3 {
		t.Errorf("no planned version: got %d, want the one read", v)
	}
}
