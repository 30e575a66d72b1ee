package restcrm_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/failure"

	"github.com/crmsync/crmsync/shared/crm/crmtest"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/crm/restcrm"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/store/storetest"
)

const (
	apiKey   = "test-key"
	adminKey = "test-admin-key"
)

// serve runs the reference CRM's API over HTTP, with wrap in front of it.
func serve(t *testing.T, wrap func(http.Handler) http.Handler) (*refcrm.Store, string) {
	s := refcrm.New(storetest.Client(t), "test", nil)
	s.MaxNoteBytes = crmtest.MaxNoteBytes
	var h http.Handler = refcrm.Handler(s, refcrm.Keys{Sync: apiKey, Admin: adminKey}, logging.Discard())
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return s, srv.URL + "/"
}

func TestConformanceOverHTTP(t *testing.T) {
	crmtest.Run(t, func(t *testing.T) crmtest.Subject {
		// The suite seeds users and reads as the system user: the
		// administrator's key.
		_, url := serve(t, nil)
		c := restcrm.New(url, adminKey)
		c.AdminKey = adminKey
		return c
	})
}

// The engines' key reads and writes contacts only for a named CRM user and
// cannot import, create users or give rights; the admin key can.
func TestTheSyncKeyIsNotTheAdminKey(t *testing.T) {
	s, url := serve(t, nil)
	ctx := context.Background()
	admin := restcrm.New(url, apiKey)
	admin.AdminKey = adminKey
	u, err := admin.CreateUser(ctx, crm.User{Email: "ann@firm.test", Name: "Ann", Domains: []string{"firm.test"}})
	if err != nil {
		t.Fatalf("creating a user with the admin key: %v", err)
	}
	do := func(key, method, path, user, body string) int {
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		if user != "" {
			req.Header.Set("X-CRM-User", user)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		name, key, method, path, user, body string
		want                                int
	}{
		{"sync key creates a user", apiKey, "POST", "v1/users", "", `{"email":"eve@firm.test","name":"Eve","domains":["firm.test"]}`, 403},
		{"sync key gives the right", apiKey, "PATCH", "v1/users/" + u.ID, "", `{"integrationEnabled":true}`, 403},
		{"sync key imports", apiKey, "POST", "v1/import", "", `{}`, 403},
		{"sync key reads contacts as nobody", apiKey, "GET", "v1/contacts?email=carol@client.test", "", "", 400},
		{"sync key lists contacts as nobody", apiKey, "GET", "v1/contacts", "", "", 400},
		{"sync key writes a contact as nobody", apiKey, "POST", "v1/contacts", "", `{"type":"contact","firstName":"Carol","emails":["carol@client.test"]}`, 400},
		{"sync key reads contacts as Ann", apiKey, "GET", "v1/contacts?email=carol@client.test", u.ID, "", 200},
		{"sync key reads the directory", apiKey, "GET", "v1/users", "", "", 200},
		{"admin key reads as the system user", adminKey, "GET", "v1/contacts?email=carol@client.test", "", "", 200},
		{"admin key gives the right", adminKey, "PATCH", "v1/users/" + u.ID, "", `{"integrationEnabled":true}`, 200},
	} {
		if got := do(c.key, c.method, c.path, c.user, c.body); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	if got, _ := s.User(ctx, u.ID); !got.IntegrationEnabled {
		t.Error("the admin key's PATCH did not give the right")
	}
	// A client without the admin key says so before asking the CRM.
	if _, err := restcrm.New(url, apiKey).SetIntegration(ctx, u.ID, false); !failure.Is(err, failure.Configuration) || !strings.Contains(err.Error(), "crm-admin-key") {
		t.Errorf("SetIntegration without the admin key: %v", err)
	}
}

// Bodies are bounded per route, with 413 and the limit in words; an
// attachment larger than the client reads is refused from its length,
// before its bytes are read.
func TestBodiesAreBounded(t *testing.T) {
	_, url := serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/attachments/") {
				w.Header().Set("Content-Length", strconv.Itoa(restcrm.MaxAttachment+1))
				w.WriteHeader(200)
				return // the client must not wait for these bytes
			}
			next.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	c := restcrm.New(url, adminKey)
	c.AdminKey = adminKey
	post := func(path string, size int) (int, string) {
		body := `{"type":"contact","firstName":"` + strings.Repeat("a", size) + `"}`
		req, _ := http.NewRequest("POST", url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("v1/contacts", refcrm.MaxBody); code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "PAYLOAD_TOO_LARGE") || !strings.Contains(body, strconv.Itoa(refcrm.MaxBody)) {
		t.Errorf("a contact over the limit: %d %.200s", code, body)
	}
	if code, _ := post("v1/contacts", 1000); code != http.StatusCreated {
		t.Errorf("a small contact: %d", code)
	}
	ct, err := c.CreateContact(ctx, crm.Write{}, crm.Contact{FirstName: "Carol", Type: crm.TypeContact, Emails: []string{"carol@client.test"}})
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.PostNote(ctx, crm.Write{}, crm.Note{ContactID: ct.ID, Email: crm.Email{Subject: "s", Text: "t", Date: time.Now(), Attachments: []crm.Attachment{{Filename: "a.txt", ContentType: "text/plain", Data: []byte("hello")}}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := c.Attachment(ctx, "", ct.ID, n.ID, 0); done <- err }()
	select {
	case err := <-done:
		if !failure.Is(err, failure.Permanent) || !strings.Contains(err.Error(), strconv.Itoa(restcrm.MaxAttachment)) {
			t.Errorf("an attachment over the limit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client waited for an attachment over its limit")
	}
}

func TestRequestsWithoutTheKeyAre401(t *testing.T) {
	_, url := serve(t, nil)
	for _, key := range []string{"", "wrong"} {
		req, _ := http.NewRequest("GET", url+"v1/users", nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("key %q: %d, want 401", key, resp.StatusCode)
		}
	}
	_, err := restcrm.New(url, "wrong").Users(context.Background())
	if failure.KindOf(err) != failure.Permanent {
		t.Errorf("restcrm with a wrong key: %v, want Permanent", err)
	}
}

// flaky answers the first n requests matching with status, then passes.
func flaky(status, n int, match func(*http.Request) bool) (func(http.Handler) http.Handler, *atomic.Int32) {
	var seen atomic.Int32
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if match(r) && seen.Add(1) <= int32(n) {
				w.WriteHeader(status)
				w.Write([]byte(`{"error":{"code":503,"status":"UNAVAILABLE","message":"try later"}}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}, &seen
}

func fast(c *restcrm.Client) *restcrm.Client {
	c.Backoff = func(int) time.Duration { return time.Millisecond }
	return c
}

func TestRetriesTransientFailures(t *testing.T) {
	ctx := context.Background()
	wrap, seen := flaky(503, 2, func(r *http.Request) bool { return r.Method == "POST" })
	_, url := serve(t, wrap)
	c := fast(restcrm.New(url, adminKey))
	// A keyed create is retried through two 503s and made once.
	ct, err := c.CreateContact(ctx, crm.Write{IdempotencyKey: "k1"}, crm.Contact{FirstName: "Retry", Emails: []string{"r@client.test"}})
	if err != nil || seen.Load() != 3 {
		t.Fatalf("keyed create through two 503s: %v after %d requests", err, seen.Load())
	}
	if got, _ := c.FindContacts(ctx, "", "r@client.test"); len(got) != 1 || got[0].ID != ct.ID {
		t.Errorf("%d contacts after retries, want 1", len(got))
	}
	// A create without a key is not retried after a 5xx: it may have
	// been made.
	wrap, seen = flaky(503, 1, func(r *http.Request) bool { return r.Method == "POST" })
	_, url = serve(t, wrap)
	c = fast(restcrm.New(url, adminKey))
	_, err = c.CreateContact(ctx, crm.Write{}, crm.Contact{FirstName: "Once"})
	if failure.KindOf(err) != failure.Transient || seen.Load() != 1 {
		t.Errorf("keyless create after a 503: %v after %d requests, want Transient after 1", err, seen.Load())
	}
	// 429 is always retried (nothing was done), reads through 5xx too.
	wrap, seen = flaky(429, 2, func(*http.Request) bool { return true })
	_, url = serve(t, wrap)
	c = fast(restcrm.New(url, adminKey))
	if _, err := c.Users(ctx); err != nil || seen.Load() != 3 {
		t.Errorf("read through two 429s: %v after %d requests", err, seen.Load())
	}
	// Attempts run out: the error says Quota.
	wrap, _ = flaky(429, 100, func(*http.Request) bool { return true })
	_, url = serve(t, wrap)
	c = fast(restcrm.New(url, adminKey))
	if _, err := c.Users(ctx); failure.KindOf(err) != failure.Quota {
		t.Errorf("after the attempts: %v, want Quota", err)
	}
}

func TestBadRequestBodiesNameTheField(t *testing.T) {
	_, url := serve(t, nil)
	for body, mention := range map[string]string{
		`{"firstName":"A","shoeSize":42}`:        `unknown field "shoeSize"`,
		`{"firstName":`:                          "body",
		`{"firstName":"A","emails":["x@"]}`:      "emails[0]",
		`{"firstName":"A","birthDate":"May 4"}`:  "birthDate",
		`{"firstName":"A"} {"firstName":"B"}`:    "after the JSON object",
		`{"firstName":"A","emails":"a@x.test"}`:  "emails",
		`{"firstName":"A","type":"shareholder"}`: "type",
	} {
		req, _ := http.NewRequest("POST", url+"v1/contacts", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var eb refcrm.ErrorBody
		json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(eb.Error.Message, mention) {
			t.Errorf("%s: %d %q, want 400 naming %q", body, resp.StatusCode, eb.Error.Message, mention)
		}
	}
	// Nothing was created.
	if cs, err := restcrm.New(url, adminKey).ListContacts(context.Background(), "", crm.ContactQuery{}); err != nil || len(cs) != 0 {
		t.Errorf("after bad requests: %d contacts, %v", len(cs), err)
	}
}

func TestPatchMergesAndChecksTheVersion(t *testing.T) {
	ctx := context.Background()
	s, url := serve(t, nil)
	ct, _ := s.CreateContact(ctx, crm.Write{}, crm.Contact{FirstName: "Pat", LastName: "Client", Emails: []string{"pat@client.test"}})
	patch := func(body, ifMatch string) (int, string) {
		req, _ := http.NewRequest("PATCH", url+"v1/contacts/"+ct.ID, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminKey)
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	if code, body := patch(`{"lastName":"Renamed"}`, `"1"`); code != 200 || !strings.Contains(body, `"lastName":"Renamed"`) || !strings.Contains(body, "pat@client.test") {
		t.Errorf("merge patch: %d %s", code, body)
	}
	if code, _ := patch(`{"lastName":"Again"}`, `"1"`); code != 412 {
		t.Errorf("stale If-Match: %d, want 412", code)
	}
	if code, _ := patch(`{"lastName":"Again"}`, ""); code != 400 {
		t.Errorf("no version: %d, want 400", code)
	}
	if code, body := patch(`{"emails":null,"version":2}`, ""); code != 200 || strings.Contains(body, "pat@client.test") {
		t.Errorf("null clears: %d %s", code, body)
	}
}
