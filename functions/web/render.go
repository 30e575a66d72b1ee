package web

import (
	"bytes"
	"cmp"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/crmsync/crmsync/shared/connect"
	"github.com/crmsync/crmsync/shared/jobs"
	"github.com/crmsync/crmsync/shared/preview"
	"github.com/crmsync/crmsync/shared/setup"
	"github.com/crmsync/crmsync/shared/store"
)

//go:embed templates/*.html
var templateFiles embed.FS

// page is what every template gets.
type page struct {
	Title, Message, Help string
	Next                 string
	Base                 string
	User                 *store.User
	Tenant               *store.Tenant
	Settings             *settingsView
	Admin                *adminView
	Review               *setup.Review
	Notice, Error        string
	Fields               setup.Invalid
	CSRF                 string
	Action, Preview      string
	Confirm              *confirmation
	Removed              *setup.Offboarded
}

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"has":     func(list []string, v string) bool { return slices.Contains(list, v) },
	"granted": func(list []connect.Feature, v string) bool { return slices.Contains(list, connect.Feature(v)) },
	"featureName": func(f string) string {
		return map[string]string{"mail": "Gmail", "contacts": "Google Contacts", "calendar": "Google Calendar"}[f]
	},
	"featureUse": func(f string) string {
		return map[string]string{"mail": "e-mail posting", "contacts": "contact sync", "calendar": "calendar sync"}[f]
	},
	"direction": preview.DirectionText,
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return "—"
			}
			return v.UTC().Format("2 Jan 2006 15:04 UTC")
		case *time.Time:
			if v == nil || v.IsZero() {
				return "—"
			}
			return v.UTC().Format("2 Jan 2006 15:04 UTC")
		}
		return "—"
	},
	"fieldError": func(f setup.Invalid, name string) string { return f.Message(name) },
	"fieldLabel": fieldLabel,
	"countWords": countWords,
	"feature":    func(k string) string { return cmp.Or(featureNames[k], k) },
	"nextPass":   nextPass,
	"words":      func(s string) string { return strings.ReplaceAll(s, "_", " ") },
	"list4":      setup.Directions,
	"headers4":   func() []string { return []string{"From", "To", "Cc", "Bcc"} },
	"headers3":   func() []string { return []string{"From", "To", "Cc"} },
	"deref":      func(b *bool) bool { return b != nil && *b },
}).ParseFS(templateFiles, "templates/*.html"))

// render writes a page; a template that fails leaves a plain error, not
// half a page.
func (h *Handler) render(w http.ResponseWriter, status int, name string, p page) {
	p.Base = h.BasePath
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, p); err != nil {
		h.Log.Error("web: rendering a page", "page", name, "err", err)
		http.Error(w, "the page could not be shown", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// fieldLabels name the form's fields as their labels do.
var fieldLabels = map[string]string{
	"contacts.direction": "Contact sync", "contacts.scope": "Contacts from the CRM", "contacts.set": "Set name", "contacts.group": "Folder (Google contact label)",
	"contacts": "Contact sync", "calendar": "Calendar sync",
	"contacts.createType": "New CRM contacts are", "contacts.onGoogleDelete": "When a contact is deleted in Google",
	"calendar.direction": "Calendar sync", "calendar.name": "Calendar name", "calendar.contactAssociation": "Contact e-mail association",
	"mail.autoSync": "Automatic mail sync", "mail.outgoing": "Outgoing e-mail: compare", "mail.incoming": "Incoming e-mail: compare",
	"appName": "Application name", "attachmentLimitMB": "Attachment size limit", "authMode": "How users connect Google",
	"labelName": "Label name", "oauthClientId": "OAuth client ID",
}

// fieldLabel is a form field's label, for the list of what was refused.
func fieldLabel(field string) string {
	if l, ok := fieldLabels[field]; ok {
		return l
	}
	return field
}

// countLabels say a pass's counters in words.
var countLabels = map[string]string{
	"createdGoogle": "created in Google", "updatedGoogle": "updated in Google", "deletedGoogle": "deleted in Google",
	"createdCRM": "created in the CRM", "updatedCRM": "updated in the CRM", "deletedCRM": "deleted in the CRM",
	"posted": "posted", "failed": "failed", "unmatched": "unmatched", "retrying": "waiting to be tried again",
	"synced": "filed on a client", "review": "waiting for your review", "noClient": "of no client", "duplicates": "not copied (duplicates)", "paused": "paused (outside the synced label or set)",
}

// countWords is "3 updated in Google" for a counter of a pass.
func countWords(key string, n int) string {
	return fmt.Sprintf("%d %s", n, cmp.Or(countLabels[key], key))
}

// featureNames name the passes' features.
var featureNames = map[string]string{"mail": "E-mail posting", "contacts": "Contact sync", "calendar": "Calendar sync"}

// nextPass is when the scheduler runs a feature's pass again at the
// latest, after one at last (its job's period); zero when it is not
// scheduled.
func nextPass(feature string, last time.Time) time.Time {
	kind := map[string]string{"mail": jobs.MailSweep, "contacts": jobs.ContactSync, "calendar": jobs.CalendarSync}[feature]
	if p := jobs.Period(kind); p > 0 && !last.IsZero() {
		return last.Add(p)
	}
	return time.Time{}
}
