package refcrm_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
)

type openAPI struct {
	Paths      map[string]map[string]any `yaml:"paths"`
	Components struct {
		Schemas map[string]*apiSchema `yaml:"schemas"`
	} `yaml:"components"`
}

type apiSchema struct {
	Ref        string                `yaml:"$ref"`
	AllOf      []*apiSchema          `yaml:"allOf"`
	Properties map[string]*apiSchema `yaml:"properties"`
}

func loadAPI(t *testing.T) *openAPI {
	t.Helper()
	b, err := os.ReadFile("../../../docs/crm-api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPI
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("docs/crm-api.yaml: %v", err)
	}
	return &doc
}

// Every route the API serves is documented, and everything documented is
// served.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc := loadAPI(t)
	served := map[string]bool{}
	for _, r := range refcrm.Routes() {
		method, path, _ := strings.Cut(r, " ")
		served[strings.ToLower(method)+" "+path] = true
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("%s is served but not in docs/crm-api.yaml", r)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method != "parameters" && !served[method+" "+path] {
				t.Errorf("docs/crm-api.yaml documents %s %s, which is not served", strings.ToUpper(method), path)
			}
		}
	}
}

// properties resolves a schema's properties through $ref and allOf.
func (d *openAPI) properties(s *apiSchema) []string {
	if s.Ref != "" {
		return d.properties(d.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")])
	}
	var out []string
	for k := range s.Properties {
		out = append(out, k)
	}
	for _, sub := range s.AllOf {
		out = append(out, d.properties(sub)...)
	}
	return out
}

// The JSON the API answers uses exactly the documented field names.
func TestOpenAPISchemasMatchTheWireTypes(t *testing.T) {
	doc := loadAPI(t)
	now := time.Now()
	email := crm.Email{Subject: "s", From: "f", To: []string{"t"}, Cc: []string{"c"}, Date: now, Text: "t", HTML: "h",
		Attachments: []crm.Attachment{{Filename: "f"}}, GmailMessageID: "g"}
	for name, v := range map[string]any{
		"User":    crm.User{ID: "i", Email: "e", Name: "n", ContactID: "c", IntegrationEnabled: true, Domains: []string{"d"}, Offices: []string{"o"}},
		"Contact": crm.Contact{ID: "i", Type: "contact", FirstName: "f", LastName: "l", Emails: []string{"e"}, Phones: []string{"p"}, BirthDate: "b", Sets: []string{"s"}, ClientIDs: []string{"c"}, Offices: []string{"o"}, Deleted: true, Version: 1, Updated: now},
		"Set":     crm.Set{ID: "i", Name: "n"},
		"Record":  crm.Record{ID: "i", Type: "policy", ContactID: "c", Title: "t"},
		"Client":  crm.Client{ID: "i", Name: "n"},
		"Note":    crm.Note{ID: "i", ContactID: "c", Email: email, Records: []string{"r"}, Author: "a", Created: now},
		"EmailActivity": crm.EmailActivity{ID: "i", ClientID: "c", Owner: "o", Email: email, NeedsReview: true, Candidates: []string{"c"},
			Reason: "r", Version: 1, Created: now},
		"Activity": crm.Activity{ID: "i", Owner: "o", Title: "t", Start: now, End: now, TimeZone: "z", StartDate: "s", EndDate: "e",
			Recurrence: []string{"r"}, SeriesID: "s", OriginalStart: "o", Cancelled: true, Location: "l", Notes: "n",
			Documents: []crm.Document{{Title: "t", URL: "u"}}, PrimaryContact: "p", AdditionalContacts: []string{"a"}, Deleted: true, Version: 1, Updated: now},
		"Change":     crm.Change{ID: "i", Version: 1, Deleted: true, Origin: "o", Owner: "o", At: now},
		"ChangePage": crm.ChangePage{Changes: []crm.Change{}, Cursor: "c", More: true},
		"Attachment": crm.Attachment{Filename: "f", ContentType: "c", Size: 1, Data: []byte("d")},
	} {
		b, _ := json.Marshal(v)
		var m map[string]any
		json.Unmarshal(b, &m)
		var got []string
		for k := range m {
			got = append(got, k)
		}
		s := doc.Components.Schemas[name]
		if s == nil {
			t.Errorf("no schema %s", name)
			continue
		}
		want := doc.properties(s)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: the API sends %v, the document says %v", name, got, want)
		}
	}
}
