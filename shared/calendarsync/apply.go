package calendarsync

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	calendar "google.golang.org/api/calendar/v3"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/twoway"
	"github.com/crmsync/crmsync/shared/workspace"
)

// instanceID is Google's id of a series' instance at its original start.
func instanceID(series, original string) string {
	if d, ok := strings.CutPrefix(original, "date:"); ok {
		return series + "_" + strings.ReplaceAll(d, "-", "")
	}
	t, err := time.Parse(time.RFC3339, original)
	if err != nil {
		return ""
	}
	return series + "_" + t.UTC().Format("20060102T150405Z")
}

func (p *pass) apply(ctx context.Context, plan twoway.Plan) error {
	googleOf, crmOf := map[string]string{}, map[string]string{}
	for _, l := range p.links {
		googleOf[l.CRM], crmOf[l.Google] = l.Google, l.CRM
	}
	toGoogle := func(s string) string {
		if id, ok := strings.CutPrefix(s, "crm:"); ok {
			return googleOf[id]
		}
		return s
	}
	toCRM := func(s string) string { return crmOf[s] }

	var written twoway.Written
	remember := written.Record
	var drops []store.Link
	// Series before their exceptions, so an exception finds its series.
	acts := plan.Actions
	sort.SliceStable(acts, func(i, j int) bool { return acts[i].Fields[fSeries] == "" && acts[j].Fields[fSeries] != "" })
	w := crm.Write{AsUser: p.crmUser.ID, Origin: crm.Origin}
	for _, a := range acts {
		switch {
		case a.Op == twoway.Create && a.Side == twoway.B:
			act := toActivity(crm.Activity{Owner: p.crmUser.ID}, a.Fields, p.opts, toCRM)
			if a.Fields[fSeries] != "" && act.SeriesID == "" {
				p.result.Skipped++ // its series is not synced
				continue
			}
			w.IdempotencyKey = "calendar:" + p.user.ID + ":" + a.Source
			made, err := p.e.CRM.CreateActivity(ctx, w, act)
			w.IdempotencyKey = ""
			if failure.Is(err, failure.Invalid) {
				p.e.Log.Warn("calendar: the CRM refused an event", "user", p.user.ID, "event", a.Source, "err", err)
				p.result.Skipped++
				continue
			}
			if err != nil {
				return err
			}
			l := a.Link.Wrote(twoway.B, made.ID, strconv.FormatInt(made.Version, 10))
			googleOf[made.ID], crmOf[l.A] = l.A, made.ID
			remember(l, twoway.B)
			p.result.CreatedCRM++
		case a.Op == twoway.Create && a.Side == twoway.A:
			f := a.Fields
			ev := toEvent(&calendar.Event{ExtendedProperties: &calendar.EventExtendedProperties{Private: map[string]string{propActivity: a.Source}}}, f, p.opts)
			var made *calendar.Event
			var err error
			p.result.CalendarCalls++
			if series := toGoogle(f[fSeries]); f[fSeries] != "" {
				id := instanceID(series, f[fOriginal])
				if series == "" || id == "" {
					p.result.Skipped++
					continue
				}
				made, err = workspace.Call(ctx, p.e.Retry, "calendar: events.patch", func() (*calendar.Event, error) {
					return p.cal.Events.Patch(p.calID, id, ev).SupportsAttachments(p.opts.documents).Context(ctx).Do()
				})
			} else {
				made, err = workspace.Call(ctx, p.e.Retry, "calendar: events.insert", func() (*calendar.Event, error) {
					return p.cal.Events.Insert(p.calID, ev).SupportsAttachments(p.opts.documents).Context(ctx).Do()
				})
			}
			if failure.Is(err, failure.Invalid) || failure.Is(err, failure.NotFound) {
				p.e.Log.Warn("calendar: Google refused an activity", "user", p.user.ID, "activity", a.Source, "err", err)
				p.result.Skipped++
				continue
			}
			if err != nil {
				return err
			}
			l := a.Link.Wrote(twoway.A, made.Id, made.Etag)
			googleOf[l.B], crmOf[made.Id] = made.Id, l.B
			remember(l, twoway.A)
			p.result.CreatedGoogle++
		case a.Op == twoway.Update && a.Side == twoway.A:
			ev := toEvent(&calendar.Event{}, a.Fields, p.opts)
			for field, api := range map[string]string{fLocation: "Location", fNotes: "Description"} {
				if a.Fields[field] == "" {
					ev.NullFields = append(ev.NullFields, api)
				}
			}
			p.result.CalendarCalls++
			made, err := workspace.Call(ctx, p.e.Retry, "calendar: events.patch", func() (*calendar.Event, error) {
				return p.cal.Events.Patch(p.calID, a.ID, ev).SupportsAttachments(p.opts.documents).Context(ctx).Do()
			})
			if failure.Is(err, failure.NotFound) || failure.Is(err, failure.Invalid) {
				p.result.Conflicts++
				continue
			}
			if err != nil {
				return err
			}
			remember(a.Link.Wrote(twoway.A, "", made.Etag), twoway.A)
			p.result.UpdatedGoogle++
		case a.Op == twoway.Update && a.Side == twoway.B:
			cur, err := p.activity(ctx, a.ID)
			if err != nil {
				return err
			}
			next := toActivity(cur, a.Fields, p.opts, toCRM)
			next.Version = a.IfVersionOr(next.Version)
			made, err := p.e.CRM.UpdateActivity(ctx, w, next)
			if err := p.result.SettleCRMUpdate(a, made.Version, err, remember, failure.Conflict, failure.Invalid); err != nil {
				return err
			}
		case a.Op == twoway.Delete && a.Side == twoway.A:
			p.result.CalendarCalls++
			_, err := workspace.Call(ctx, p.e.Retry, "calendar: events.delete", func() (any, error) {
				return nil, p.cal.Events.Delete(p.calID, a.ID).Context(ctx).Do()
			})
			if err != nil && !failure.Is(err, failure.NotFound) && !failure.Is(err, failure.CursorExpired) {
				return err // 410 (already deleted) is classified CursorExpired and means done
			}
			drops = append(drops, store.Link{Google: a.Link.A})
			p.result.DeletedGoogle++
		case a.Op == twoway.Delete && a.Side == twoway.B:
			ver, _ := strconv.ParseInt(a.IfVersion, 10, 64)
			if a.IfVersion == "" {
				// A cascade (its series was deleted): whatever it is now.
				cur, err := p.e.CRM.Activity(ctx, a.ID)
				if err != nil && !failure.Is(err, failure.NotFound) {
					return err
				}
				if err != nil || cur.Deleted {
					drops = append(drops, store.Link{Google: a.Link.A})
					continue
				}
				ver = cur.Version
			}
			_, err := p.e.CRM.DeleteActivity(ctx, w, a.ID, ver)
			if failure.Is(err, failure.Conflict) {
				p.result.Conflicts++
				continue
			}
			if err != nil && !failure.Is(err, failure.NotFound) {
				return err
			}
			drops = append(drops, store.Link{Google: a.Link.A})
			p.result.DeletedCRM++
		case a.Op == twoway.LinkOp:
			remember(a.Link, 0)
			p.result.Linked++
		case a.Op == twoway.Unlink, a.Op == twoway.DetachOp:
			drops = append(drops, store.Link{Google: a.Link.A})
			p.result.Unlinked++
		}
	}
	var puts []store.Link
	for _, l := range written.Links() {
		if l.A != "" && l.B != "" {
			puts = append(puts, store.Link{Google: l.A, CRM: l.B, GoogleVersion: l.AVersion, CRMVersion: l.BVersion, Base: l.Base})
		}
	}
	return p.e.Store.Links(feature.Kind).Apply(ctx, p.user.ID, puts, drops)
}

// activity is the CRM activity id as this pass read it, or as the CRM has
// it when the pass did not read it.
func (p *pass) activity(ctx context.Context, id string) (crm.Activity, error) {
	if a, ok := p.acts[id]; ok {
		return a, nil
	}
	return p.e.CRM.Activity(ctx, id)
}
