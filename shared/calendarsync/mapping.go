package calendarsync

import (
	"strconv"
	"strings"
	"time"

	calendar "google.golang.org/api/calendar/v3"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/twoway"
)

// The mapped fields of an event or activity, in canonical form.
const (
	fTitle      = "title"
	fStart      = "start"    // RFC 3339 in UTC, or "date:YYYY-MM-DD" for all-day
	fEnd        = "end"      // the same; all-day ends are exclusive on both sides
	fZone       = "tz"       // the time zone of a timed event
	fLocation   = "location" //
	fNotes      = "notes"    // the description
	fRecurrence = "recurrence"
	fDocuments  = "documents" // "title|url" lines
	fContacts   = "contacts"  // CRM contact ids: primary first (from Google guests only)
	fSeries     = "series"    // the Google id of the series an exception belongs to
	fOriginal   = "original"  // an exception's original start, as fStart
	fCancelled  = "cancelled" // "1" for a cancelled instance of a series
)

// propActivity is the private extended property our events carry: the CRM
// activity they come from, so a full resync relinks instead of duplicating.
const propActivity = "crmsyncActivity"

func setf(f twoway.Fields, k, v string) {
	if v != "" {
		f[k] = v
	}
}

// when is an EventDateTime in canonical form.
func when(d *calendar.EventDateTime) string {
	if d == nil {
		return ""
	}
	if d.Date != "" {
		return "date:" + d.Date
	}
	t, err := time.Parse(time.RFC3339, d.DateTime)
	if err != nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// isAllDay says whether a canonical time is a date.
func isAllDay(v string) bool { return strings.HasPrefix(v, "date:") }

// eventRecord reduces a Google event. contacts is the guests' CRM contacts
// (primary first), or nil.
func eventRecord(e *calendar.Event, o options, contacts []string) twoway.Record {
	r := twoway.Record{ID: e.Id, Version: e.Etag, Fields: twoway.Fields{}, Deleted: e.Status == "cancelled" && e.RecurringEventId == ""}
	r.Modified, _ = time.Parse(time.RFC3339, e.Updated)
	f := r.Fields
	setf(f, fTitle, e.Summary)
	setf(f, fStart, when(e.Start))
	setf(f, fEnd, when(e.End))
	if e.Start != nil && e.Start.Date == "" {
		setf(f, fZone, e.Start.TimeZone)
	}
	setf(f, fLocation, e.Location)
	setf(f, fNotes, e.Description)
	setf(f, fRecurrence, strings.Join(e.Recurrence, "\n"))
	if o.documents {
		var docs []string
		for _, a := range e.Attachments {
			docs = append(docs, a.Title+"|"+a.FileUrl)
		}
		setf(f, fDocuments, strings.Join(docs, "\n"))
	}
	if o.contacts {
		setf(f, fContacts, strings.Join(contacts, ","))
	}
	if e.RecurringEventId != "" {
		setf(f, fSeries, e.RecurringEventId)
		setf(f, fOriginal, when(e.OriginalStartTime))
		if e.Status == "cancelled" {
			f[fCancelled] = "1"
		}
	}
	if e.ExtendedProperties != nil {
		if id := e.ExtendedProperties.Private[propActivity]; id != "" {
			r.Keys = []string{"activity:" + id}
		}
	}
	return r
}

// activityRecord reduces a CRM activity; googleSeries translates its
// series (a CRM id) to the Google id of the linked series.
func activityRecord(a crm.Activity, o options, googleSeries func(string) string) twoway.Record {
	r := twoway.Record{ID: a.ID, Version: strconv.FormatInt(a.Version, 10), Modified: a.Updated, Deleted: a.Deleted, Fields: twoway.Fields{}}
	f := r.Fields
	setf(f, fTitle, a.Title)
	if a.StartDate != "" {
		setf(f, fStart, "date:"+a.StartDate)
		setf(f, fEnd, "date:"+a.EndDate)
	} else {
		setf(f, fStart, a.Start.UTC().Format(time.RFC3339))
		setf(f, fEnd, a.End.UTC().Format(time.RFC3339))
		setf(f, fZone, a.TimeZone)
	}
	setf(f, fLocation, a.Location)
	setf(f, fNotes, a.Notes)
	setf(f, fRecurrence, strings.Join(a.Recurrence, "\n"))
	if o.documents {
		var docs []string
		for _, d := range a.Documents {
			docs = append(docs, d.Title+"|"+d.URL)
		}
		setf(f, fDocuments, strings.Join(docs, "\n"))
	}
	if o.contacts {
		ids := a.AdditionalContacts
		if a.PrimaryContact != "" {
			ids = append([]string{a.PrimaryContact}, ids...)
		}
		setf(f, fContacts, strings.Join(ids, ","))
	}
	if a.SeriesID != "" {
		setf(f, fSeries, googleSeries(a.SeriesID))
		setf(f, fOriginal, a.OriginalStart)
		if a.Cancelled {
			f[fCancelled] = "1"
		}
	}
	r.Keys = []string{"activity:" + a.ID}
	return r
}

// toEvent sets the fields on a Google event.
func toEvent(e *calendar.Event, f twoway.Fields, o options) *calendar.Event {
	e.Summary, e.Location, e.Description = f[fTitle], f[fLocation], f[fNotes]
	e.Start, e.End = dateTime(f[fStart], f[fZone]), dateTime(f[fEnd], f[fZone])
	if f[fSeries] == "" {
		e.Recurrence = nil
		if r := f[fRecurrence]; r != "" {
			e.Recurrence = strings.Split(r, "\n")
		}
	}
	if o.documents {
		e.Attachments = nil
		for _, line := range strings.Split(f[fDocuments], "\n") {
			if title, url, ok := strings.Cut(line, "|"); ok {
				e.Attachments = append(e.Attachments, &calendar.EventAttachment{Title: title, FileUrl: url})
			}
		}
	}
	if f[fCancelled] == "1" {
		e.Status = "cancelled"
	}
	return e
}

func dateTime(v, zone string) *calendar.EventDateTime {
	if d, ok := strings.CutPrefix(v, "date:"); ok {
		return &calendar.EventDateTime{Date: d}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil
	}
	if loc, err := time.LoadLocation(zone); err == nil && zone != "" {
		t = t.In(loc)
	}
	return &calendar.EventDateTime{DateTime: t.Format(time.RFC3339), TimeZone: zone}
}

// toActivity sets the fields on a CRM activity; crmSeries translates a
// Google series id to the linked activity's id.
func toActivity(a crm.Activity, f twoway.Fields, o options, crmSeries func(string) string) crm.Activity {
	a.Title, a.Location, a.Notes = f[fTitle], f[fLocation], f[fNotes]
	a.Start, a.End, a.StartDate, a.EndDate, a.TimeZone = time.Time{}, time.Time{}, "", "", ""
	if isAllDay(f[fStart]) {
		a.StartDate, a.EndDate = strings.TrimPrefix(f[fStart], "date:"), strings.TrimPrefix(f[fEnd], "date:")
	} else {
		a.Start, _ = time.Parse(time.RFC3339, f[fStart])
		a.End, _ = time.Parse(time.RFC3339, f[fEnd])
		a.TimeZone = f[fZone]
	}
	a.Recurrence = nil
	if r := f[fRecurrence]; r != "" {
		a.Recurrence = strings.Split(r, "\n")
	}
	if o.documents {
		a.Documents = nil
		for _, line := range strings.Split(f[fDocuments], "\n") {
			if title, url, ok := strings.Cut(line, "|"); ok {
				a.Documents = append(a.Documents, crm.Document{Title: title, URL: url})
			}
		}
	}
	if o.contacts {
		a.PrimaryContact, a.AdditionalContacts = "", nil
		for i, id := range strings.Split(f[fContacts], ",") {
			if id == "" {
				continue
			}
			if i == 0 {
				a.PrimaryContact = id
			} else {
				a.AdditionalContacts = append(a.AdditionalContacts, id)
			}
		}
	}
	a.SeriesID, a.OriginalStart, a.Cancelled = "", "", false
	if s := f[fSeries]; s != "" {
		a.SeriesID, a.OriginalStart, a.Cancelled = crmSeries(s), f[fOriginal], f[fCancelled] == "1"
	}
	return a
}
