package gmailpush

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/mailbox"
)

type passer struct {
	err   error
	users []string
}

func (p *passer) Process(_ context.Context, email string) (mailbox.Result, error) {
	p.users = append(p.users, email)
	return mailbox.Result{Posted: 1}, p.err
}

func push(h http.Handler, body string) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", strings.NewReader(body)))
	return rec.Code
}

func envelope(payload string) string {
	return fmt.Sprintf(`{"message":{"data":%q,"messageId":"1"},"subscription":"s"}`, base64.StdEncoding.EncodeToString([]byte(payload)))
}

func TestAnswersTellPubSubWhatToDo(t *testing.T) {
	good := envelope(`{"emailAddress":"Ann@Demo.test","historyId":"42"}`)
	for name, tc := range map[string]struct {
		body string
		err  error
		code int
		ran  bool
	}{
		"a pass that is done is acknowledged":      {good, nil, 204, true},
		"a transient failure is redelivered":       {good, failure.Errorf("crm", failure.Transient, "503"), 503, true},
		"a busy user is redelivered":               {good, failure.E("lease", failure.Transient, mailbox.ErrBusy), 503, true},
		"a permanent failure is acknowledged":      {good, failure.Errorf("crm", failure.Permanent, "no CRM user"), 204, true},
		"a malformed notification is acknowledged": {`{"message":{"data":"%%%"}}`, nil, 204, false},
		"not an envelope is acknowledged":          {"hello", nil, 204, false},
	} {
		t.Run(name, func(t *testing.T) {
			p := &passer{err: tc.err}
			h := &Handler{Engine: p, Log: logging.Discard()}
			if code := push(h, tc.body); code != tc.code {
				t.Errorf("answered %d, want %d", code, tc.code)
			}
			if ran := len(p.users) > 0; ran != tc.ran {
				t.Errorf("pass ran: %v, want %v", ran, tc.ran)
			}
			if tc.ran && p.users[0] != "ann@demo.test" {
				t.Errorf("pass for %q", p.users[0])
			}
		})
	}
	rec := httptest.NewRecorder()
	(&Handler{Engine: &passer{}, Log: logging.Discard()}).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 405 {
		t.Errorf("GET: %d", rec.Code)
	}
}
