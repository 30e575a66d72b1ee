package setup

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/shared/connect"
	"github.com/crmsync/crmsync/shared/store"
)

func TestFromForm(t *testing.T) {
	open := store.Tenant{AllowAllContacts: true}
	closed := store.Tenant{AllowAllContacts: false}
	cases := []struct {
		name   string
		tenant store.Tenant
		form   url.Values
		fields []string // fields refused; none means saved
		check  func(Settings) bool
	}{
		{"empty form: the defaults of the description", open, url.Values{}, nil, func(s Settings) bool {
			return s.Contacts.Direction == "off" && s.Calendar.Direction == "off" && !s.Mail.Enabled && s.Contacts.CreateType == "contact" && s.Contacts.OnGoogleDelete == "delete"
		}},
		{"every option on", open, url.Values{"contacts.direction": {"both"}, "contacts.group": {"Clients"}, "contacts.scope": {"set"}, "contacts.set": {"s1"},
			"contacts.birthDates": {"on"}, "contacts.createType": {"advisor"}, "contacts.includeAdvisors": {"on"}, "contacts.includeDependents": {"on"},
			"contacts.onGoogleDelete": {"remove-from-set"}, "calendar.direction": {"google-to-crm"}, "calendar.name": {"Work"}, "calendar.recurring": {"on"},
			"calendar.allDay": {"on"}, "calendar.documents": {"on"}, "calendar.contactAssociation": {"on"}, "mail.enabled": {"on"},
			"mail.outgoing": {"From", "To", "Cc", "Bcc", "To"}, "mail.incoming": {"From", "To", "Cc"}, "mail.skipInternal": {"on"},
			"mail.includeAttachments": {"on"}, "mail.postUnmatched": {"on"}, "mail.linkedRecords": {"on"}}, nil, func(s Settings) bool {
			return s.Contacts.SetID == "s1" && s.Contacts.Group == "Clients" && s.Contacts.BirthDates && s.Contacts.CreateType == "advisor" &&
				s.Contacts.IncludeAdvisors && s.Contacts.IncludeDependents && s.Contacts.OnGoogleDelete == "remove-from-set" &&
				s.Calendar.CalendarName == "Work" && s.Calendar.ContactAssociation && s.Calendar.Documents &&
				slices.Equal(s.Mail.Outgoing, []string{"From", "To", "Cc", "Bcc"}) && s.Mail.SkipInternal && s.Mail.PostUnmatchedToOwnRecord && s.Mail.OfferLinkedRecords
		}},
		{"unknown values", open, url.Values{"contacts.direction": {"up"}, "calendar.direction": {"x"}, "contacts.createType": {"robot"}, "mail.incoming": {"Bcc"}},
			[]string{"contacts.direction", "calendar.direction", "contacts.createType", "mail.incoming"}, nil},
		{"a set without its name", open, url.Values{"contacts.direction": {"both"}, "contacts.scope": {"set"}}, []string{"contacts.set"}, nil},
		{"all contacts where the admin hid it", closed, url.Values{"contacts.direction": {"both"}, "contacts.scope": {"all"}}, []string{"contacts.scope"}, nil},
		{"remove-from-set without a set", open, url.Values{"contacts.onGoogleDelete": {"remove-from-set"}}, []string{"contacts.onGoogleDelete"}, nil},
		{"association one way from the CRM", open, url.Values{"calendar.direction": {"crm-to-google"}, "calendar.contactAssociation": {"on"}}, []string{"calendar.contactAssociation"}, nil},
		{"posting with no header", open, url.Values{"mail.enabled": {"on"}}, []string{"mail.outgoing"}, nil},
		{"a label name too long", open, url.Values{"contacts.group": {strings.Repeat("x", 201)}}, []string{"contacts.group"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := FromForm(c.form, c.tenant)
			if len(c.fields) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if !c.check(s) {
					t.Errorf("read as %+v", s)
				}
				return
			}
			bad, ok := err.(Invalid)
			if !ok {
				t.Fatalf("err = %v, want Invalid", err)
			}
			for _, f := range c.fields {
				if bad.Message(f) == "" {
					t.Errorf("no message for %s in %v", f, bad)
				}
			}
		})
	}
}

func TestFeaturesAndMissingScopes(t *testing.T) {
	s := Settings{Mail: store.MailSetup{Enabled: true}, Contacts: store.ContactsSetup{Direction: "both"}, Calendar: store.CalendarSetup{Direction: "off"}}
	if got := s.Features(); !slices.Equal(got, []connect.Feature{connect.Mail, connect.Contacts}) {
		t.Errorf("Features = %v", got)
	}
	u := store.User{Grant: store.Grant{Scopes: connect.Scopes([]connect.Feature{connect.Mail})}}
	if got := MissingScopes(s, store.Tenant{AuthMode: store.AuthUserOAuth}, u); !slices.Equal(got, []connect.Feature{connect.Contacts}) {
		t.Errorf("MissingScopes = %v, want contacts", got)
	}
	if got := MissingScopes(s, store.Tenant{AuthMode: store.AuthDelegation}, store.User{}); got != nil {
		t.Errorf("under delegation nothing is missing: %v", got)
	}
}

func TestOfficeFromForm(t *testing.T) {
	o, err := OfficeFromForm(url.Values{"appName": {"Acme Sync"}, "oauthClientId": {"123-abc.apps.googleusercontent.com"}, "attachmentLimitMB": {"25"},
		"allowAllContacts": {"on"}, "labelName": {"Acme"}, "authMode": {"delegation"}, "autoMailSync": {"on"}})
	if err != nil || o.AttachmentLimitMB != 25 || o.AuthMode != store.AuthDelegation || !o.AutoMailSync || !o.AllowAllContacts {
		t.Fatalf("OfficeFromForm = %+v, %v", o, err)
	}
	_, err = OfficeFromForm(url.Values{"oauthClientId": {"not-a-client"}, "attachmentLimitMB": {"-1"}, "labelName": {"a/b"}, "authMode": {"magic"}})
	bad, _ := err.(Invalid)
	for _, f := range []string{"oauthClientId", "attachmentLimitMB", "labelName", "authMode"} {
		if bad.Message(f) == "" {
			t.Errorf("no message for %s: %v", f, err)
		}
	}
}

// A user set up before the settings page existed (by an import or an
// earlier version: options stored, no settings version) sees what runs
// for them, not the defaults: saving the page with one option changed
// must not switch the rest off.
func TestOfShowsWhatRunsForUsersSetUpBeforeThePage(t *testing.T) {
	before := store.User{SyncState: store.Active, Mail: store.MailSetup{Enabled: true, Incoming: []string{"From"}},
		Contacts: store.ContactsSetup{Direction: "both"}, Calendar: store.CalendarSetup{Direction: "google-to-crm"}}
	if got := Of(before); !got.Mail.Enabled || got.Contacts.Direction != "both" || got.Calendar.Direction != "google-to-crm" {
		t.Errorf("Of(a user set up before the page) = %+v", got)
	}
	if got := Of(store.User{}); got.Contacts.Direction != "off" || got.Mail.Enabled {
		t.Errorf("Of(a user never set up) = %+v, want the defaults", got)
	}
	if got := Of(store.User{SyncState: store.NotConfigured, SettingsVersion: 3}); got.Contacts.Direction != "" {
		t.Errorf("Of(a saved setup) = %+v, want what is stored", got)
	}
}
