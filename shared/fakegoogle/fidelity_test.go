package fakegoogle_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	calendar "google.golang.org/api/calendar/v3"
	gmail "google.golang.org/api/gmail/v1"
	people "google.golang.org/api/people/v1"

	"github.com/crmsync/crmsync/shared/fakegoogle"
)

// The discovery documents shipped inside google.golang.org/api are the
// reference: every route must match its method there, and every JSON body
// the fake answers must fit the method's response schema, with no field the
// schema lacks.

type discoveryDoc struct {
	ServicePath string                   `json:"servicePath"`
	Schemas     map[string]*schema       `json:"schemas"`
	Resources   map[string]*discResource `json:"resources"`
}

type discResource struct {
	Methods   map[string]*discMethod   `json:"methods"`
	Resources map[string]*discResource `json:"resources"`
}

type discMethod struct {
	ID         string   `json:"id"`
	HTTPMethod string   `json:"httpMethod"`
	Path       string   `json:"path"`
	Scopes     []string `json:"scopes"`
	Response   *schema  `json:"response"`
}

type schema struct {
	Ref                  string             `json:"$ref"`
	Type                 string             `json:"type"`
	Format               string             `json:"format"`
	Properties           map[string]*schema `json:"properties"`
	Items                *schema            `json:"items"`
	AdditionalProperties *schema            `json:"additionalProperties"`
}

func loadDiscovery(t *testing.T, rel string) *discoveryDoc {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "google.golang.org/api").Output()
	if err != nil {
		t.Fatalf("locating google.golang.org/api: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), rel))
	if err != nil {
		t.Fatalf("reading the discovery document: %v", err)
	}
	var d discoveryDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

func (d *discoveryDoc) methods() map[string]*discMethod {
	out := map[string]*discMethod{}
	var walk func(r *discResource)
	walk = func(r *discResource) {
		for _, m := range r.Methods {
			out[m.ID] = m
		}
		for _, sub := range r.Resources {
			walk(sub)
		}
	}
	for _, r := range d.Resources {
		walk(r)
	}
	return out
}

// validate reports every way v does not fit s.
func (d *discoveryDoc) validate(v any, s *schema, path string) []string {
	if s.Ref != "" {
		ref := d.Schemas[s.Ref]
		if ref == nil {
			return []string{path + ": unknown schema " + s.Ref}
		}
		s = ref
	}
	bad := func(want string) []string {
		return []string{fmt.Sprintf("%s: %T where the schema wants %s", path, v, want)}
	}
	switch s.Type {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return bad("an object")
		}
		var errs []string
		for k, fv := range obj {
			switch {
			case s.Properties[k] != nil:
				errs = append(errs, d.validate(fv, s.Properties[k], path+"."+k)...)
			case s.AdditionalProperties != nil:
				errs = append(errs, d.validate(fv, s.AdditionalProperties, path+"."+k)...)
			default:
				errs = append(errs, path+"."+k+": field not in the schema")
			}
		}
		return errs
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return bad("an array")
		}
		var errs []string
		for i, e := range arr {
			errs = append(errs, d.validate(e, s.Items, fmt.Sprintf("%s[%d]", path, i))...)
		}
		return errs
	case "string":
		if _, ok := v.(string); !ok {
			return bad("a string (format " + s.Format + ")")
		}
	case "integer", "number":
		if _, ok := v.(float64); !ok {
			return bad("a number")
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return bad("a boolean")
		}
	}
	return nil
}

// errorSchema is Google's JSON error shape.
var errorSchema = &schema{Type: "object", Properties: map[string]*schema{
	"error": {Type: "object", Properties: map[string]*schema{
		"code": {Type: "integer"}, "message": {Type: "string"}, "status": {Type: "string"},
		"errors": {Type: "array", Items: &schema{Type: "object", Properties: map[string]*schema{
			"message": {Type: "string"}, "domain": {Type: "string"}, "reason": {Type: "string"},
			"location": {Type: "string"}, "locationType": {Type: "string"}}}},
		"details": {Type: "array", Items: &schema{Type: "object", Properties: map[string]*schema{
			"@type": {Type: "string"}, "reason": {Type: "string"}, "domain": {Type: "string"},
			"metadata": {Type: "object", AdditionalProperties: &schema{Type: "string"}}}}},
	}},
}}

// routesMatchDiscovery checks every route of the API whose method IDs
// start with prefix against the discovery document: path, HTTP method and
// scopes.
func routesMatchDiscovery(t *testing.T, d *discoveryDoc, prefix string) {
	t.Helper()
	methods := d.methods()
	f := fakegoogle.New(fakegoogle.Options{})
	n := 0
	for _, rt := range f.Routes() {
		if !strings.HasPrefix(rt.ID, prefix) {
			continue
		}
		n++
		m := methods[rt.ID]
		if m == nil {
			t.Errorf("%s: no such method in the discovery document", rt.ID)
			continue
		}
		if rt.HTTPMethod != m.HTTPMethod || rt.Path != "/"+d.ServicePath+m.Path {
			t.Errorf("%s: served as %s %s, discovery says %s /%s%s", rt.ID, rt.HTTPMethod, rt.Path, m.HTTPMethod, d.ServicePath, m.Path)
		}
		got, want := slices.Sorted(slices.Values(rt.Scopes)), slices.Sorted(slices.Values(m.Scopes))
		if !slices.Equal(got, want) {
			t.Errorf("%s: scopes %v, discovery says %v", rt.ID, got, want)
		}
		if rt.Units <= 0 {
			t.Errorf("%s: no quota cost", rt.ID)
		}
	}
	if n == 0 {
		t.Fatalf("no routes with prefix %q", prefix)
	}
}

func TestGmailRoutesMatchDiscovery(t *testing.T) {
	routesMatchDiscovery(t, loadDiscovery(t, "gmail/v1/gmail-api.json"), "gmail.")
}

func TestPeopleRoutesMatchDiscovery(t *testing.T) {
	routesMatchDiscovery(t, loadDiscovery(t, "people/v1/people-api.json"), "people.")
}

type observed struct {
	method string
	status int
	body   []byte
}

// observer records every response of a fake.
type observer struct {
	mu   sync.Mutex
	seen []observed
}

func (o *observer) observe(m string, status int, body []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, observed{m, status, append([]byte(nil), body...)})
}

// check validates every observed body of the API (method IDs starting with
// prefix) against the discovery schemas, and requires a successful
// response from every route of the API.
func (o *observer) check(t *testing.T, f *fakegoogle.Server, d *discoveryDoc, prefix string) {
	t.Helper()
	methods := d.methods()
	o.mu.Lock()
	defer o.mu.Unlock()
	ok := map[string]bool{}
	for _, ob := range o.seen {
		if !strings.HasPrefix(ob.method, prefix) {
			continue
		}
		var v any
		if len(ob.body) == 0 {
			if ob.status != 204 && ob.status != 200 {
				t.Errorf("%s: status %d with no body", ob.method, ob.status)
			}
			ok[ob.method] = true
			continue
		}
		if err := json.Unmarshal(ob.body, &v); err != nil {
			t.Errorf("%s: body is not JSON: %v", ob.method, err)
			continue
		}
		sch := errorSchema
		if ob.status < 300 {
			ok[ob.method] = true
			if resp := methods[ob.method].Response; resp != nil {
				sch = resp
			} else if string(ob.body) != "{}\n" {
				t.Errorf("%s answered a body but the discovery method has no response", ob.method)
				continue
			}
		}
		for _, e := range d.validate(v, sch, ob.method) {
			t.Error(e)
		}
	}
	var missing []string
	for _, rt := range f.Routes() {
		if strings.HasPrefix(rt.ID, prefix) && !ok[rt.ID] {
			missing = append(missing, rt.ID)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("no successful response observed for %v: extend this test", missing)
	}
}

// Runs the Gmail behaviour tests' kind of traffic with every response
// observed, then checks every body against the discovery schemas.
func TestGmailResponsesFitDiscoverySchemas(t *testing.T) {
	d := loadDiscovery(t, "gmail/v1/gmail-api.json")
	var o observer
	f := newFake(t, fakegoogle.Options{Observe: o.observe})
	ann := gmailFor(t, f, "ann@acme.test")

	p, _ := ann.Users.GetProfile("me").Do()
	l, _ := ann.Users.Labels.Create("me", &gmail.Label{Name: "SmartOffice", LabelListVisibility: "labelShow"}).Do()
	ann.Users.Labels.Patch("me", l.Id, &gmail.Label{Name: "SmartOffice!"}).Do()
	ann.Users.Labels.Update("me", l.Id, &gmail.Label{Name: "SmartOffice"}).Do()
	ann.Users.Labels.Get("me", l.Id).Do()
	ann.Users.Labels.List("me").Do()
	m := insert(t, ann, multipartMail, "INBOX", "UNREAD")
	ann.Users.Messages.Import("me", &gmail.Message{Raw: raw("Subject: imported\n\nx"), LabelIds: []string{"INBOX"}}).InternalDateSource("dateHeader").Do()
	for _, format := range []string{"minimal", "metadata", "full", "raw"} {
		ann.Users.Messages.Get("me", m.Id).Format(format).Do()
	}
	full, _ := ann.Users.Messages.Get("me", m.Id).Do()
	ann.Users.Messages.Attachments.Get("me", m.Id, full.Payload.Parts[1].Body.AttachmentId).Do()
	ann.Users.Messages.List("me").LabelIds("INBOX").MaxResults(1).Do()
	ann.Users.Messages.Modify("me", m.Id, &gmail.ModifyMessageRequest{AddLabelIds: []string{l.Id}}).Do()
	ann.Users.Messages.BatchModify("me", &gmail.BatchModifyMessagesRequest{Ids: []string{m.Id}, RemoveLabelIds: []string{l.Id}}).Do()
	ann.Users.History.List("me").StartHistoryId(p.HistoryId).Do()
	ann.Users.History.List("me").StartHistoryId(p.HistoryId).MaxResults(1).Do()
	sent, _ := ann.Users.Messages.Send("me", &gmail.Message{Raw: raw("To: bob@acme.test\nSubject: s\n\nx")}).Do()
	ann.Users.Messages.Trash("me", sent.Id).Do()
	ann.Users.Messages.Untrash("me", sent.Id).Do()
	if err := ann.Users.Messages.Delete("me", sent.Id).Do(); err == nil {
		t.Error("messages.delete with gmail.modify succeeded; it needs https://mail.google.com/")
	}
	gmailAs(t, f, f.Token("ann@acme.test", fakegoogle.ScopeMailFull)).Users.Messages.Delete("me", sent.Id).Do()
	ann.Users.Watch("me", &gmail.WatchRequest{TopicName: "projects/p/topics/t", LabelIds: []string{l.Id}}).Do()
	ann.Users.Stop("me").Do()
	ann.Users.Labels.Delete("me", l.Id).Do()
	// Errors too.
	ann.Users.Messages.Get("me", "missing").Do()
	ann.Users.History.List("me").Do()
	gmailAs(t, f, "").Users.GetProfile("me").Do()

	o.check(t, f, d, "gmail.")
}

func TestPeopleResponsesFitDiscoverySchemas(t *testing.T) {
	d := loadDiscovery(t, "people/v1/people-api.json")
	var o observer
	f := newFake(t, fakegoogle.Options{Observe: o.observe})
	svc := peopleFor(t, f, "ann@acme.test")
	p, _ := svc.People.CreateContact(&people.Person{
		Names:          []*people.Name{{GivenName: "Carol", FamilyName: "Client"}},
		EmailAddresses: []*people.EmailAddress{{Value: "carol@client.test", Type: "work"}},
		PhoneNumbers:   []*people.PhoneNumber{{Value: "+1 555 0100", Type: "mobile"}},
		Birthdays:      []*people.Birthday{{Date: &people.Date{Year: 1970, Month: 5, Day: 4}}},
		Organizations:  []*people.Organization{{Name: "Client Co", Title: "CEO"}},
		Biographies:    []*people.Biography{{Value: "Met at the fair"}},
	}).PersonFields(fields + ",organizations,biographies").Do()
	svc.People.Get(p.ResourceName).PersonFields(fields).Do()
	svc.People.Get("people/me").PersonFields("names,emailAddresses").Do()
	p, _ = svc.People.UpdateContact(p.ResourceName, &people.Person{Etag: p.Etag, Names: []*people.Name{{GivenName: "Caroline"}}}).UpdatePersonFields("names").PersonFields(fields).Do()
	resp, _ := svc.People.Connections.List("people/me").PersonFields(fields).RequestSyncToken(true).Do()
	svc.People.Connections.List("people/me").PersonFields(fields).PageSize(1).Do()
	bc, _ := svc.People.BatchCreateContacts(&people.BatchCreateContactsRequest{ReadMask: fields,
		Contacts: []*people.ContactToCreate{{ContactPerson: newPerson("B", "Two", "b@x.test")}}}).Do()
	b := bc.CreatedPeople[0].Person
	svc.People.BatchUpdateContacts(&people.BatchUpdateContactsRequest{ReadMask: fields, UpdateMask: "names",
		Contacts: map[string]people.Person{b.ResourceName: {Etag: b.Etag, Names: []*people.Name{{GivenName: "Bea"}}}}}).Do()
	svc.People.DeleteContact(p.ResourceName).Do()
	svc.People.Connections.List("people/me").PersonFields(fields).RequestSyncToken(true).SyncToken(resp.NextSyncToken).Do()
	svc.People.BatchDeleteContacts(&people.BatchDeleteContactsRequest{ResourceNames: []string{b.ResourceName}}).Do()
	g, _ := svc.ContactGroups.Create(&people.CreateContactGroupRequest{ContactGroup: &people.ContactGroup{Name: "CRM"}}).Do()
	q, _ := svc.People.CreateContact(newPerson("Q", "Three", "q@x.test")).Do()
	svc.ContactGroups.Members.Modify(g.ResourceName, &people.ModifyContactGroupMembersRequest{ResourceNamesToAdd: []string{q.ResourceName}}).Do()
	svc.ContactGroups.Get(g.ResourceName).MaxMembers(5).Do()
	svc.ContactGroups.List().Do()
	// Errors too.
	svc.People.Connections.List("people/me").Do()
	f.InvalidateSyncTokens("ann@acme.test")
	svc.People.Connections.List("people/me").PersonFields(fields).SyncToken(resp.NextSyncToken).Do()
	o.check(t, f, d, "people.")
}

func TestCalendarRoutesMatchDiscovery(t *testing.T) {
	routesMatchDiscovery(t, loadDiscovery(t, "calendar/v3/calendar-api.json"), "calendar.")
}

func TestCalendarResponsesFitDiscoverySchemas(t *testing.T) {
	d := loadDiscovery(t, "calendar/v3/calendar-api.json")
	var o observer
	f := newFake(t, fakegoogle.Options{Observe: o.observe})
	svc := calendarFor(t, f, "ann@acme.test")
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer hook.Close()
	start := time.Date(2026, 11, 10, 14, 0, 0, 0, time.UTC)
	svc.CalendarList.List().Do()
	c, _ := svc.Calendars.Insert(&calendar.Calendar{Summary: "CRM"}).Do()
	svc.Calendars.Get(c.Id).Do()
	ev := timed("Series", start, time.Hour)
	ev.Recurrence = []string{"RRULE:FREQ=DAILY;COUNT=3"}
	ev.Attendees = []*calendar.EventAttendee{{Email: "carol@client.test"}}
	ev.Attachments = []*calendar.EventAttachment{{FileUrl: "https://drive.google.com/file/d/1", Title: "a.pdf"}}
	ev.ExtendedProperties = &calendar.EventExtendedProperties{Private: map[string]string{"k": "v"}, Shared: map[string]string{"s": "t"}}
	m, _ := svc.Events.Insert(c.Id, ev).SupportsAttachments(true).Do()
	svc.Events.Insert(c.Id, &calendar.Event{Summary: "Day", Start: &calendar.EventDateTime{Date: "2026-11-11"}, End: &calendar.EventDateTime{Date: "2026-11-12"}}).Do()
	full, _ := svc.Events.List(c.Id).Do()
	svc.Events.List(c.Id).SingleEvents(true).OrderBy("startTime").MaxResults(2).Do()
	inst, _ := svc.Events.Instances(c.Id, m.Id).Do()
	svc.Events.Get(c.Id, inst.Items[0].Id).Do()
	svc.Events.Patch(c.Id, inst.Items[1].Id, &calendar.Event{Summary: "moved"}).Do()
	svc.Events.Update(c.Id, m.Id, ev).Do()
	svc.Events.Delete(c.Id, inst.Items[2].Id).Do()
	svc.Events.List(c.Id).SyncToken(full.NextSyncToken).Do()
	ch, _ := svc.Events.Watch(c.Id, &calendar.Channel{Id: "c1", Type: "web_hook", Address: hook.URL}).Do()
	svc.Channels.Stop(&calendar.Channel{Id: "c1", ResourceId: ch.ResourceId}).Do()
	// Errors too.
	svc.Events.Get(c.Id, "nosuchevent").Do()
	f.InvalidateSyncTokens("ann@acme.test")
	svc.Events.List(c.Id).SyncToken(full.NextSyncToken).Do()
	o.check(t, f, d, "calendar.")
}
