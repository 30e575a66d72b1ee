// Package syncpass runs one user's two-way sync pass: the part the
// contact and calendar engines share. The runner decides whether the user
// is due a pass at all, holds the user's lease, reads and stores both
// sides' cursors, reads the CRM's change feed, ends a pass that finds no
// change on either side before it reads the stored links, records the
// pass's status, and plans without writing for the preview report. An
// engine supplies its side of the pass (Pass): its options, Google's
// changes, the records and the plan, and applying it.
//
// Google is side A and the CRM side B, as in the twoway planner.
package syncpass

import (
	"context"
	"log/slog"
	"slices"
	"strconv"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/twoway"
	"github.com/crmsync/crmsync/shared/workspace"
)

// Feature names what one engine syncs and where its state is stored.
type Feature struct {
	// Kind keys the user's lease, links and pass status ("contacts",
	// "calendar"), and starts the runner's log messages.
	Kind string
	// GoogleCursor and CRMCursor name the two stored cursors.
	GoogleCursor, CRMCursor string
	// Product is the Google product in words ("Google Contacts").
	Product string
	// Scopes are the OAuth scopes the user must have granted.
	Scopes func() []string
	// Feed is the CRM change feed the engine reads.
	Feed crm.Collection
}

// CRM is what the runner needs of the CRM.
type CRM interface {
	UserByEmail(ctx context.Context, email string) (crm.User, error)
	Changes(ctx context.Context, c crm.Collection, scope crm.FeedScope, cursor string, limit int) (crm.ChangePage, error)
}

// Pass is an engine's side of one user's pass, made for that pass by the
// engine's Factory. The runner calls Begin, Positions, ReadGoogle,
// FeedScope, then (unless the pass is quiet) Plan; a pass that writes goes
// on with Apply (an empty plan when quiet), Stamp and Finish; a dry run's
// actions are named with Named, Read and Name.
type Pass interface {
	// Begin opens what the pass works on (the Google client, the synced
	// calendar) for the user's CRM user.
	Begin(ctx context.Context, crmUser crm.User) error
	// Positions cuts the stored cursors' values into the Google sync
	// token and the CRM feed cursor to read from; "" reads that side whole.
	Positions(google, crm string) (token, from string)
	// Stamp is Positions the other way: the values to store for the
	// token and cursor read to.
	Stamp(token, from string) (google, crm string)
	// ReadGoogle reads Google's changes since token (all when ""; an
	// expired token fails with failure.CursorExpired), keeps them for
	// Plan, and returns how many it read, the token to store and whether
	// it read the synced scope whole.
	ReadGoogle(ctx context.Context, token string) (changed int, next string, full bool, err error)
	// FeedScope is the part of the CRM feed the pass reads.
	FeedScope() crm.FeedScope
	// Plan plans the pass from the stored links and the CRM's changes;
	// whole says the CRM side is read whole (there is no feed cursor yet).
	Plan(ctx context.Context, links []store.Link, feed []crm.Change, whole bool) (twoway.Plan, error)
	// Apply carries out the plan. A non-empty guarded says why the pass
	// stopped before writing; the cursors then stay where they were.
	Apply(ctx context.Context, plan twoway.Plan) (guarded string, err error)
	// Finish runs after the cursors are stored (a push channel renewed).
	Finish(ctx context.Context) error
	// Named says whether a record's fields name it (a title, a name).
	Named(f twoway.Fields) bool
	// Read gives the fields of a record the pass read, by side and id.
	Read(side twoway.Side, id string) (twoway.Fields, bool)
	// Name is a record's name in words, from its fields.
	Name(f twoway.Fields) string
	// Tally is what the pass did; the runner adds how it ended.
	Tally() *Tally
	// Counts are what the pass did, for its recorded status.
	Counts() map[string]int
}

// Tally counts what a pass did on each side, and how it ended. The
// engines' results embed it.
type Tally struct {
	CreatedGoogle, UpdatedGoogle, DeletedGoogle int
	CreatedCRM, UpdatedCRM, DeletedCRM          int
	Linked, Unlinked, Conflicts                 int
	// FullGoogle says Google's side was read whole.
	FullGoogle bool
	// Quiet says neither side had changed, so the pass read no more.
	Quiet bool
	// Guarded says why the pass stopped before writing anything.
	Guarded string
}

// Tallied is the tally itself: an engine's result, which embeds it, gives
// it by this method.
func (t Tally) Tallied() Tally { return t }

// SettleCRMUpdate settles a planned update of the CRM record of a's link,
// given the record's new version and the write's error: a write the CRM
// refused because the record changed since the pass read it (an error of
// one of the conflict kinds) is counted and left to the next pass, which
// plans it again; another error is returned; a done write is remembered
// on the link with the new version and counted.
func (t *Tally) SettleCRMUpdate(a twoway.Action, version int64, err error, remember func(twoway.Link, twoway.Side), conflict ...failure.Kind) error {
	if err != nil && slices.ContainsFunc(conflict, func(k failure.Kind) bool { return failure.Is(err, k) }) {
		t.Conflicts++
		return nil
	}
	if err != nil {
		return err
	}
	remember(a.Link.Wrote(twoway.B, "", strconv.FormatInt(version, 10)), twoway.B)
	t.UpdatedCRM++
	return nil
}

// Counts are the tally's writes, as a pass's recorded status holds them.
func (t Tally) Counts() map[string]int {
	return map[string]int{
		"createdGoogle": t.CreatedGoogle, "updatedGoogle": t.UpdatedGoogle, "deletedGoogle": t.DeletedGoogle,
		"createdCRM": t.CreatedCRM, "updatedCRM": t.UpdatedCRM, "deletedCRM": t.DeletedCRM}
}

// Factory makes an engine's pass for a user from the stored options; nil
// (and no error) when the user's options turn the feature off. Invalid
// options are an error of kind failure.Invalid.
type Factory func(u store.User, dryRun bool) (Pass, error)

// Deps are the dependencies every sync engine has beside its ports to
// Google and the CRM.
type Deps struct {
	Store *store.Store
	Log   *slog.Logger
	Clock clock.Clock
	// Holder names the instance in the leases its passes hold.
	Holder string
	// Retry is the budget of retries of each Google call.
	Retry workspace.Retry
}

// Runner runs passes of one feature. Its fields are its dependencies.
type Runner struct {
	Deps
	Feature Feature
	CRM     CRM
}

// feedPage is how many CRM changes one feed read asks for.
const feedPage = 1000

// Pass runs one pass for the user with the address email. A user who is
// unknown, not connected, paused, without the CRM right, with the feature
// off or without having granted its scopes is not due a pass: nothing is
// read, and the pass returned is nil. Otherwise the pass runs under the
// user's lease and its status is recorded whatever its end.
func (r *Runner) Pass(ctx context.Context, email string, newPass Factory) (Pass, error) {
	u, err := r.Store.Users().Get(ctx, email)
	if failure.Is(err, failure.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p, err := newPass(u, false)
	if err != nil || p == nil {
		return nil, err
	}
	if u.Connection.State != store.Connected || u.SyncState != store.Active || u.RightWithdrawn {
		return nil, nil
	}
	if !u.Granted(r.Feature.Scopes()) {
		// The user unticked the product on Google's consent screen: nothing
		// to do until they give it (the status page asks them to).
		r.Log.Info(r.Feature.Kind+": no access granted to "+r.Feature.Product+"; pass skipped", "user", u.ID)
		return nil, nil
	}
	ctx, _, end, err := r.Store.Leases().HoldPass(ctx, u.ID, r.Feature.Kind, r.Holder, store.PassLeaseTTL)
	if err != nil {
		return nil, err
	}
	defer end()
	err = r.run(ctx, u, p)
	t := p.Tally()
	status := store.PassStatus{At: r.Clock.Now(), OK: err == nil && t.Guarded == "", Counts: p.Counts()}
	if err != nil {
		status.Error = err.Error()
	}
	if t.Guarded != "" {
		status.Error = t.Guarded
	}
	if rerr := r.Store.Users().RecordPass(ctx, u.ID, r.Feature.Kind, status); rerr != nil && err == nil {
		err = rerr
	}
	return p, err
}

// ResultOf is the result R of the engine's pass the runner's Pass
// returned (the zero R when no pass ran), with the pass's error: an
// engine's Pass is ResultOf of its runner's. The engine's pass gives its
// result by a Result method.
func ResultOf[R any](p Pass, err error) (R, error) {
	var r R
	if withResult, ok := p.(interface{ Result() R }); ok {
		r = withResult.Result()
	}
	return r, err
}

// Preview plans a pass for the user without writing anything, its
// actions named by the engine: what the preview report shows. The plan is
// empty when the user's options turn the feature off.
func (r *Runner) Preview(ctx context.Context, email string, newPass Factory) (twoway.Plan, error) {
	u, err := r.Store.Users().Get(ctx, email)
	if err != nil {
		return twoway.Plan{}, err
	}
	p, err := newPass(u, true)
	if err != nil || p == nil {
		return twoway.Plan{}, err
	}
	plan, _, _, err := r.plan(ctx, u, p)
	for i, a := range plan.Actions {
		plan.Actions[i].Name = name(p, a)
	}
	return plan, err
}

// name says what an action is about: the record its fields describe, or
// else the first record the pass read of its own side, its source, or
// its link's two sides.
func name(p Pass, a twoway.Action) string {
	f := a.Fields
	for _, rec := range []struct {
		side twoway.Side
		id   string
	}{{a.Side, a.ID}, {a.Side.Other(), a.Source}, {twoway.A, a.Link.A}, {twoway.B, a.Link.B}} {
		if p.Named(f) {
			break
		}
		if read, ok := p.Read(rec.side, rec.id); ok {
			f = read
		}
	}
	return p.Name(f)
}

// positions are the cursors a pass read from and the positions it read
// to.
type positions struct {
	google, crm        store.Cursor
	nextToken, nextCRM string
}

// plan reads both sides and plans the pass. A quiet pass (no change on
// either side, neither read whole) ends before the stored links are read:
// their number is the size of the user's whole synced scope.
func (r *Runner) plan(ctx context.Context, u store.User, p Pass) (twoway.Plan, positions, bool, error) {
	var pos positions
	crmUser, err := r.CRM.UserByEmail(ctx, u.Email)
	if err != nil {
		return twoway.Plan{}, pos, false, err
	}
	if err := p.Begin(ctx, crmUser); err != nil {
		return twoway.Plan{}, pos, false, err
	}
	if pos.google, err = r.Store.Cursors().Get(ctx, u.ID, r.Feature.GoogleCursor); err != nil {
		return twoway.Plan{}, pos, false, err
	}
	if pos.crm, err = r.Store.Cursors().Get(ctx, u.ID, r.Feature.CRMCursor); err != nil {
		return twoway.Plan{}, pos, false, err
	}
	token, from := p.Positions(pos.google.Value, pos.crm.Value)
	changed, next, full, err := p.ReadGoogle(ctx, token)
	if failure.Is(err, failure.CursorExpired) {
		r.Log.Info(r.Feature.Kind+": Google's sync token is no longer valid; full read", "user", u.ID)
		changed, next, full, err = p.ReadGoogle(ctx, "")
	}
	if err != nil {
		return twoway.Plan{}, pos, false, err
	}
	pos.nextToken = next
	var feed []crm.Change
	if from != "" {
		if feed, pos.nextCRM, err = r.feed(ctx, p.FeedScope(), from); err != nil {
			return twoway.Plan{}, pos, false, err
		}
		if !full && changed == 0 && len(feed) == 0 {
			return twoway.Plan{}, pos, true, nil
		}
	} else if pos.nextCRM, err = r.feedEnd(ctx, p.FeedScope()); err != nil {
		// The first read of the CRM side lists it whole; the feed's end,
		// read first, is where the next pass reads on (changes made
		// meanwhile are read twice, never missed).
		return twoway.Plan{}, pos, false, err
	}
	links, err := r.Store.Links(r.Feature.Kind).List(ctx, u.ID)
	if err != nil {
		return twoway.Plan{}, pos, false, err
	}
	plan, err := p.Plan(ctx, links, feed, from == "")
	return plan, pos, false, err
}

// run plans, applies and stores the cursors.
func (r *Runner) run(ctx context.Context, u store.User, p Pass) error {
	plan, pos, quiet, err := r.plan(ctx, u, p)
	if err != nil {
		return err
	}
	t := p.Tally()
	t.Quiet = quiet
	if t.Guarded, err = p.Apply(ctx, plan); err != nil || t.Guarded != "" {
		return err
	}
	google, crmValue := p.Stamp(pos.nextToken, pos.nextCRM)
	if pos.nextToken != "" {
		if _, err := r.Store.Cursors().Advance(ctx, u.ID, pos.google, google); err != nil {
			return err
		}
	}
	if pos.nextCRM != "" && crmValue != pos.crm.Value {
		if _, err := r.Store.Cursors().Advance(ctx, u.ID, pos.crm, crmValue); err != nil {
			return err
		}
	}
	return p.Finish(ctx)
}

// feed reads the CRM's changes in scope since cursor, and the cursor
// after them.
func (r *Runner) feed(ctx context.Context, scope crm.FeedScope, cursor string) ([]crm.Change, string, error) {
	var changes []crm.Change
	for {
		page, err := r.CRM.Changes(ctx, r.Feature.Feed, scope, cursor, feedPage)
		if err != nil {
			return nil, "", err
		}
		changes = append(changes, page.Changes...)
		cursor = page.Cursor
		if !page.More {
			return changes, cursor, nil
		}
	}
}

// feedEnd reads the CRM feed in scope to its end, keeping none of it, and
// returns the cursor there.
func (r *Runner) feedEnd(ctx context.Context, scope crm.FeedScope) (string, error) {
	cursor := ""
	for {
		page, err := r.CRM.Changes(ctx, r.Feature.Feed, scope, cursor, feedPage)
		if err != nil {
			return "", err
		}
		cursor = page.Cursor
		if !page.More {
			return cursor, nil
		}
	}
}

// Links are stored links as the planner takes them; keys, when not nil,
// gives a link's match keys from its base.
func Links(stored []store.Link, keys func(store.Link) []string) []twoway.Link {
	out := make([]twoway.Link, 0, len(stored))
	for _, l := range stored {
		tl := twoway.Link{A: l.Google, B: l.CRM, AVersion: l.GoogleVersion, BVersion: l.CRMVersion, Base: l.Base}
		if keys != nil {
			tl.Keys = keys(l)
		}
		out = append(out, tl)
	}
	return out
}
