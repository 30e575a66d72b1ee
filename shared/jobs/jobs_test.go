package jobs

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/mailbox"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/store/storetest"
)

type recorder struct {
	mu   sync.Mutex
	sent []string
	fail error
}

func (r *recorder) Publish(_ context.Context, data []byte, attrs map[string]string) func() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, string(data)+" "+attrs["kind"])
	return func() error { return r.fail }
}

func TestDispatchPublishesOneJobPerEligibleUser(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t, nil)
	for _, tn := range []string{"a", "b"} {
		if _, err := st.Tenants().Create(ctx, store.Tenant{ID: tn, Name: tn, CRMName: "X"}); err != nil {
			t.Fatal(err)
		}
	}
	on := store.MailSetup{Enabled: true}
	for _, u := range []store.User{
		{TenantID: "a", Email: "ann@a.test", Connection: store.Connection{State: store.Connected}, SyncState: store.Active, Mail: on},
		{TenantID: "a", Email: "off@a.test", Connection: store.Connection{State: store.Connected}, SyncState: store.Active},
		{TenantID: "a", Email: "gone@a.test", Connection: store.Connection{State: store.Disconnected}, SyncState: store.Active, Mail: on},
		{TenantID: "a", Email: "wait@a.test", Connection: store.Connection{State: store.Connected}, SyncState: store.PendingApproval, Mail: on},
		{TenantID: "a", Email: "no@a.test", Connection: store.Connection{State: store.Connected}, SyncState: store.Rejected, Mail: on},
		{TenantID: "b", Email: "bob@b.test", Connection: store.Connection{State: store.Connected}, SyncState: store.Active, Mail: on},
	} {
		if _, err := st.Users().Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{}
	n, err := Dispatch(ctx, st, rec, MailSweep)
	if err != nil || n != 2 {
		t.Fatalf("Dispatch = %d, %v", n, err)
	}
	slices.Sort(rec.sent)
	want := []string{`{"kind":"mail-sweep","user":"ann@a.test"} mail-sweep`, `{"kind":"mail-sweep","user":"bob@b.test"} mail-sweep`}
	if !slices.Equal(rec.sent, want) {
		t.Errorf("published %v", rec.sent)
	}
	// While Gmail notifications flow (Ann's last pushed pass succeeded 3
	// minutes ago), her sweep is skipped; a pushed pass older than the
	// period, or a failed last pass, sweeps again.
	for _, c := range []struct {
		status store.PassStatus
		swept  bool
	}{
		{store.PassStatus{At: st.Now(), OK: true, Pushed: st.Now().Add(-3 * time.Minute)}, false},
		{store.PassStatus{At: st.Now(), OK: true, Pushed: st.Now().Add(-11 * time.Minute)}, true},
		{store.PassStatus{At: st.Now(), OK: false, Pushed: st.Now().Add(-3 * time.Minute)}, true},
	} {
		if err := st.Users().RecordPass(ctx, "ann@a.test", "mail", c.status); err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		if _, err := Dispatch(ctx, st, rec, MailSweep); err != nil {
			t.Fatal(err)
		}
		if swept := slices.ContainsFunc(rec.sent, func(s string) bool { return strings.Contains(s, "ann@a.test") }); swept != c.swept {
			t.Errorf("last pass %+v: swept %v, want %v", c.status, swept, c.swept)
		}
	}
	if _, err := Dispatch(ctx, st, rec, "tea"); !failure.Is(err, failure.Invalid) {
		t.Errorf("unknown kind: %v", err)
	}
	if _, err := Dispatch(ctx, st, &recorder{fail: errors.New("topic gone")}, WatchRenewal); !failure.Is(err, failure.Transient) {
		t.Errorf("a refused publish: %v, want Transient", err)
	}
}

func push(data string) []byte {
	return []byte(fmt.Sprintf(`{"message":{"data":%q}}`, base64.StdEncoding.EncodeToString([]byte(data))))
}

type mail struct{ swept, connected []string }

func (m *mail) Sweep(_ context.Context, e string) (mailbox.Result, error) {
	m.swept = append(m.swept, e)
	return mailbox.Result{}, nil
}
func (m *mail) Connect(_ context.Context, e string) error {
	m.connected = append(m.connected, e)
	return nil
}

func TestDecodeAndRun(t *testing.T) {
	m := &mail{}
	for _, body := range [][]byte{push(`{"kind":"mail-sweep","user":"ann@a.test"}`), push(`{"kind":"watch-renewal","user":"bob@b.test"}`)} {
		j, err := Decode(body)
		if err != nil {
			t.Fatal(err)
		}
		if err := Run(context.Background(), j, Engines{Mail: m}); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(m.swept, []string{"ann@a.test"}) || !slices.Equal(m.connected, []string{"bob@b.test"}) {
		t.Errorf("swept %v, connected %v", m.swept, m.connected)
	}
	for _, bad := range [][]byte{[]byte("x"), push("not json"), push(`{"kind":"tea","user":"a@b.c"}`), push(`{"kind":"mail-sweep"}`)} {
		if _, err := Decode(bad); !failure.Is(err, failure.Invalid) {
			t.Errorf("Decode(%s) = %v, want Invalid", bad, err)
		}
	}
}
