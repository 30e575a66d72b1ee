package dispatch

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/jobs/jobstest"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/store/storetest"
)

// The Dispatch function through its HTTP surface, as Cloud Scheduler
// calls it: a tick publishes one job per eligible user and says how many;
// a tick of a user whose notifications flow leaves out the mail sweep,
// which "now" (a run someone asked for) does not; a bad body is 400.
func TestDispatchOverHTTP(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t, nil)
	st.Tenants().Create(ctx, store.Tenant{ID: "firm", Name: "Firm", CRMName: "X"})
	for _, email := range []string{"ann@firm.test", "bob@firm.test"} {
		st.Users().Create(ctx, store.User{TenantID: "firm", Email: email, Connection: store.Connection{State: store.Connected}, SyncState: store.Active,
			Mail: store.MailSetup{Enabled: true}, Contacts: store.ContactsSetup{Direction: "both"}})
	}
	st.Users().RecordPass(ctx, "bob@firm.test", "mail", store.PassStatus{OK: true, Pushed: st.Now().Add(-time.Minute)})
	pub := &jobstest.Recorder{}
	h := &Handler{Store: st, Publisher: pub, Log: logging.Discard()}
	do := func(method, body string) (int, map[string]any) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "/", strings.NewReader(body)))
		var out map[string]any
		json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}
	for _, c := range []struct {
		body string
		want float64
	}{
		{`{"kind":"contact-sync"}`, 2},
		{`{"kind":"mail-sweep"}`, 1}, // Bob's notifications flow
		{`{"kind":"mail-sweep","now":true}`, 2},
	} {
		pub.Jobs = nil
		code, out := do("POST", c.body)
		if code != 200 || out["published"] != c.want || len(pub.Jobs) != int(c.want) {
			t.Errorf("%s: %d %v, published %v", c.body, code, out, pub.Jobs)
		}
	}
	for _, bad := range []string{`{"kind":"tea"}`, `{"kind":"mail-sweep","extra":1}`, `not json`} {
		if code, _ := do("POST", bad); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, code)
		}
	}
	if code, _ := do("GET", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", code)
	}
}
