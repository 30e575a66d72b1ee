package restcrm_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
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

const apiKey = "test-key"

// serve runs the reference CRM's API over HTTP, with wrap in front of it.
func serve(t *testing.T, wrap func(http.Handler) http.Handler) (*refcrm.Store, string) {
	s := refcrm.New(storetest.Client(t), "test", nil)
	s.MaxNoteBytes = crmtest.MaxNoteBytes
	var h http.Handler = refcrm.Handler(s, apiKey, logging.Discard())
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return s, srv.URL + "/"
}

func TestConformanceOverHTTP(t *testing.T) {
	crmtest.Run(t, func(t *testing.T) crmtest.Subject {
		_, url := serve(t, nil)
		return restcrm.New(url, apiKey)
	})
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
	c := fast(restcrm.New(url, apiKey))
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
	c = fast(restcrm.New(url, apiKey))
	_, err = c.CreateContact(ctx, crm.Write{}, crm.Contact{FirstName: "Once"})
	if failure.KindOf(err) != failure.Transient || seen.Load() != 1 {
		t.Errorf("keyless create after a 503: %v after %d requests, want Transient after 1", err, seen.Load())
	}
	// 429 is always retried (nothing was done), reads through 5xx too.
	wrap, seen = flaky(429, 2, func(*http.Request) bool { return true })
	_, url = serve(t, wrap)
	c = fast(restcrm.New(url, apiKey))
	if _, err := c.Users(ctx); err != nil || seen.Load() != 3 {
		t.Errorf("read through two 429s: %v after %d requests", err, seen.Load())
	}
	// Attempts run out: the error says Quota.
	wrap, _ = flaky(429, 100, func(*http.Request) bool { return true })
	_, url = serve(t, wrap)
	c = fast(restcrm.New(url, apiKey))
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
		req.Header.Set("Authorization", "Bearer "+apiKey)
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
	if cs, err := restcrm.New(url, apiKey).ListContacts(context.Background(), "", crm.ContactQuery{}); err != nil || len(cs) != 0 {
		t.Errorf("after bad requests: %d contacts, %v", len(cs), err)
	}
}

func TestPatchMergesAndChecksTheVersion(t *testing.T) {
	ctx := context.Background()
	s, url := serve(t, nil)
	ct, _ := s.CreateContact(ctx, crm.Write{}, crm.Contact{FirstName: "Pat", LastName: "Client", Emails: []string{"pat@client.test"}})
	patch := func(body, ifMatch string) (int, string) {
		req, _ := http.NewRequest("PATCH", url+"v1/contacts/"+ct.ID, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+apiKey)
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
