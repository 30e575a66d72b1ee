package calendarpush

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/crmsync/crmsync/shared/calendarsync"
	"github.com/crmsync/crmsync/shared/logging"
)

type checker struct{ ok bool }

func (c checker) CheckNotification(context.Context, calendarsync.Notification) (bool, error) {
	return c.ok, nil
}

type publisher struct {
	n   int
	err error
}

func (p *publisher) Publish(context.Context, []byte, map[string]string) func() error {
	p.n++
	return func() error { return p.err }
}

func TestNotificationsEnqueueAPassOnlyForTheCurrentChannel(t *testing.T) {
	for name, tc := range map[string]struct {
		ok       bool
		state    string
		err      error
		code, ps int
	}{
		"a change on the current channel":       {true, "exists", nil, 204, 1},
		"the first message of a channel":        {true, "sync", nil, 204, 0},
		"an unknown channel or a wrong token":   {false, "exists", nil, 403, 0},
		"Pub/Sub down: Google retries the push": {true, "exists", errors.New("unavailable"), 503, 1},
	} {
		t.Run(name, func(t *testing.T) {
			pub := &publisher{err: tc.err}
			h := &Handler{Channels: checker{tc.ok}, Jobs: pub, Log: logging.Discard()}
			req := httptest.NewRequest("POST", "/?user=ann@demo.test", nil)
			req.Header.Set("X-Goog-Resource-State", tc.state)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.code || pub.n != tc.ps {
				t.Errorf("answered %d with %d jobs, want %d with %d", rec.Code, pub.n, tc.code, tc.ps)
			}
		})
	}
}
