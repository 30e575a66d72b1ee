package web

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/crmsync/crmsync/shared/connect"
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
	"contacts.direction": "Contact sync", "contacts.scope": "Contacts from the CRM", "contacts.set": "Set name",
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
