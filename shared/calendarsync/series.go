package calendarsync

import (
	"time"

	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/twoway"
)

// completeCancelled fills in the cancelled occurrences Google lists in
// their minimal shape (only id, series and original start are guaranteed):
// a linked one keeps what was synced last, so only "cancelled" changes; a
// new one is its series' entry at its original start (title, zone,
// length), so the CRM gets a cancelled exception of the series.
func (p *pass) completeCancelled(recs []twoway.Record) {
	for _, r := range recs {
		f := r.Fields
		if r.Deleted || f[fCancelled] != "1" || f[fTitle] != "" {
			continue
		}
		if l := p.linkOf(r.ID); l != nil && len(l.Base) > 0 {
			for k, v := range l.Base {
				if _, ok := f[k]; !ok {
					f[k] = v
				}
			}
			continue
		}
		series := p.seriesFields(f[fSeries])
		if series == nil {
			continue // its series is not synced: skipped as such when applied
		}
		setf(f, fTitle, series[fTitle])
		setf(f, fLocation, series[fLocation])
		if isAllDay(f[fOriginal]) != isAllDay(series[fStart]) {
			continue
		}
		start, length := f[fOriginal], seriesLength(series)
		if isAllDay(start) {
			d, err := time.Parse(time.DateOnly, start[len("date:"):])
			if err != nil {
				continue
			}
			f[fStart], f[fEnd] = start, "date:"+d.Add(length).Format(time.DateOnly)
			continue
		}
		t, err := time.Parse(time.RFC3339, start)
		if err != nil {
			continue
		}
		f[fStart], f[fEnd] = start, t.Add(length).UTC().Format(time.RFC3339)
		setf(f, fZone, series[fZone])
	}
}

// seriesFields is the content of the Google series id: as read this pass,
// else as synced last.
func (p *pass) seriesFields(id string) twoway.Fields {
	if ev, ok := p.events[id]; ok && ev.Status != "cancelled" {
		return eventRecord(ev, p.opts, nil).Fields
	}
	if l := p.linkOf(id); l != nil {
		return l.Base
	}
	return nil
}

// seriesLength is how long each occurrence of a series lasts.
func seriesLength(f twoway.Fields) time.Duration {
	if isAllDay(f[fStart]) {
		s, err1 := time.Parse(time.DateOnly, f[fStart][len("date:"):])
		e, err2 := time.Parse(time.DateOnly, f[fEnd][len("date:"):])
		if err1 != nil || err2 != nil || !e.After(s) {
			return 24 * time.Hour
		}
		return e.Sub(s)
	}
	s, err1 := time.Parse(time.RFC3339, f[fStart])
	e, err2 := time.Parse(time.RFC3339, f[fEnd])
	if err1 != nil || err2 != nil || e.Before(s) {
		return 0
	}
	return e.Sub(s)
}

func (p *pass) linkOf(googleID string) *store.Link {
	for i := range p.links {
		if p.links[i].Google == googleID {
			return &p.links[i]
		}
	}
	return nil
}

// cascadeSeries makes a series' end the end of its exceptions, on both
// sides: when the plan deletes a series, or unlinks one the CRM deleted,
// each linked exception of it is deleted in the CRM (Google deletes a
// series' exceptions with it; the CRM keeps them as orphans); when it
// unlinks one the CRM keeps, its exceptions are unlinked too. Any other
// action on those exceptions is dropped. A cancelled occurrence of a
// series that is gone is not written anywhere.
func (p *pass) cascadeSeries(plan twoway.Plan) twoway.Plan {
	// Google series id → Delete (the series is gone from the CRM, so its
	// CRM exceptions go too) or Unlink (the CRM keeps its series).
	ended := map[string]twoway.Op{}
	for _, a := range plan.Actions {
		if a.Link.A == "" || !p.isSeries(a.Link) {
			continue
		}
		switch {
		case a.Op == twoway.Delete, a.Op == twoway.DetachOp:
			ended[a.Link.A] = twoway.Delete
		case a.Op == twoway.Unlink && a.Kept == twoway.B:
			if _, ok := ended[a.Link.A]; !ok {
				ended[a.Link.A] = twoway.Unlink
			}
		case a.Op == twoway.Unlink:
			ended[a.Link.A] = twoway.Delete // deleted in the CRM (kept in Google, or gone from both)
		}
	}
	if len(ended) == 0 {
		return plan
	}
	exceptionOf := func(fields twoway.Fields) (string, bool) {
		s := fields[fSeries]
		_, ok := ended[s]
		return s, ok && s != ""
	}
	var out []twoway.Action
	handled := map[string]bool{}
	for _, a := range plan.Actions {
		series, ok := exceptionOf(a.Link.Base)
		if !ok {
			series, ok = exceptionOf(a.Fields)
		}
		if !ok {
			out = append(out, a)
			continue
		}
		if a.Link.A != "" && a.Link.B != "" && !handled[a.Link.A] {
			handled[a.Link.A] = true
			out = append(out, p.endException(a.Link, ended[series]))
		}
		// An unlinked exception of an ended series (a cancelled occurrence
		// Google lists with it) is written nowhere.
	}
	for _, l := range p.links {
		series, ok := exceptionOf(l.Base)
		if !ok || handled[l.Google] {
			continue
		}
		handled[l.Google] = true
		out = append(out, p.endException(twoway.Link{A: l.Google, B: l.CRM, AVersion: l.GoogleVersion, BVersion: l.CRMVersion, Base: l.Base}, ended[series]))
	}
	plan.Actions = out
	return plan
}

func (p *pass) endException(l twoway.Link, op twoway.Op) twoway.Action {
	if op == twoway.Delete {
		return twoway.Action{Op: twoway.Delete, Side: twoway.B, ID: l.B, Link: l, Why: "its series was deleted"}
	}
	return twoway.Action{Op: twoway.Unlink, Link: l, Why: "its series is no longer synced"}
}

// isSeries says whether a link is of a recurring series (not one of its
// exceptions).
func (p *pass) isSeries(l twoway.Link) bool {
	if l.Base[fRecurrence] != "" {
		return true
	}
	if ev, ok := p.events[l.A]; ok && len(ev.Recurrence) > 0 {
		return true
	}
	if a, ok := p.acts[l.B]; ok && len(a.Recurrence) > 0 {
		return true
	}
	return false
}
