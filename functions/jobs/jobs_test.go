package jobs

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/crmsync/crmsync/shared/calendarsync"
	"github.com/crmsync/crmsync/shared/contactsync"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/jobs"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/mailbox"
)

// engines records what it was asked to run and answers with err.
type engines struct {
	mu  sync.Mutex
	ran []string
	err error
}

func (e *engines) note(what string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ran = append(e.ran, what)
	return e.err
}
func (e *engines) Sweep(_ context.Context, u string) (mailbox.Result, error) {
	return mailbox.Result{}, e.note("sweep " + u)
}
func (e *engines) Connect(_ context.Context, u string) error { return e.note("connect " + u) }

type contactEngine struct{ *engines }

func (c contactEngine) Pass(_ context.Context, u string) (contactsync.Result, error) {
	return contactsync.Result{}, c.note("contacts " + u)
}

type calendarEngine struct{ *engines }

func (c calendarEngine) Pass(_ context.Context, u string) (calendarsync.Result, error) {
	return calendarsync.Result{}, c.note("calendar " + u)
}

func (e *engines) Run(_ context.Context, u string, v int64) error {
	return e.note(fmt.Sprintf("preview %s v%d", u, v))
}
func (e *engines) Flush(_ context.Context, u string) (int, error) { return 0, e.note("mail " + u) }
func (e *engines) Restore(_ context.Context, u string) (bool, error) {
	return false, e.note("restore " + u)
}

type lost struct{ users []string }

func (l *lost) Lost(_ context.Context, u string, _ error) error {
	l.users = append(l.users, u)
	return nil
}

func push(data string) string {
	return fmt.Sprintf(`{"message":{"data":%q,"messageId":"1"},"subscription":"projects/p/subscriptions/jobs"}`, base64.StdEncoding.EncodeToString([]byte(data)))
}

// The Jobs function through its HTTP surface, as Pub/Sub pushes to it:
// each kind runs its engine for the job's user and is acknowledged (204);
// a job that can never run is acknowledged without work; a passing failure
// asks for redelivery (503); lost access goes to the reconnect handler and
// is acknowledged.
func TestJobsOverHTTP(t *testing.T) {
	e := &engines{}
	l := &lost{}
	h := &Handler{Engines: jobs.Engines{Mail: e, Contacts: contactEngine{e}, Calendar: calendarEngine{e}, Previews: e, SystemMail: e, Access: e},
		Lost: l, Log: logging.Discard()}
	do := func(method, body string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "/", strings.NewReader(body)))
		return rec.Code
	}
	for _, c := range []struct{ job, ran string }{
		{`{"kind":"mail-sweep","user":"ann@firm.test"}`, "sweep ann@firm.test"},
		{`{"kind":"watch-renewal","user":"ann@firm.test"}`, "connect ann@firm.test"},
		{`{"kind":"contact-sync","user":"ann@firm.test"}`, "contacts ann@firm.test"},
		{`{"kind":"calendar-sync","user":"ann@firm.test"}`, "calendar ann@firm.test"},
		{`{"kind":"preview","user":"ann@firm.test","version":3}`, "preview ann@firm.test v3"},
		{`{"kind":"system-mail","user":"ann@firm.test"}`, "mail ann@firm.test"},
	} {
		e.ran = nil
		if code := do("POST", push(c.job)); code != http.StatusNoContent || len(e.ran) != 1 || e.ran[0] != c.ran {
			t.Errorf("%s: %d, ran %v, want %q", c.job, code, e.ran, c.ran)
		}
	}
	e.ran = nil
	for _, bad := range []string{"not json", push("not json"), push(`{"kind":"tea","user":"a@b.c"}`), push(`{"kind":"mail-sweep"}`), push(`{"kind":"preview","user":"a@b.c"}`)} {
		if code := do("POST", bad); code != http.StatusNoContent {
			t.Errorf("unusable %q: %d, want 204 (acknowledged)", bad, code)
		}
	}
	if len(e.ran) != 0 {
		t.Errorf("unusable jobs ran: %v", e.ran)
	}
	if code := do("GET", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", code)
	}
	e.err = failure.Errorf("contacts", failure.Transient, "People answered 503")
	if code := do("POST", push(`{"kind":"contact-sync","user":"ann@firm.test"}`)); code != http.StatusServiceUnavailable {
		t.Errorf("a passing failure: %d, want 503", code)
	}
	e.err = failure.Errorf("contacts", failure.AuthRevoked, "invalid_grant")
	if code := do("POST", push(`{"kind":"contact-sync","user":"ann@firm.test"}`)); code != http.StatusNoContent || len(l.users) != 1 || l.users[0] != "ann@firm.test" {
		t.Errorf("lost access: %d, told %v", code, l.users)
	}
}
