// Package setup is what a firm's admin and its users do to set the product
// up, apart from HTTP: who may sign in (admission), the sync settings of
// the product description with their defaults and validation, saving them
// (a new settings version waiting for approval, a confirmation e-mail and
// a preview job), deleting a setup to start over, disconnecting Google,
// the office settings, and the status views of users and admins. The Web
// function renders it.
package setup

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/crmsync/crmsync/shared/calendarsync"
	"github.com/crmsync/crmsync/shared/connect"
	"github.com/crmsync/crmsync/shared/contactsync"
	"github.com/crmsync/crmsync/shared/direction"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/store"
)

// Settings are a user's sync options, as the settings page edits them.
type Settings struct {
	Mail     store.MailSetup     `json:"mail"`
	Contacts store.ContactsSetup `json:"contacts"`
	Calendar store.CalendarSetup `json:"calendar"`
	// Scope is which CRM contacts the form chose, "all" or "set" (stored
	// as whether Contacts.SetID is set); a refused form shows it again as
	// chosen.
	Scope string `json:"scope"`
}

// ContactScope is "set" when the settings sync a CRM set, else "all".
func (s Settings) ContactScope() string {
	if s.Scope != "" {
		return s.Scope
	}
	if s.Contacts.SetID != "" {
		return "set"
	}
	return "all"
}

// Defaults are the options of a new setup, after the product description:
// contact and calendar sync "Do Not Sync", e-mail posting off, attachments
// included, contacts created as contacts, deletions propagated.
func Defaults() Settings {
	return Settings{
		Mail:     store.MailSetup{Outgoing: []string{"To", "Cc", "Bcc"}, Incoming: []string{"From"}, IncludeAttachments: true},
		Contacts: store.ContactsSetup{Direction: "off", CreateType: "contact", OnGoogleDelete: "delete"},
		Calendar: store.CalendarSetup{Direction: "off", Recurring: true, AllDay: true},
	}
}

// Of returns a user's settings (the defaults for a user never set up).
func Of(u store.User) Settings {
	if neverSetUp(u) {
		return Defaults()
	}
	return Settings{Mail: u.Mail, Contacts: u.Contacts, Calendar: u.Calendar}
}

// neverSetUp says whether the user has no sync setup at all: no saved
// settings, and nothing configured before the settings page existed (users
// set up by an import or an earlier version have options but no settings
// version; what runs for them is what the page must show).
func neverSetUp(u store.User) bool {
	return u.SettingsVersion == 0 && (u.SyncState == "" || u.SyncState == store.NotConfigured) &&
		!u.Mail.Enabled && !u.Mail.AutoSync && u.Contacts.Direction == "" && u.Calendar.Direction == ""
}

// Directions are the sync directions, as the form offers them.
func Directions() []string {
	var out []string
	for _, d := range direction.All() {
		out = append(out, string(d))
	}
	return out
}

// FieldError is one rejected form field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Invalid is a form that cannot be saved, field by field.
type Invalid []FieldError

func (e Invalid) Error() string {
	var parts []string
	for _, f := range e {
		parts = append(parts, f.Field+": "+f.Message)
	}
	return "the settings were not saved: " + strings.Join(parts, "; ")
}

// Message returns the message for field, or "".
func (e Invalid) Message(field string) string {
	for _, f := range e {
		if f.Field == field {
			return f.Message
		}
	}
	return ""
}

// FromForm reads the settings form. Unchecked boxes are false; every
// field is validated against the tenant's office settings, and every
// problem is reported at once.
func FromForm(f url.Values, t store.Tenant) (Settings, error) {
	var bad Invalid
	fail := func(field, format string, args ...any) {
		bad = append(bad, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	on := func(name string) bool { return f.Get(name) == "on" || f.Get(name) == "true" }
	oneOf := func(name, def string, allowed ...string) string {
		v := strings.TrimSpace(f.Get(name))
		if v == "" {
			return def
		}
		if !slices.Contains(allowed, v) {
			fail(name, "%q is not one of %s", v, strings.Join(allowed, ", "))
		}
		return v
	}
	headers := func(name string, allowed ...string) []string {
		var out []string
		for _, h := range f[name] {
			if !slices.Contains(allowed, h) {
				fail(name, "%q is not one of %s", h, strings.Join(allowed, ", "))
				continue
			}
			if !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
		return out
	}
	var s Settings
	s.Mail = store.MailSetup{
		Enabled:                  on("mail.enabled"),
		AutoSync:                 on("mail.autoSync"),
		Outgoing:                 headers("mail.outgoing", "From", "To", "Cc", "Bcc"),
		Incoming:                 headers("mail.incoming", "From", "To", "Cc"),
		SkipInternal:             on("mail.skipInternal"),
		IncludeAttachments:       on("mail.includeAttachments"),
		PostUnmatchedToOwnRecord: on("mail.postUnmatched"),
		OfferLinkedRecords:       on("mail.linkedRecords"),
	}
	if s.Mail.AutoSync && !t.AutoMailSync {
		fail("mail.autoSync", "your firm has not enabled automatic mail sync; an administrator turns it on")
	}
	if s.Mail.Enabled && len(s.Mail.Outgoing)+len(s.Mail.Incoming) == 0 {
		fail("mail.outgoing", "choose at least one header to compare, or turn e-mail posting off")
	}
	scope := oneOf("contacts.scope", "all", "all", "set")
	s.Scope = scope
	s.Contacts = store.ContactsSetup{
		Direction:         oneOf("contacts.direction", "off", Directions()...),
		Group:             strings.TrimSpace(f.Get("contacts.group")),
		BirthDates:        on("contacts.birthDates"),
		CreateType:        oneOf("contacts.createType", "contact", "contact", "advisor"),
		IncludeAdvisors:   on("contacts.includeAdvisors"),
		IncludeDependents: on("contacts.includeDependents"),
		OnGoogleDelete:    oneOf("contacts.onGoogleDelete", "delete", "delete", "keep", "remove-from-set"),
	}
	if len(s.Contacts.Group) > 200 {
		fail("contacts.group", "a contact label name has at most 200 characters")
	}
	if scope == "set" {
		s.Contacts.SetID = strings.TrimSpace(f.Get("contacts.set"))
		if s.Contacts.SetID == "" {
			fail("contacts.set", "choose the CRM set to synchronize")
		}
	} else if !t.AllowAllContacts && s.Contacts.Direction != "off" {
		fail("contacts.scope", "your administrator does not allow synchronizing all CRM contacts; choose a set")
	}
	if s.Contacts.OnGoogleDelete == "remove-from-set" && s.Contacts.SetID == "" {
		fail("contacts.onGoogleDelete", "\"only remove from set\" needs a synchronized set")
	}
	if _, err := contactsync.Options(s.Contacts); err != nil && len(bad) == 0 {
		fail("contacts", "%s", failure.Message(err))
	}
	s.Calendar = store.CalendarSetup{
		Direction:          oneOf("calendar.direction", "off", Directions()...),
		CalendarName:       strings.TrimSpace(f.Get("calendar.name")),
		Recurring:          on("calendar.recurring"),
		AllDay:             on("calendar.allDay"),
		Documents:          on("calendar.documents"),
		ContactAssociation: on("calendar.contactAssociation"),
	}
	if len(s.Calendar.CalendarName) > 200 {
		fail("calendar.name", "a calendar name has at most 200 characters")
	}
	if s.Calendar.ContactAssociation && (s.Calendar.Direction == string(direction.Off) || s.Calendar.Direction == string(direction.CRMToGoogle)) {
		fail("calendar.contactAssociation", "contact e-mail association needs Google to CRM or both directions")
	}
	if err := calendarsync.Validate(s.Calendar); err != nil && len(bad) == 0 {
		fail("calendar", "%s", failure.Message(err))
	}
	if len(bad) > 0 {
		return s, bad
	}
	return s, nil
}

// Features are what the settings sync, each needing its Google scope.
func (s Settings) Features() []connect.Feature {
	var out []connect.Feature
	if s.Mail.Enabled || s.Mail.AutoSync {
		out = append(out, connect.Mail)
	}
	if s.Contacts.Direction != "" && s.Contacts.Direction != "off" {
		out = append(out, connect.Contacts)
	}
	if s.Calendar.Direction != "" && s.Calendar.Direction != "off" {
		out = append(out, connect.Calendar)
	}
	return out
}

// MissingScopes lists the features the settings use that the user's grant
// does not cover (per-user OAuth only; delegation covers all).
func MissingScopes(s Settings, t store.Tenant, u store.User) []connect.Feature {
	if t.AuthMode == store.AuthDelegation {
		return nil
	}
	return connect.Lacking(u.Grant.Scopes, s.Features())
}
