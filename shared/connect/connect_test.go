package connect_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	gmail "google.golang.org/api/gmail/v1"
	"google.golang.org/api/option"
	people "google.golang.org/api/people/v1"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/connect"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/store/storetest"
	"github.com/crmsync/crmsync/shared/tokencrypt"
)

const (
	ann      = "ann@demo.test"
	callback = "https://crmsync.example/Web/connect/callback"
)

type world struct {
	ctx  context.Context
	st   *store.Store
	g    *fakegoogle.Server
	flow *connect.Flow
	clk  *clock.Fake
}

func newWorld(t *testing.T) *world {
	ctx := context.Background()
	clk := clock.NewFake(time.Now())
	st := storetest.New(t, clk)
	g := fakegoogle.Started(t, fakegoogle.Options{Clock: clk})
	for _, u := range []string{ann, "bob@demo.test"} {
		g.AddUser(fakegoogle.User{Email: u})
	}
	g.AddClient(fakegoogle.OAuthClient{ID: "crmsync-client", Secret: "s3cret", RedirectURIs: []string{callback}})
	st.Tenants().Create(ctx, store.Tenant{ID: "demo", Name: "Demo", CRMName: "X", OAuthClientID: "crmsync-client"})
	st.Users().Create(ctx, store.User{TenantID: "demo", Email: ann})
	key := make([]byte, 32)
	rand.Read(key)
	box, _ := tokencrypt.New([]byte(base64.StdEncoding.EncodeToString(key)))
	flow := &connect.Flow{Store: st, Box: box, ClientSecret: "s3cret", Endpoint: g.Endpoint(), RevokeURL: g.URL() + "/revoke",
		RedirectURL: callback, Clock: clk}
	return &world{ctx: ctx, st: st, g: g, flow: flow, clk: clk}
}

// connectAs runs the flow with the account chosen on the consent page.
func (w *world) connectAs(t *testing.T, account string, features ...connect.Feature) (store.User, error) {
	t.Helper()
	authURL, err := w.flow.Begin(w.ctx, ann, features)
	if err != nil {
		t.Fatal(err)
	}
	back, err := fakegoogle.Consent(authURL, account, true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(back.String(), callback) {
		t.Fatalf("sent back to %s", back)
	}
	return w.flow.Finish(w.ctx, back.Query().Get("state"), back.Query().Get("code"))
}

func (w *world) tokens(t *testing.T, scopes []string) option.ClientOption {
	t.Helper()
	u, _ := w.st.Users().Get(w.ctx, ann)
	tn, _ := w.st.Tenants().Get(w.ctx, "demo")
	ts, err := w.flow.Tokens(w.ctx, u, tn, scopes)
	if err != nil {
		t.Fatal(err)
	}
	return option.WithTokenSource(ts)
}

func TestConnectStoresASealedGrantWithTheChosenScopes(t *testing.T) {
	w := newWorld(t)
	u, err := w.connectAs(t, ann, connect.Mail)
	if err != nil {
		t.Fatal(err)
	}
	if u.Connection.State != store.Connected || !strings.HasPrefix(u.Grant.SealedRefreshToken, "v2.") {
		t.Fatalf("user after connecting: %+v", u.Connection)
	}
	// The stored token is sealed: what is in Firestore is not the token.
	rt, err := w.flow.Box.Open(u.ID, u.Grant.SealedRefreshToken)
	if err != nil || rt == "" || strings.Contains(u.Grant.SealedRefreshToken, rt) {
		t.Fatalf("the refresh token is not sealed: %v", err)
	}
	// The grant works for Gmail, and only Gmail was asked for.
	gm, _ := gmail.NewService(w.ctx, option.WithEndpoint(w.g.URL()+"/"), w.tokens(t, connect.Scopes([]connect.Feature{connect.Mail})))
	if p, err := gm.Users.GetProfile("me").Do(); err != nil || p.EmailAddress != ann {
		t.Fatalf("Gmail with the stored grant: %v", err)
	}
	ppl, _ := people.NewService(w.ctx, option.WithEndpoint(w.g.URL()+"/"), w.tokens(t, connect.Scopes([]connect.Feature{connect.Mail})))
	if _, err := ppl.People.Connections.List("people/me").PersonFields("names").Do(); err == nil {
		t.Error("contacts readable although only mail was connected")
	}
}

func TestTheWrongAccountIsRefusedAndRevoked(t *testing.T) {
	w := newWorld(t)
	_, err := w.connectAs(t, "bob@demo.test", connect.Mail)
	if !failure.Is(err, failure.Forbidden) || !strings.Contains(err.Error(), "myaccount.google.com/permissions") {
		t.Fatalf("wrong account: %v, want Forbidden with the reset steps", err)
	}
	if u, _ := w.st.Users().Get(w.ctx, ann); u.Connection.State == store.Connected || u.Grant.SealedRefreshToken != "" {
		t.Errorf("ann connected with bob's account: %+v", u.Connection)
	}
}

func TestStatesWorkOnceAndExpire(t *testing.T) {
	w := newWorld(t)
	authURL, _ := w.flow.Begin(w.ctx, ann, []connect.Feature{connect.Calendar})
	back, _ := fakegoogle.Consent(authURL, ann, true)
	state, code := back.Query().Get("state"), back.Query().Get("code")
	if _, err := w.flow.Finish(w.ctx, state, code); err != nil {
		t.Fatal(err)
	}
	if _, err := w.flow.Finish(w.ctx, state, code); !failure.Is(err, failure.Invalid) {
		t.Errorf("a used state: %v", err)
	}
	if _, err := w.flow.Finish(w.ctx, "forged", code); !failure.Is(err, failure.Invalid) {
		t.Errorf("a forged state: %v", err)
	}
	authURL, _ = w.flow.Begin(w.ctx, ann, []connect.Feature{connect.Calendar})
	back, _ = fakegoogle.Consent(authURL, ann, true)
	w.clk.Advance(20 * time.Minute)
	if _, err := w.flow.Finish(w.ctx, back.Query().Get("state"), back.Query().Get("code")); !failure.Is(err, failure.Invalid) {
		t.Errorf("an expired state: %v", err)
	}
	if _, err := w.flow.Begin(w.ctx, ann, nil); !failure.Is(err, failure.Invalid) {
		t.Errorf("no features: %v", err)
	}
}

func TestDisconnectRevokesAndWipes(t *testing.T) {
	w := newWorld(t)
	u, err := w.connectAs(t, ann, connect.Mail, connect.Contacts)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := w.flow.Box.Open(u.ID, u.Grant.SealedRefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if u, err = w.flow.Disconnect(w.ctx, ann); err != nil {
		t.Fatal(err)
	}
	if u.Connection.State != store.NotConnected || u.Grant.SealedRefreshToken != "" {
		t.Errorf("after disconnect: %+v", u)
	}
	// The refresh token no longer works at Google.
	cfg := &oauth2.Config{ClientID: "crmsync-client", ClientSecret: "s3cret", Endpoint: w.g.Endpoint()}
	if _, err := cfg.TokenSource(w.ctx, &oauth2.Token{RefreshToken: rt}).Token(); err == nil {
		t.Error("the refresh token still works after disconnect")
	}
	tn, _ := w.st.Tenants().Get(w.ctx, "demo")
	if _, err := w.flow.Tokens(w.ctx, u, tn, nil); !failure.Is(err, failure.AuthRevoked) {
		t.Errorf("tokens after disconnect: %v, want AuthRevoked", err)
	}
}

// A token-key rotation in the middle of passes disconnects nobody: while
// every user's grant is read again and again (as passes do), the new key is
// added, promoted and the old one retired, each a new secret value that
// the running box reads at its next refresh. Every read succeeds, every
// grant ends sealed with the new key, and nothing is sealed with the old
// key once it is gone.
func TestATokenKeyRotationMidRunDisconnectsNobody(t *testing.T) {
	w := newWorld(t)
	line := func(id string) string {
		k := make([]byte, 32)
		rand.Read(k)
		return id + ":" + base64.StdEncoding.EncodeToString(k)
	}
	k1, k2 := line("k1"), line("k2")
	const refresh = 5 * time.Minute // as wiring.KeyringRefresh
	var mu sync.Mutex
	secret := k1
	set := func(v string) {
		mu.Lock()
		secret = v
		mu.Unlock()
		w.clk.Advance(refresh)
	}
	box, err := tokencrypt.NewReloading(w.ctx, func(context.Context) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		return []byte(secret), nil
	}, refresh, w.clk)
	if err != nil {
		t.Fatal(err)
	}
	w.flow.Box = box
	users := []string{ann, "bob@demo.test", "cat@demo.test", "dan@demo.test"}
	for _, email := range users[2:] {
		w.g.AddUser(fakegoogle.User{Email: email})
	}
	for _, email := range users[1:] {
		w.st.Users().Create(w.ctx, store.User{TenantID: "demo", Email: email})
	}
	for _, email := range users {
		authURL, err := w.flow.Begin(w.ctx, email, []connect.Feature{connect.Contacts})
		if err != nil {
			t.Fatal(err)
		}
		back, err := fakegoogle.Consent(authURL, email, true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.flow.Finish(w.ctx, back.Query().Get("state"), back.Query().Get("code")); err != nil {
			t.Fatal(err)
		}
	}
	tn, _ := w.st.Tenants().Get(w.ctx, "demo")
	sealedWith := func(prefix string) bool {
		for _, email := range users {
			u, _ := w.st.Users().Get(w.ctx, email)
			if !strings.HasPrefix(u.Grant.SealedRefreshToken, prefix) {
				return false
			}
		}
		return true
	}
	if !sealedWith("v2.k1.") {
		t.Fatal("the grants are not sealed with k1 to begin with")
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	errs := make(chan error, len(users))
	for _, email := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				u, err := w.st.Users().Get(w.ctx, email)
				if err == nil && u.Connection.State != store.Connected {
					err = fmt.Errorf("%s is %s", email, u.Connection.State)
				}
				var ts oauth2.TokenSource
				if err == nil {
					ts, err = w.flow.Tokens(w.ctx, u, tn, connect.FeatureScopes(connect.Contacts))
				}
				if err == nil {
					_, err = ts.Token()
				}
				if err != nil {
					errs <- fmt.Errorf("%s: %w", email, err)
					return
				}
				reads.Add(1)
			}
		}()
	}
	waitReads := func(n int64) {
		for start := reads.Load(); reads.Load() < start+n; {
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitReads(20)
	set(k1 + "\n" + k2) // add: every instance learns to read k2
	waitReads(20)
	set(k2 + "\n" + k1) // promote: k2 seals; what is read with k1 is sealed again
	for deadline := time.Now().Add(30 * time.Second); !sealedWith("v2.k2."); {
		if time.Now().After(deadline) {
			t.Fatal("the grants were not sealed again with k2 within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	set(k2) // retire k1
	waitReads(20)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a read during the rotation failed: %v", err)
	}
	if reads.Load() < 60 {
		t.Errorf("only %d reads ran", reads.Load())
	}
}

// A connection finished in another user's browser is refused and its
// state stays for the user who started it; a cancelled one is used up.
func TestFinishForTheUserWhoStartedIt(t *testing.T) {
	w := newWorld(t)
	authURL, _ := w.flow.Begin(w.ctx, ann, []connect.Feature{connect.Calendar})
	back, _ := fakegoogle.Consent(authURL, ann, true)
	state, code := back.Query().Get("state"), back.Query().Get("code")
	if _, err := w.flow.FinishFor(w.ctx, "bob@demo.test", state, code); !failure.Is(err, failure.Forbidden) {
		t.Errorf("finished in Bob's browser: %v, want Forbidden", err)
	}
	if u, err := w.flow.FinishFor(w.ctx, "Ann@Demo.test", state, code); err != nil || u.Connection.State != store.Connected {
		t.Errorf("finished in Ann's: %+v, %v", u.Connection, err)
	}
	authURL, _ = w.flow.Begin(w.ctx, ann, []connect.Feature{connect.Calendar})
	back, _ = fakegoogle.Consent(authURL, ann, true)
	w.flow.Cancel(w.ctx, back.Query().Get("state"))
	if _, err := w.flow.FinishFor(w.ctx, ann, back.Query().Get("state"), back.Query().Get("code")); !failure.Is(err, failure.Invalid) {
		t.Errorf("a cancelled state: %v, want Invalid", err)
	}
}
