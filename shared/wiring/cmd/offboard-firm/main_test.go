package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/connect"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/setup"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/store/storetest"
	"github.com/crmsync/crmsync/shared/tokencrypt"
)

// The runbook's command (docs/operations.md), with the test's firm and
// file: a dry run lists the users and removes nothing; with -yes the
// firm's state is exported without credentials, each user's grant is
// revoked at Google, and nothing of the firm is left in the store.
func TestOffboardAWholeFirm(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t, nil)
	g := fakegoogle.Started(t, fakegoogle.Options{Clock: clock.Real{}})
	const ann, bob, callback = "ann@acme.test", "bob@acme.test", "https://crmsync.example/connect/callback"
	for _, u := range []string{ann, bob} {
		g.AddUser(fakegoogle.User{Email: u})
	}
	g.AddClient(fakegoogle.OAuthClient{ID: "acme-client", Secret: "s3cret", RedirectURIs: []string{callback}})
	if _, err := st.Tenants().Create(ctx, store.Tenant{ID: "acme", Name: "Acme", CRMName: "X", OAuthClientID: "acme-client", Domains: []string{"acme.test"}}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{ann, bob} {
		if _, err := st.Users().Create(ctx, store.User{TenantID: "acme", Email: u}); err != nil {
			t.Fatal(err)
		}
	}
	key := make([]byte, 32)
	rand.Read(key)
	box, _ := tokencrypt.New([]byte(base64.StdEncoding.EncodeToString(key)))
	flow := &connect.Flow{Store: st, Box: box, ClientSecret: "s3cret", Endpoint: g.Endpoint(), RevokeURL: g.URL() + "/revoke", RedirectURL: callback, Clock: clock.Real{}}
	authURL, err := flow.Begin(ctx, ann, []connect.Feature{connect.Contacts})
	if err != nil {
		t.Fatal(err)
	}
	back, _ := fakegoogle.Consent(authURL, ann, true)
	connected, err := flow.Finish(ctx, back.Query().Get("state"), back.Query().Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	refresh, err := box.Open(ann, connected.Grant.SealedRefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	svc := &setup.Service{Store: st, Flow: flow, Clock: clock.Real{}, Log: logging.Discard()}
	open := func(context.Context) (*setup.Service, error) { return svc, nil }
	export := filepath.Join(t.TempDir(), "acme-export.jsonl")

	var out, errs bytes.Buffer
	if code := run(ctx, []string{"-tenant", "acme", "-export", export}, open, &out, &errs); code != 0 || !strings.Contains(out.String(), ann) || !strings.Contains(out.String(), bob) {
		t.Fatalf("dry run: %d\n%s%s", code, out.String(), errs.String())
	}
	if _, err := os.Stat(export); err == nil {
		t.Fatal("the dry run wrote the export")
	}

	out.Reset()
	if code := run(ctx, []string{"-tenant", "acme", "-export", export, "-yes"}, open, &out, &errs); code != 0 {
		t.Fatalf("offboarding: %d\n%s%s", code, out.String(), errs.String())
	}
	var res setup.FirmOffboarded
	if err := json.Unmarshal(out.Bytes()[:bytes.LastIndex(out.Bytes(), []byte("\n}"))+2], &res); err != nil {
		t.Fatalf("the report: %v\n%s", err, out.String())
	}
	if len(res.Users) != 2 || res.Exported["users"] != 2 || res.Exported["tenants"] != 1 {
		t.Errorf("report %+v", res)
	}
	f, err := os.Open(export)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	paths := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var d store.ExportedDoc
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("an export line: %v: %s", err, sc.Text())
		}
		paths[d.Path] = true
		if strings.Contains(sc.Text(), connected.Grant.SealedRefreshToken) || strings.Contains(sc.Text(), refresh) {
			t.Errorf("the export carries a token: %s", d.Path)
		}
	}
	for _, p := range []string{"tenants/acme", "users/" + ann, "users/" + bob} {
		if !paths[p] {
			t.Errorf("the export lacks %s (has %v)", p, paths)
		}
	}
	if _, err := st.Tenants().Get(ctx, "acme"); err == nil {
		t.Error("the firm's document is still there")
	}
	for _, u := range []string{ann, bob} {
		if _, err := st.Users().Get(ctx, u); err == nil {
			t.Errorf("%s is still there", u)
		}
	}
	// Ann's grant no longer works at Google.
	resp, err := http.PostForm(g.URL()+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {"acme-client"}, "client_secret": {"s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("refreshing Ann's revoked grant: %d, want 400", resp.StatusCode)
	}
	// A second run does not overwrite the export.
	if code := run(ctx, []string{"-tenant", "acme", "-export", export, "-yes"}, open, &out, &errs); code != 1 {
		t.Errorf("a second run: %d", code)
	}
}
