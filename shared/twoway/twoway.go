// Package twoway is the pure bidirectional reconcile that contact sync
// and calendar sync share. Given what is linked, what changed on each side
// since the last pass and the options, Plan says what to write where. It
// reads nothing and writes nothing; the engines feed it and apply its
// plan.
//
// The two sides are A (Google) and B (the CRM). Every record is reduced to
// Fields, the mapped content as canonical strings, plus the side's own
// version (an etag or a CRM version) and the side's own modification time.
//
// Rules:
//   - Changed on one side only: the change goes to the other side.
//   - Changed on both: a field-level merge against the content both sides
//     had at the last sync (the link's Base). A field changed on one side
//     takes that side's value; a field changed on both to different values
//     takes the value of the side whose own modification time is newer
//     (ties go to A); the server's clock is never consulted. With one
//     direction only, its source side wins such a conflict, and the other
//     side's own edits stay on it until the source changes that field (the
//     link's base then follows the source side).
//   - A change whose version is the one the link recorded for that side is
//     the echo of our own write and is ignored.
//   - Created on one side: first matched to an unlinked record of the other
//     side sharing a match key (an e-mail address), and linked with a merge;
//     a record sharing a key with an already linked pair is a duplicate
//     (reported, not copied); otherwise created on the other side.
//   - Deleted on one side: per the options, deleted on the other, kept
//     (unlinked), or detached (the engine removes it from the synced set).
//     Only a deletion deletes: a record that left its side's synced scope
//     (Record.Left) is unlinked, and both sides keep it.
//   - Fields may flow one way only (Options.OneWay); a direction may be
//     switched off entirely (Options.Direction).
//   - Guard: a plan that would delete more than Options.MaxDeleteShare of
//     one side's records (and more than Options.MinDeletes) is marked
//     Guarded with the reason; the engine applies nothing and asks the user.
package twoway

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"time"
)

// Side names a side.
type Side int

// The sides.
const (
	A Side = iota + 1 // Google
	B                 // the CRM
)

func (s Side) String() string {
	if s == A {
		return "A"
	}
	return "B"
}

// Other is the other side.
func (s Side) Other() Side {
	if s == A {
		return B
	}
	return A
}

// Fields is a record's mapped content.
type Fields map[string]string

// Record is one side's record as the pass sees it.
type Record struct {
	ID       string
	Version  string
	Modified time.Time
	Fields   Fields
	Deleted  bool
	// Left says the record still exists but left its side's synced scope
	// (a label or set it no longer has, a type the options exclude). A
	// linked record that left is unlinked: it stops syncing and nothing is
	// deleted on either side.
	Left bool
	// Keys match a new record with an unlinked one of the other side
	// (lower-cased e-mail addresses).
	Keys []string
}

// Link pairs records across the sides, with what was synced last.
type Link struct {
	A, B               string
	AVersion, BVersion string
	// Base is the content both sides had after the last sync.
	Base Fields
	// Keys are the match keys of the linked pair (its e-mail addresses):
	// a new record of either side with one of them is a duplicate of this
	// pair, not a new record to copy.
	Keys []string
}

// Wrote is the link after a write to its record on side: the record's id
// there (kept when id is "") and its new version.
func (l Link) Wrote(side Side, id, version string) Link {
	if side == A {
		if id != "" {
			l.A = id
		}
		l.AVersion = version
	} else {
		if id != "" {
			l.B = id
		}
		l.BVersion = version
	}
	return l
}

// IfVersionOr is the version the action's write is made against: its
// IfVersion as a CRM version number, else read (the version the pass read).
func (a Action) IfVersionOr(read int64) int64 {
	if v, err := strconv.ParseInt(a.IfVersion, 10, 64); err == nil {
		return v
	}
	return read
}

// Direction says which way changes flow.
type Direction int

// Directions.
const (
	Off Direction = iota
	AToB
	BToA
	Both
)

func (d Direction) flows(from Side) bool {
	return d == Both || (from == A && d == AToB) || (from == B && d == BToA)
}

// OnDelete says what a deletion on one side does to the other.
type OnDelete int

// Deletion policies.
const (
	// Propagate deletes the linked record on the other side.
	Propagate OnDelete = iota
	// Keep leaves the other record and drops the link.
	Keep
	// Detach drops the link and asks the engine to take the other record
	// out of the synced scope (remove it from the synced set).
	Detach
)

// Options of a plan.
type Options struct {
	Direction Direction
	// OnDeleteA applies when a record is deleted on A; OnDeleteB on B.
	OnDeleteA, OnDeleteB OnDelete
	// OneWay limits fields to one source: a field listed here only flows
	// from that side (e.g. birthdays from the CRM only).
	OneWay map[string]Side
	// MaxDeleteShare and MinDeletes are the mass-deletion guard: more than
	// MaxDeleteShare of a side's records, and more than MinDeletes, stop
	// the plan. Zero values mean 0.2 and 5; a negative MinDeletes means 0.
	MaxDeleteShare float64
	MinDeletes     int
}

// Input is what a pass knows.
type Input struct {
	Links []Link
	// ChangedA and ChangedB are the records changed (or created, or
	// deleted) on each side since the last pass; on a full read, all.
	ChangedA, ChangedB []Record
	// UnlinkedA and UnlinkedB are existing records not linked yet that a
	// new record of the other side may match (found by its keys).
	UnlinkedA, UnlinkedB []Record
	// SizeA and SizeB are the sides' record counts, for the guard.
	SizeA, SizeB int
}

// Op is a kind of action.
type Op int

// Actions.
const (
	Create   Op = iota + 1 // create on Side from Fields; link to Source
	Update                 // set Fields on Side's record ID if its version is IfVersion
	Delete                 // delete Side's record ID (version IfVersion)
	DetachOp               // take Side's record ID out of the synced scope
	LinkOp                 // link A and B as they are (no write)
	Unlink                 // drop the link of A and B; Side, when set, is the side that left its scope
	// Duplicate reports a new record of Side (ID) that shares a key with
	// an already linked pair (Link): it is not copied, so the other side
	// does not get a second copy; the engines report it to be merged.
	Duplicate
)

// Action is one step of a plan.
type Action struct {
	Op   Op
	Side Side // where the write happens
	// ID is the record written (Update, Delete, DetachOp); Source is the
	// record on the other side it comes from (Create, Update).
	ID, Source string
	IfVersion  string
	Fields     Fields
	// Kept, on an Unlink after a deletion on the other side, is the side
	// that keeps its record: the engines remember it, so the same person
	// arriving again from the other side links to it instead of a copy.
	Kept Side
	// Patch, on an Update, are the fields whose value on Side changes
	// (set or cleared): the engines write those onto the record as it is
	// now, so its other fields (its own edits under one direction, or a
	// concurrent change) stay.
	Patch []string
	// Link is the link after the action (Create, Update, LinkOp) or the
	// one dropped (Unlink, Delete, DetachOp); its versions of the written
	// side are filled in by the engine after the write.
	Link Link
	// Why explains the action for previews and logs.
	Why string
	// Name is what people call the record, filled in by the engines for
	// preview reports (the planner leaves it empty).
	Name string
}

// Plan is the actions of a pass, in a deterministic order.
type Plan struct {
	Actions []Action
	// Guarded, when set, says why the plan must not be applied.
	Guarded string
}

// Count returns how many actions of op write on side.
func (p Plan) Count(op Op, side Side) int {
	n := 0
	for _, a := range p.Actions {
		if a.Op == op && a.Side == side {
			n++
		}
	}
	return n
}

type state struct {
	in      Input
	opts    Options
	byA     map[string]*Link
	byB     map[string]*Link
	changeA map[string]Record
	changeB map[string]Record
	plan    Plan
	claimed map[string]bool // side+id of records already linked this pass
}

// PlanSync reconciles in under opts.
func PlanSync(in Input, opts Options) Plan {
	if opts.MaxDeleteShare == 0 {
		opts.MaxDeleteShare = 0.2
	}
	switch {
	case opts.MinDeletes == 0:
		opts.MinDeletes = 5
	case opts.MinDeletes < 0:
		opts.MinDeletes = 0
	}
	s := &state{in: in, opts: opts, byA: map[string]*Link{}, byB: map[string]*Link{},
		changeA: map[string]Record{}, changeB: map[string]Record{}, claimed: map[string]bool{}}
	for i := range in.Links {
		l := &in.Links[i]
		s.byA[l.A], s.byB[l.B] = l, l
	}
	for _, r := range in.ChangedA {
		s.changeA[r.ID] = r
	}
	for _, r := range in.ChangedB {
		s.changeB[r.ID] = r
	}
	if opts.Direction == Off {
		return Plan{}
	}
	// Linked records first: changes on one side, both, deletions.
	for _, l := range sortedLinks(in.Links) {
		s.linked(l)
	}
	// New records: match, then create.
	s.unlinked(A, in.ChangedA)
	s.unlinked(B, in.ChangedB)
	s.guard()
	return s.plan
}

func sortedLinks(ls []Link) []Link {
	out := slices.Clone(ls)
	slices.SortFunc(out, func(x, y Link) int { return cmp.Or(cmp.Compare(x.A, y.A), cmp.Compare(x.B, y.B)) })
	return out
}

// changed reports a real change of a linked record: present in the
// changes with a version other than the one we recorded.
func changedOf(m map[string]Record, id, recorded string) (Record, bool) {
	r, ok := m[id]
	if !ok || (r.Version == recorded && !r.Deleted && !r.Left) {
		return Record{}, false
	}
	return r, true
}

func (s *state) add(a Action) { s.plan.Actions = append(s.plan.Actions, a) }

func (s *state) linked(l Link) {
	ra, ca := changedOf(s.changeA, l.A, l.AVersion)
	rb, cb := changedOf(s.changeB, l.B, l.BVersion)
	switch {
	case !ca && !cb:
		return
	case ca && ra.Left, cb && rb.Left:
		left := A
		if !(ca && ra.Left) {
			left = B
		}
		s.add(Action{Op: Unlink, Side: left, Link: l, Why: fmt.Sprintf("left the synced scope on %s; kept on both sides", left)})
	case ca && ra.Deleted && cb && rb.Deleted:
		s.add(Action{Op: Unlink, Link: l, Why: "deleted on both sides"})
	case ca && ra.Deleted:
		s.deleted(A, l, rb, cb)
	case cb && rb.Deleted:
		s.deleted(B, l, ra, ca)
	default:
		var fa, fb Fields
		if ca {
			fa = ra.Fields
		}
		if cb {
			fb = rb.Fields
		}
		s.merge(l, ra, ca, rb, cb, fa, fb)
	}
}

// deleted handles a deletion on side from of a linked record; other is the
// other side's record if it changed too.
func (s *state) deleted(from Side, l Link, other Record, otherChanged bool) {
	to := from.Other()
	policy := s.opts.OnDeleteA
	if from == B {
		policy = s.opts.OnDeleteB
	}
	id, ver := l.B, l.BVersion
	if to == A {
		id, ver = l.A, l.AVersion
	}
	if otherChanged {
		ver = other.Version
	}
	switch {
	case !s.opts.Direction.flows(from) || policy == Keep:
		s.add(Action{Op: Unlink, Kept: to, Link: l, Why: fmt.Sprintf("deleted on %s; kept on %s", from, to)})
	case policy == Detach:
		s.add(Action{Op: DetachOp, Side: to, ID: id, Link: l, Why: fmt.Sprintf("deleted on %s; removed from the synced set on %s", from, to)})
	default:
		s.add(Action{Op: Delete, Side: to, ID: id, IfVersion: ver, Link: l, Why: fmt.Sprintf("deleted on %s", from)})
	}
}

// merge reconciles a linked pair of which at least one side changed. fa or
// fb is nil for a side that did not change (its content is the base).
func (s *state) merge(l Link, ra Record, ca bool, rb Record, cb bool, fa, fb Fields) {
	base := l.Base
	if base == nil {
		base = Fields{}
	}
	if !ca {
		fa = base
	}
	if !cb {
		fb = base
	}
	merged := s.mergeFields(base, fa, fb, ra.Modified, rb.Modified, ca, cb)
	// The base is what both sides share after this sync. With one
	// direction only, the other side keeps its own edits, so the base is
	// the source side's content: a later edit of the source does not carry
	// the source's old values of fields the other side changed on its own.
	nextBase := merged
	switch s.opts.Direction {
	case AToB:
		nextBase = maps.Clone(fa) // A is never written
	case BToA:
		nextBase = maps.Clone(fb)
	}
	next := Link{A: l.A, B: l.B, AVersion: l.AVersion, BVersion: l.BVersion, Base: nextBase}
	if ca {
		next.AVersion = ra.Version
	}
	if cb {
		next.BVersion = rb.Version
	}
	wroteA, wroteB := false, false
	if ta := project(merged, fa, A, s.opts); !maps.Equal(ta, fa) && s.opts.Direction.flows(B) {
		s.add(Action{Op: Update, Side: A, ID: l.A, Source: l.B, IfVersion: next.AVersion, Fields: ta, Patch: patch(fa, ta), Link: next, Why: "changed on " + which(ca, cb)})
		wroteA = true
	}
	if tb := project(merged, fb, B, s.opts); !maps.Equal(tb, fb) && s.opts.Direction.flows(A) {
		s.add(Action{Op: Update, Side: B, ID: l.B, Source: l.A, IfVersion: next.BVersion, Fields: tb, Patch: patch(fb, tb), Link: next, Why: "changed on " + which(ca, cb)})
		wroteB = true
	}
	if !wroteA && !wroteB {
		s.add(Action{Op: LinkOp, Link: next, Why: "both sides agree"})
	}
}

// patch is the sorted keys whose value differs between from and to.
func patch(from, to Fields) []string {
	var out []string
	for k, v := range to {
		if from[k] != v {
			out = append(out, k)
		}
	}
	for k := range from {
		if _, ok := to[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func which(ca, cb bool) string {
	switch {
	case ca && cb:
		return "both sides"
	case ca:
		return "A"
	}
	return "B"
}

// mergeFields merges field by field against base.
func (s *state) mergeFields(base, fa, fb Fields, ta, tb time.Time, ca, cb bool) Fields {
	out := Fields{}
	keys := map[string]bool{}
	for _, m := range []Fields{base, fa, fb} {
		for k := range m {
			keys[k] = true
		}
	}
	for k := range keys {
		a, b, o := fa[k], fb[k], base[k]
		var v string
		switch {
		case a == b:
			v = a
		case a == o:
			v = b
		case b == o:
			v = a
		default:
			// Changed on both sides: with one direction, its source wins;
			// with both, the side that changed later.
			v = a
			switch s.opts.Direction {
			case BToA:
				v = b
			case Both:
				if cb && (!ca || tb.After(ta)) {
					v = b
				}
			}
		}
		// A one-way field only takes its source's value.
		if src, ok := s.opts.OneWay[k]; ok {
			if src == A {
				v = a
			} else {
				v = b
			}
		}
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// project is what side should hold after a merge: the merged content,
// except one-way fields. Side keeps its own value of a field that flows
// only from it, and of a field that flows only to it when the source has
// no value (a birthday typed in Google stays when the CRM has none).
func project(merged, own Fields, side Side, opts Options) Fields {
	out := Fields{}
	for k, v := range merged {
		out[k] = v
	}
	for k, src := range opts.OneWay {
		if src == side || merged[k] == "" {
			if v, ok := own[k]; ok && v != "" {
				out[k] = v
			} else {
				delete(out, k)
			}
		}
	}
	return out
}

// unlinked handles new records of side: match or create.
func (s *state) unlinked(side Side, changed []Record) {
	recs := slices.Clone(changed)
	sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })
	for _, r := range recs {
		// A record without an id names nothing: never a reason to create.
		if r.ID == "" || r.Deleted || r.Left || s.isLinked(side, r.ID) || s.claimed[side.String()+r.ID] {
			continue
		}
		if m, ok := s.match(side, r); ok {
			s.claimed[side.String()+r.ID], s.claimed[side.Other().String()+m.ID] = true, true
			l := Link{}
			ra, rb := r, m
			if side == B {
				ra, rb = m, r
			}
			l.A, l.B = ra.ID, rb.ID
			// Both are "changed" with no common base: field conflicts go
			// to the newer side, the rest is the union.
			s.merge(l, ra, true, rb, true, ra.Fields, rb.Fields)
			continue
		}
		if !s.opts.Direction.flows(side) {
			continue
		}
		if l, ok := s.linkedWithKey(r.Keys); ok {
			s.add(Action{Op: Duplicate, Side: side, ID: r.ID, Link: l, Why: "has the address of a contact already synced; not copied (merge the two)"})
			continue
		}
		s.claimed[side.String()+r.ID] = true
		to := side.Other()
		l := Link{}
		if side == A {
			l.A, l.AVersion = r.ID, r.Version
		} else {
			l.B, l.BVersion = r.ID, r.Version
		}
		fields := project(r.Fields, Fields{}, to, s.opts)
		l.Base = fields
		s.add(Action{Op: Create, Side: to, Source: r.ID, Fields: fields, Link: l, Why: "created on " + side.String()})
	}
}

func (s *state) isLinked(side Side, id string) bool {
	if side == A {
		return s.byA[id] != nil
	}
	return s.byB[id] != nil
}

// linkedWithKey finds a linked pair with one of keys.
func (s *state) linkedWithKey(keys []string) (Link, bool) {
	for _, l := range sortedLinks(s.in.Links) {
		for _, k := range keys {
			if k != "" && slices.Contains(l.Keys, k) {
				return l, true
			}
		}
	}
	return Link{}, false
}

// match finds an unlinked record of the other side sharing a key.
func (s *state) match(side Side, r Record) (Record, bool) {
	pool := slices.Concat(s.in.UnlinkedB, s.in.ChangedB)
	if side == B {
		pool = slices.Concat(s.in.UnlinkedA, s.in.ChangedA)
	}
	sort.SliceStable(pool, func(i, j int) bool { return pool[i].ID < pool[j].ID })
	other := side.Other()
	for _, c := range pool {
		if c.Deleted || c.Left || s.isLinked(other, c.ID) || s.claimed[other.String()+c.ID] {
			continue
		}
		for _, k := range r.Keys {
			if k != "" && slices.Contains(c.Keys, k) {
				return c, true
			}
		}
	}
	return Record{}, false
}

// guard stops a plan that deletes too much of a side.
func (s *state) guard() {
	for _, side := range []Side{A, B} {
		size := s.in.SizeA
		if side == B {
			size = s.in.SizeB
		}
		n := s.plan.Count(Delete, side)
		if n > s.opts.MinDeletes && float64(n) > s.opts.MaxDeleteShare*float64(size) {
			s.plan.Guarded = fmt.Sprintf("this pass would delete %d of %d records on %s (more than %.0f%%); confirm before it runs",
				n, size, side, 100*s.opts.MaxDeleteShare)
			return
		}
	}
}

// Written gathers the links of a plan as its writes complete. A link
// written on both sides meets itself here: each write brings the version
// of the side it wrote (0 for an action that wrote nothing).
type Written struct{ m map[string]*Link }

// Record notes a link after a write on side wrote.
func (w *Written) Record(l Link, wrote Side) {
	if w.m == nil {
		w.m = map[string]*Link{}
	}
	key := l.A + "\x00" + l.B
	cur, ok := w.m[key]
	if !ok {
		cp := l
		w.m[key] = &cp
		return
	}
	switch wrote {
	case A:
		cur.AVersion = l.AVersion
	case B:
		cur.BVersion = l.BVersion
	}
	cur.Base = l.Base
}

// Links returns the links recorded, in a stable order.
func (w *Written) Links() []Link {
	out := make([]Link, 0, len(w.m))
	for _, l := range w.m {
		out = append(out, *l)
	}
	return sortedLinks(out)
}
