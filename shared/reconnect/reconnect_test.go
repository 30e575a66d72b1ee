package reconnect_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/golden"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/notify"
	"github.com/crmsync/crmsync/shared/reconnect"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/store/storetest"
)

type outbox struct {
	mu  sync.Mutex
	got []string
}

func (o *outbox) Send(_ context.Context, m notify.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, m.To)
	return nil
}

// Six users of a firm lose Google access the same way within minutes (the
// firm's OAuth client was replaced, say): the first three are
// disconnected and asked to reconnect, as one user's revoked grant is;
// from the fourth on it is taken as the deployment's doing, a problem for
// the admin, and nobody more is disconnected or e-mailed. A user who loses
// access for another reason, or later, is still the user's.
func TestManyUsersLosingAccessAtOnceIsTheDeploymentsProblem(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Now().UTC())
	st := storetest.New(t, clk)
	if _, err := st.Tenants().Create(ctx, store.Tenant{ID: "firm", Name: "Firm", CRMName: "X", AuthMode: store.AuthUserOAuth}); err != nil {
		t.Fatal(err)
	}
	var users []string
	for i := range 8 {
		u := fmt.Sprintf("u%d@firm.test", i)
		users = append(users, u)
		if _, err := st.Users().Create(ctx, store.User{TenantID: "firm", Email: u, Connection: store.Connection{State: store.Connected}}); err != nil {
			t.Fatal(err)
		}
	}
	mails := &outbox{}
	h := &reconnect.Handler{Store: st, Sender: mails, WebURL: "https://web", Clock: clk, Log: logging.Discard()}
	revoked := failure.E("gmail: labels.list", failure.AuthRevoked, errors.New(`oauth2: "invalid_grant" "Token has been expired or revoked."`))
	for _, u := range users[:6] {
		if err := h.Lost(ctx, u, revoked); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
	}
	state := func(u string) store.ConnState {
		got, _ := st.Users().Get(ctx, u)
		return got.Connection.State
	}
	for i, u := range users[:6] {
		want := store.Connected
		if i < reconnect.StormUsers {
			want = store.Disconnected
		}
		if got := state(u); got != want {
			t.Errorf("%s: %s, want %s", u, got, want)
		}
	}
	if len(mails.got) != reconnect.StormUsers {
		t.Errorf("%d reconnect e-mails, want %d", len(mails.got), reconnect.StormUsers)
	}
	problems, err := st.Problems().List(ctx, "firm", time.Time{})
	if err != nil || len(problems) != 1 || !strings.Contains(problems[0].Message, "many users") || len(problems[0].Users) != 3 {
		t.Fatalf("problems: %+v, %v", problems, err)
	}

	// Another reason is the user's own.
	other := failure.E("gmail: labels.list", failure.AuthRevoked, errors.New(`oauth2: "invalid_grant" "Account has been deleted"`))
	if err := h.Lost(ctx, users[6], other); err != nil {
		t.Fatal(err)
	}
	if state(users[6]) != store.Disconnected {
		t.Error("a user who lost access for another reason was not disconnected")
	}
	// So is the same reason once the storm is over.
	clk.Advance(reconnect.StormWindow)
	if err := h.Lost(ctx, users[7], revoked); err != nil {
		t.Fatal(err)
	}
	if state(users[7]) != store.Disconnected {
		t.Error("a user who lost access after the storm was not disconnected")
	}
}

// The reconnect e-mail as users receive it, whole.
func TestTheEmailMatchesItsGoldenFiles(t *testing.T) {
	tn := store.Tenant{ID: "firm", Name: "Firm", CRMName: "SmartOffice"}
	u := store.User{ID: "cat@firm.test", Email: "cat@firm.test", DisplayName: "Cat Chen",
		Connection: store.Connection{State: store.Disconnected, Reason: "Google no longer accepts this service's access (the grant was revoked)"}}
	m, err := reconnect.Message(tn, u, "https://web.example/Web/settings")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "reconnect.html", []byte(m.HTML))
	golden.Check(t, "reconnect.txt", []byte(m.Subject+"\n\n"+m.Text))
}
