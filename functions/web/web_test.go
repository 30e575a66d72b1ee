package web_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	gmail "google.golang.org/api/gmail/v1"
	"google.golang.org/api/option"

	"github.com/crmsync/crmsync/functions/web"
	"github.com/crmsync/crmsync/shared/authn"
	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/connect"
	"github.com/crmsync/crmsync/shared/contactsync"
	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/jobs"
	"github.com/crmsync/crmsync/shared/jobs/jobstest"
	"github.com/crmsync/crmsync/shared/keyring"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/mailbox"
	"github.com/crmsync/crmsync/shared/notify"
	"github.com/crmsync/crmsync/shared/preview"
	"github.com/crmsync/crmsync/shared/reconnect"
	"github.com/crmsync/crmsync/shared/setup"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/store/storetest"
	"github.com/crmsync/crmsync/shared/tokencrypt"
	"github.com/crmsync/crmsync/shared/workspace"
)

const (
	ann    = "ann@firm.test" // the admin
	cat    = "cat@firm.test" // a user with the integration right
	dora   = "dora@firm.test"
	zed    = "zed@other.test" // the admin of another firm
	sender = "crm-sync@firm.test"
	client = "firm-client.apps.googleusercontent.com"
)

type world struct {
	ctx  context.Context
	clk  *clock.Fake
	st   *store.Store
	g    *fakegoogle.Server
	srv  *httptest.Server
	box  *tokencrypt.Box
	jobs *jobstest.Recorder
	crm  *refcrm.Store
	raw  func(path string) map[string]any
	h    *web.Handler
}

func newWorld(t *testing.T) *world {
	ctx := context.Background()
	clk := clock.NewFake(time.Now())
	fs := storetest.Client(t)
	st := store.New(fs, clk)
	g := fakegoogle.Started(t, fakegoogle.Options{Clock: clk})
	for _, u := range []string{ann, cat, dora, sender, zed} {
		g.AddUser(fakegoogle.User{Email: u})
	}
	crmStore := refcrm.New(fs, "firm", clk)
	if _, err := crmStore.Import(ctx, refcrm.Dataset{Users: []refcrm.ImportUser{
		{Key: "ann", Email: ann, Name: "Ann", IntegrationEnabled: true}, {Key: "cat", Email: cat, Name: "Cat", IntegrationEnabled: true},
		{Key: "dora", Email: dora, Name: "Dora"}}, Sets: []string{"Newsletter"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Tenants().Create(ctx, store.Tenant{ID: "firm", Name: "Firm", CRMName: "SmartOffice", Domains: []string{"firm.test"},
		Admins: []string{ann}, AuthMode: store.AuthUserOAuth, OAuthClientID: client, AllowAllContacts: true, AutoMailSync: true}); err != nil {
		t.Fatal(err)
	}
	// Another firm on the same deployment.
	if _, err := st.Tenants().Create(ctx, store.Tenant{ID: "other", Name: "Other", CRMName: "X", Domains: []string{"other.test"},
		Admins: []string{zed}, AuthMode: store.AuthUserOAuth, OAuthClientID: client}); err != nil {
		t.Fatal(err)
	}
	saKey, saClient, err := g.AddServiceAccount("sender@p.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	g.AuthorizeDelegation(saClient, workspace.SendScopes()...)
	newRing := func(id string) []byte {
		k, _ := keyring.New(id)
		return []byte(k.Line())
	}
	box, _ := tokencrypt.New(newRing("t1"))
	signing, _ := keyring.Parse("signing-key", newRing("s1"))
	sessions, err := authn.NewSessions(signing, false, clk)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{ctx: ctx, clk: clk, st: st, g: g, box: box, jobs: &jobstest.Recorder{}, crm: crmStore}
	mux := http.NewServeMux()
	w.srv = httptest.NewServer(mux)
	t.Cleanup(w.srv.Close)
	webURL := w.srv.URL + "/Web"
	g.AddClient(fakegoogle.OAuthClient{ID: client, Secret: "s3cret", RedirectURIs: []string{webURL + "/auth/callback", webURL + "/connect/callback"}})
	flow := &connect.Flow{Store: st, Box: box, ClientSecret: "s3cret", Endpoint: g.Endpoint(), RevokeURL: g.URL() + "/revoke",
		RedirectURL: webURL + "/connect/callback", Clock: clk}
	log := logging.Discard()
	h := &web.Handler{
		Setup: &setup.Service{Store: st, CRM: crmStore, Jobs: w.jobs, Flow: flow, WebURL: webURL, Clock: clk, Log: log,
			Sender: &notify.Gmail{Google: &workspace.Factory{Tokens: workspace.Delegated(saKey, g.URL()+"/token", clk), Endpoint: g.URL()}, From: sender, Now: clk.Now}},
		Sessions: sessions,
		SignIn: &authn.SignIn{Store: st, Endpoint: g.Endpoint(), ClientSecret: "s3cret", RedirectURL: webURL + "/auth/callback",
			IDTokens: authn.NewIDTokens(ctx, g.JWKSURL(), clk), Clock: clk},
		Flow:     flow,
		Previews: &preview.Service{Store: st, Clock: clk, Log: log},
		Store:    st,
		Log:      log,
		BasePath: "/Web",
	}
	mux.Handle("/Web/", h)
	w.h = h
	w.raw = func(path string) map[string]any {
		snap, err := fs.Doc(path).Get(ctx)
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		return snap.Data()
	}
	return w
}

// browser is a cookie-keeping client that does not follow redirects.
func (w *world) browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (w *world) url(p string) string { return w.srv.URL + "/Web" + p }

// signIn signs email in through "Sign in with Google" and the fake's
// consent page; it returns the callback's response.
func (w *world) signIn(t *testing.T, b *http.Client, email string) *http.Response {
	t.Helper()
	return w.viaGoogle(t, b, "/signin", url.Values{"email": {email}}, email)
}

// viaGoogle posts a form that sends the browser to Google's consent page,
// allows as account there, and returns the callback's response.
func (w *world) viaGoogle(t *testing.T, b *http.Client, path string, form url.Values, account string) *http.Response {
	t.Helper()
	resp, err := b.PostForm(w.url(path), form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST %s answered %d", path, resp.StatusCode)
	}
	back, err := fakegoogle.Consent(resp.Header.Get("Location"), account, true)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = b.Get(back.String())
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// startSignIn posts "Sign in with Google" for email and allows on the
// consent page; it returns the first response and the callback address
// the browser is sent back to (not yet followed).
func (w *world) startSignIn(t *testing.T, b *http.Client, email string) (*http.Response, *url.URL) {
	t.Helper()
	resp, err := b.PostForm(w.url("/signin"), url.Values{"email": {email}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := fakegoogle.Consent(resp.Header.Get("Location"), email, true)
	if err != nil {
		t.Fatal(err)
	}
	return resp, back
}

// csrf reads the signed-in browser's CSRF token from the settings JSON.
func (w *world) csrf(t *testing.T, b *http.Client) string {
	t.Helper()
	var v struct{ CSRF string }
	w.getJSON(t, b, "/settings", &v)
	return v.CSRF
}

func (w *world) getJSON(t *testing.T, b *http.Client, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", w.url(path), nil)
	req.Header.Set("Accept", "application/json")
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(v)
	return resp.StatusCode
}

func post(t *testing.T, b *http.Client, u string, form url.Values) (int, string) {
	t.Helper()
	resp, err := b.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// connect connects the signed-in user's Google account through the
// consent page.
func (w *world) connect(t *testing.T, b *http.Client, email string) {
	t.Helper()
	resp := w.viaGoogle(t, b, "/connect", url.Values{"csrf": {w.csrf(t, b)}, "feature": {"mail", "contacts", "calendar"}}, email)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "done=connected") {
		t.Fatalf("connect callback answered %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// grantTokens are tokens from each user's stored grant, through flow (as
// the product's per-user OAuth does).
func (w *world) grantTokens(flow *connect.Flow) workspace.TokenSourceFunc {
	return func(ctx context.Context, email string, scopes []string) (oauth2.TokenSource, error) {
		u, err := w.st.Users().Get(ctx, email)
		if err != nil {
			return nil, err
		}
		tn, err := w.st.Tenants().Get(ctx, u.TenantID)
		if err != nil {
			return nil, err
		}
		return flow.Tokens(ctx, u, tn, scopes)
	}
}

// connectedCat is a browser where Cat signed in and connected Google.
func (w *world) connectedCat(t *testing.T) *http.Client {
	b := w.browser(t)
	w.signIn(t, b, cat).Body.Close()
	w.connect(t, b, cat)
	return b
}

func TestSignInAdmitsTheFirmsUsersWithTheRight(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	resp := w.signIn(t, b, cat)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasSuffix(resp.Header.Get("Location"), "/Web/settings") {
		t.Fatalf("cat's sign-in answered %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	var st setup.Status
	if code := w.getJSON(t, b, "/status", &st); code != 200 || st.Email != cat || st.Connection != store.NotConnected || st.Setup != store.NotConfigured {
		t.Errorf("cat's status: %d %+v", code, st)
	}
	for _, c := range b.Jar.Cookies(mustURL(w.srv.URL)) {
		if c.Name == authn.CookieName && c.Value == "" {
			t.Error("empty session cookie")
		}
	}
	// Dora is a CRM user without the integration right.
	resp = w.signIn(t, w.browser(t), dora)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "ask your administrator") {
		t.Errorf("dora's sign-in answered %d: %.300s", resp.StatusCode, body)
	}
	if _, err := w.st.Users().Get(w.ctx, dora); err == nil {
		t.Error("a refused sign-in made a user record")
	}
	// An address of no firm.
	if code, body := post(t, w.browser(t), w.url("/signin"), url.Values{"email": {"eve@elsewhere.test"}}); code != http.StatusForbidden || !strings.Contains(body, "elsewhere.test") {
		t.Errorf("a stranger's sign-in answered %d: %.200s", code, body)
	}
}

// The callback works only in the browser that started the sign-in, once.
func TestSignInIsBoundToItsBrowser(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	_, back := w.startSignIn(t, b, cat)
	other := w.browser(t) // an attacker's browser replaying the callback
	resp, err := other.Get(back.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("callback in another browser answered %d, want 401", resp.StatusCode)
	}
	if code := w.getJSON(t, other, "/status", &struct{}{}); code != http.StatusUnauthorized {
		t.Errorf("the other browser got a session: %d", code)
	}
	// In its own browser the sign-in works; reloading the callback
	// afterwards lands on the settings, not on "another browser".
	if resp, err = b.Get(back.String()); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the sign-in in its own browser answered %d", resp.StatusCode)
	}
	if resp, err = b.Get(back.String()); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/Web/settings" {
		t.Errorf("reloading the callback: %d → %q, want the settings", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestFormsNeedTheSessionsCSRFToken(t *testing.T) {
	w := newWorld(t)
	b := w.connectedCat(t)
	form := url.Values{"contacts.direction": {"both"}}
	for name, token := range map[string]string{"missing": "", "wrong": "x" + w.csrf(t, b)} {
		f := url.Values{"csrf": {token}}
		for k, v := range form {
			f[k] = v
		}
		if code, body := post(t, b, w.url("/settings"), f); code != http.StatusForbidden || !strings.Contains(body, "reload the page") {
			t.Errorf("%s CSRF token: %d %.200s", name, code, body)
		}
	}
	// Another user's token does not work either.
	ob := w.browser(t)
	w.signIn(t, ob, ann).Body.Close()
	form.Set("csrf", w.csrf(t, ob))
	if code, _ := post(t, b, w.url("/settings"), form); code != http.StatusForbidden {
		t.Errorf("another session's CSRF token: %d", code)
	}
	u, _ := w.st.Users().Get(w.ctx, cat)
	if u.SettingsVersion != 0 || len(w.jobs.Jobs) != 0 {
		t.Errorf("a refused form changed something: version %d, jobs %v", u.SettingsVersion, w.jobs.Jobs)
	}
	form.Set("csrf", w.csrf(t, b))
	if code, body := post(t, b, w.url("/settings"), form); code != http.StatusSeeOther {
		t.Errorf("the right token: %d %.300s", code, body)
	}
}

func TestAdminPagesAreForAdmins(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	w.signIn(t, b, cat).Body.Close()
	if code := w.getJSON(t, b, "/admin", &struct{}{}); code != http.StatusForbidden {
		t.Errorf("a user on GET /admin: %d, want 403", code)
	}
	token := w.csrf(t, b)
	office := url.Values{"csrf": {token}, "labelName": {"Hacked"}, "attachmentLimitMB": {"5"}, "authMode": {"user_oauth"}}
	if code, _ := post(t, b, w.url("/admin/office"), office); code != http.StatusForbidden {
		t.Errorf("a user on POST /admin/office: %d, want 403", code)
	}
	if code, _ := post(t, b, w.url("/admin/rights"), url.Values{"csrf": {token}, "email": {dora}, "enabled": {"true"}}); code != http.StatusForbidden {
		t.Errorf("a user on POST /admin/rights: %d, want 403", code)
	}
	if tn, _ := w.st.Tenants().Get(w.ctx, "firm"); tn.CRMName != "SmartOffice" {
		t.Errorf("a user changed the office settings: %+v", tn)
	}
	// The admin sees every user, grants Dora the right, and Dora gets in.
	a := w.browser(t)
	w.signIn(t, a, ann).Body.Close()
	var v struct {
		Users []setup.Status
		CSRF  string
	}
	if code := w.getJSON(t, a, "/admin", &v); code != 200 || len(v.Users) != 3 {
		t.Fatalf("the admin page: %d %+v", code, v.Users)
	}
	// A contact pass that met duplicates made before says so on the admin
	// page, so they can be merged.
	if err := w.st.Users().RecordPass(w.ctx, cat, "contacts", store.PassStatus{At: time.Now(), OK: true, Counts: map[string]int{"duplicates": 2}}); err != nil {
		t.Fatal(err)
	}
	if page := getPage(t, a, w.url("/admin")); !strings.Contains(page, "2 contact(s) not copied") {
		t.Errorf("the admin page does not report the duplicates:\n%.2000s", page)
	}
	if code, body := post(t, a, w.url("/admin/rights"), url.Values{"csrf": {v.CSRF}, "email": {dora}, "enabled": {"true"}}); code != http.StatusSeeOther {
		t.Fatalf("granting the right: %d %.200s", code, body)
	}
	resp := w.signIn(t, w.browser(t), dora)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("dora with the right: %d", resp.StatusCode)
	}
	office.Set("csrf", v.CSRF)
	office.Set("labelName", "Office")
	if code, _ := post(t, a, w.url("/admin/office"), office); code != http.StatusSeeOther {
		t.Errorf("the admin saving office settings: %d", code)
	}
	if tn, _ := w.st.Tenants().Get(w.ctx, "firm"); tn.CRMName != "Office" || tn.AttachmentLimitBytes != 5<<20 {
		t.Errorf("office settings not saved: %+v", tn)
	}
	office.Set("attachmentLimitMB", "lots")
	if code, body := post(t, a, w.url("/admin/office"), office); code != http.StatusBadRequest || !strings.Contains(body, "MiB") {
		t.Errorf("a bad attachment limit: %d %.300s", code, body)
	}
}

// The refresh token is sealed before it is stored: the user document read
// back from Firestore holds no trace of it.
func TestTheRefreshTokenIsNeverStoredInPlainText(t *testing.T) {
	w := newWorld(t)
	b := w.connectedCat(t)
	doc := w.raw("users/" + cat)
	grant, _ := doc["grant"].(map[string]any)
	sealed, _ := grant["sealedRefreshToken"].(string)
	rt, err := w.box.Open(cat, sealed)
	if err != nil || rt == "" {
		t.Fatalf("the stored grant does not open: %v", err)
	}
	// It is a working refresh token…
	tok, err := (&oauth2.Config{ClientID: client, ClientSecret: "s3cret", Endpoint: w.g.Endpoint()}).TokenSource(w.ctx, &oauth2.Token{RefreshToken: rt}).Token()
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("the sealed refresh token does not work: %v", err)
	}
	// …and nowhere in the document in the clear.
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Interface, reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Map:
			for _, k := range v.MapKeys() {
				walk(v.MapIndex(k))
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.String:
			if strings.Contains(v.String(), rt) {
				t.Errorf("the user document holds the refresh token in plain text")
			}
		}
	}
	walk(reflect.ValueOf(doc))
	// Disconnect revokes it at Google and wipes it.
	if code, _ := post(t, b, w.url("/disconnect"), url.Values{"csrf": {w.csrf(t, b)}, "confirm": {"yes"}}); code != http.StatusSeeOther {
		t.Fatalf("disconnect: %d", code)
	}
	if _, err := (&oauth2.Config{ClientID: client, ClientSecret: "s3cret", Endpoint: w.g.Endpoint()}).TokenSource(w.ctx, &oauth2.Token{RefreshToken: rt}).Token(); err == nil {
		t.Error("the refresh token still works after disconnect")
	}
	if g, _ := w.raw("users/" + cat)["grant"].(map[string]any); g["sealedRefreshToken"] != nil && g["sealedRefreshToken"] != "" {
		t.Errorf("the grant was not wiped: %v", g)
	}
}

// Saving: field errors come back at once; a good form stores a new
// version waiting for approval, sends the confirmation and asks for the
// preview.
func TestSaveSettings(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	w.signIn(t, b, cat).Body.Close()
	token := w.csrf(t, b)
	// (The page shown again keeps the header's address and the status:
	// Save's refusal does not blank the user.)
	if code, body := post(t, b, w.url("/settings"), url.Values{"csrf": {token}, "contacts.direction": {"both"}}); code != http.StatusBadRequest || !strings.Contains(body, "connect Google first") ||
		!strings.Contains(body, "<span>"+cat+"</span>") || strings.Contains(body, `id="sync-state"></span>`) {
		t.Errorf("saving unconnected: %d %.300s", code, body)
	}
	w.connect(t, b, cat)
	bad := url.Values{"csrf": {token}, "contacts.direction": {"sideways"}, "contacts.scope": {"set"}, "calendar.direction": {"crm-to-google"},
		"calendar.contactAssociation": {"on"}, "mail.enabled": {"on"}, "calendar.name": {strings.Repeat("x", 201)}}
	code, body := post(t, b, w.url("/settings"), bad)
	for _, want := range []string{"sideways", "choose the CRM set", "contact e-mail association needs", "choose at least one header",
		// The list names fields by their labels and links to their errors,
		// which the fields point at; the chosen scope stays chosen.
		`href="#contacts.set-error">Set name</a>`, `id="contacts.set-error"`, `aria-invalid="true" aria-describedby="contacts.set-error"`,
		`value="set" checked`, `<span>` + cat + `</span>`,
		`id="calendar.name-error"`, `aria-invalid="true" aria-describedby="calendar.name-error"`, `href="#calendar.name-error">Calendar name</a>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the refused form lacks %q", want)
		}
	}
	if code != http.StatusBadRequest {
		t.Errorf("a bad form answered %d", code)
	}
	good := url.Values{"csrf": {token}, "contacts.direction": {"both"}, "contacts.scope": {"all"}, "calendar.direction": {"google-to-crm"},
		"mail.enabled": {"on"}, "mail.outgoing": {"To", "Cc"}, "mail.incoming": {"From"}, "mail.includeAttachments": {"on"}}
	if code, body := post(t, b, w.url("/settings"), good); code != http.StatusSeeOther {
		t.Fatalf("a good form answered %d %.300s", code, body)
	}
	u, _ := w.st.Users().Get(w.ctx, cat)
	if u.SettingsVersion != 1 || u.SyncState != store.PendingApproval || u.Contacts.Direction != "both" || !u.Mail.Enabled || !u.Mail.IncludeAttachments {
		t.Errorf("stored: %+v", u)
	}
	if len(w.jobs.Jobs) != 1 || w.jobs.Jobs[0] != `{"kind":"preview","user":"cat@firm.test","version":1}` {
		t.Errorf("jobs asked for: %v", w.jobs.Jobs)
	}
	gm, _ := gmail.NewService(w.ctx, option.WithEndpoint(w.g.URL()+"/"), option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: w.g.Token(cat, fakegoogle.ScopeGmailModify)})))
	list, err := gm.Users.Messages.List("me").Q("from:" + sender).Do()
	if err != nil || len(list.Messages) != 1 {
		t.Fatalf("the confirmation e-mail: %v, %v", list, err)
	}
	// It comes from the firm's app name, not from "CRM Sync".
	if m, err := gm.Users.Messages.Get("me", list.Messages[0].Id).Format("metadata").MetadataHeaders("From").Do(); err != nil || len(m.Payload.Headers) == 0 ||
		!strings.HasPrefix(m.Payload.Headers[0].Value, `"SmartOffice Sync"`) && !strings.HasPrefix(m.Payload.Headers[0].Value, "SmartOffice Sync") {
		t.Errorf("the confirmation's From: %+v, %v", m, err)
	}
	// Delete setup: back to the defaults, a new version (old previews void).
	if code, _ := post(t, b, w.url("/setup/delete"), url.Values{"csrf": {token}, "confirm": {"yes"}}); code != http.StatusSeeOther {
		t.Fatalf("delete setup: %d", code)
	}
	u, _ = w.st.Users().Get(w.ctx, cat)
	if u.SyncState != store.NotConfigured || u.SettingsVersion != 2 || u.Contacts.Direction != "" || u.Connection.State != store.Connected {
		t.Errorf("after delete: %+v", u)
	}
}

// Approve and Reject links carry no secret: they name the preview, send
// the user through sign-in, and act only for the user the preview belongs
// to, with the session's CSRF token. Used, expired, superseded and
// someone else's previews do nothing, say why, and the page offers no
// button for them; GET never acts.
func TestPreviewLinks(t *testing.T) {
	w := newWorld(t)
	b := w.connectedCat(t)
	token := w.csrf(t, b)
	save := func() int64 {
		if code, body := post(t, b, w.url("/settings"), url.Values{"csrf": {token}, "contacts.direction": {"both"}, "contacts.scope": {"all"}}); code != http.StatusSeeOther {
			t.Fatalf("saving: %d %.300s", code, body)
		}
		u, _ := w.st.Users().Get(w.ctx, cat)
		return u.SettingsVersion
	}
	newPreview := func(v int64) string {
		p, _, err := w.st.Previews().Create(w.ctx, store.Preview{User: cat, TenantID: "firm", SettingsVersion: v, Expires: w.clk.Now().Add(7 * 24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return p.ID
	}
	decide := func(b *http.Client, action, id string) (int, string) {
		return post(t, b, w.url("/preview/"+action), url.Values{"p": {id}, "csrf": {w.csrf(t, b)}})
	}
	state := func() store.SyncState { u, _ := w.st.Users().Get(w.ctx, cat); return u.SyncState }

	v1 := save()
	p1 := newPreview(v1)
	link := preview.LinkURL(w.url(""), p1, "approve")
	if strings.Contains(link, "t=") || !strings.Contains(link, "p=") {
		t.Fatalf("the link: %s", link)
	}
	// Opened in a browser that is not signed in: to sign-in first, and back
	// to the link afterwards.
	fresh := w.browser(t)
	resp, err := fresh.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	to, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || to.Query().Get("next") != "/preview/approve?p="+url.QueryEscape(p1) {
		t.Fatalf("an unsigned-in GET of the link: %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	back := w.viaGoogle(t, fresh, "/signin", url.Values{"email": {cat}, "next": {to.Query().Get("next")}}, cat)
	back.Body.Close()
	if got := back.Header.Get("Location"); got != "/Web/preview/approve?p="+url.QueryEscape(p1) {
		t.Fatalf("after sign-in the browser goes to %q", got)
	}
	// Posting without a session, or without its CSRF token, does nothing.
	if code, _ := post(t, w.browser(t), w.url("/preview/approve"), url.Values{"p": {p1}}); code != http.StatusUnauthorized || state() != store.PendingApproval {
		t.Errorf("a decision without a session: %d, state %s", code, state())
	}
	if code, _ := post(t, fresh, w.url("/preview/approve"), url.Values{"p": {p1}}); code != http.StatusForbidden || state() != store.PendingApproval {
		t.Errorf("a decision without the CSRF token: %d, state %s", code, state())
	}
	// GET shows a button and changes nothing.
	page := getPage(t, fresh, link)
	if !strings.Contains(page, `method="post"`) || !strings.Contains(page, `name="csrf"`) || !strings.Contains(page, "<strong>SmartOffice Sync</strong>") || state() != store.PendingApproval {
		t.Errorf("GET of the link: state %s, %.300s", state(), page)
	}
	// Another user of the firm, signed in, can neither see nor decide it.
	ann := w.browser(t)
	w.signIn(t, ann, "ann@firm.test").Body.Close()
	if code, body := decide(ann, "approve", p1); code != http.StatusForbidden || !strings.Contains(body, "another user") || state() != store.PendingApproval {
		t.Errorf("another user's decision: %d %.300s, state %s", code, body, state())
	}
	for name, c := range map[string]struct{ action, id, want string }{
		"no preview":      {"approve", "", "names no preview"},
		"unknown preview": {"approve", "cat@firm.test:99", "no such preview"},
	} {
		if code, body := decide(b, c.action, c.id); code != http.StatusBadRequest || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %.300s", name, code, body)
		}
	}
	if state() != store.PendingApproval {
		t.Fatalf("a refused decision changed the setup: %s", state())
	}
	// Superseded: saving again voids the older preview, and its page says
	// so instead of offering the button.
	v2 := save()
	if code, body := decide(b, "approve", p1); code != http.StatusBadRequest || !strings.Contains(body, "settings changed") {
		t.Errorf("superseded: %d %.300s", code, body)
	}
	if page := getPage(t, b, link); strings.Contains(page, `id="confirm"`) || !strings.Contains(page, "settings changed") {
		t.Errorf("the page of a superseded preview offers the button: %.400s", page)
	}
	p2 := newPreview(v2)
	// Used: approve works once; the reject link of the same preview is void.
	if code, body := decide(b, "approve", p2); code != 200 || state() != store.Active {
		t.Fatalf("approve: %d %.300s, state %s", code, body, state())
	}
	for name, c := range map[string]struct{ action, id string }{"approve again": {"approve", p2}, "reject after approve": {"reject", p2}, "old reject": {"reject", p1}} {
		if code, body := decide(b, c.action, c.id); code != http.StatusBadRequest {
			t.Errorf("%s: %d %.300s", name, code, body)
		}
	}
	if page := getPage(t, b, preview.LinkURL(w.url(""), p2, "reject")); strings.Contains(page, `id="confirm"`) || !strings.Contains(page, "already approved") {
		t.Errorf("the page of a used preview offers the button: %.400s", page)
	}
	if state() != store.Active {
		t.Errorf("after refused decisions the setup is %s", state())
	}
	if len(w.jobs.Jobs) < 3 || !strings.Contains(strings.Join(w.jobs.Jobs, " "), `"kind":"contact-sync"`) {
		t.Errorf("approval did not start the first passes: %v", w.jobs.Jobs)
	}
	// Expired.
	v3 := save()
	p3 := newPreview(v3)
	w.clk.Advance(8 * 24 * time.Hour)
	b = w.browser(t) // the old session expired too
	w.signIn(t, b, cat).Body.Close()
	if code, body := decide(b, "reject", p3); code != http.StatusBadRequest || !strings.Contains(body, "expired") {
		t.Errorf("expired: %d %.300s", code, body)
	}
	if state() != store.PendingApproval {
		t.Errorf("an expired preview changed the setup: %s", state())
	}
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

// When the mass-deletion guard stopped a contact pass, the settings page
// says why and the user confirms with one button; the pass runs at once.
func TestConfirmingGuardedDeletions(t *testing.T) {
	w := newWorld(t)
	b := w.connectedCat(t)
	token := w.csrf(t, b)
	if code, body := post(t, b, w.url("/contacts/confirm-deletions"), url.Values{"csrf": {token}}); code != http.StatusBadRequest || !strings.Contains(body, "no contact sync is waiting") {
		t.Errorf("confirming with nothing waiting: %d %.200s", code, body)
	}
	w.st.Users().Update(w.ctx, cat, func(u *store.User) error {
		u.Attention = contactsync.AttentionPrefix + "it would delete 40 of 50 CRM contacts."
		return nil
	})
	var v struct {
		Status                  setup.Status
		ContactDeletionsWaiting bool
	}
	w.getJSON(t, b, "/settings", &v)
	if !v.ContactDeletionsWaiting || !strings.Contains(v.Status.Attention, "40 of 50") {
		t.Errorf("the settings page does not show the stopped pass: %+v", v)
	}
	if code, _ := post(t, b, w.url("/contacts/confirm-deletions"), url.Values{"csrf": {token}}); code != http.StatusSeeOther {
		t.Fatalf("confirming: %d", code)
	}
	u, _ := w.st.Users().Get(w.ctx, cat)
	if !u.Contacts.ConfirmedDeletes || len(w.jobs.Jobs) == 0 || w.jobs.Jobs[len(w.jobs.Jobs)-1] != `{"kind":"contact-sync","user":"cat@firm.test"}` {
		t.Errorf("after confirming: confirmed %v, jobs %v", u.Contacts.ConfirmedDeletes, w.jobs.Jobs)
	}
}

// No request of one user reads or changes another's data: an admin of
// another firm sees none of this firm's users and cannot change their
// rights; a user cannot resolve another user's review item.
func TestTenantsAndUsersAreIsolated(t *testing.T) {
	w := newWorld(t)
	z := w.browser(t)
	w.signIn(t, z, zed).Body.Close()
	var v struct {
		Users []setup.Status
		CSRF  string
	}
	if code := w.getJSON(t, z, "/admin", &v); code != 200 {
		t.Fatalf("zed's admin page: %d", code)
	}
	for _, u := range v.Users {
		if !strings.HasSuffix(u.Email, "@other.test") {
			t.Errorf("another firm's admin sees %s", u.Email)
		}
	}
	if code, _ := post(t, z, w.url("/admin/rights"), url.Values{"csrf": {v.CSRF}, "email": {dora}, "enabled": {"true"}}); code != http.StatusForbidden {
		t.Errorf("another firm's admin changing a right: %d, want 403", code)
	}
	if cu, _ := w.crm.UserByEmail(w.ctx, dora); cu.IntegrationEnabled {
		t.Error("another firm's admin granted a right")
	}

	b := w.connectedCat(t)
	a := w.browser(t)
	w.signIn(t, a, ann).Body.Close()
	catCRM, _ := w.crm.UserByEmail(w.ctx, cat)
	co, err := w.crm.CreateClient(w.ctx, crm.Write{IdempotencyKey: "c1"}, crm.Client{Name: "Co"})
	if err != nil {
		t.Fatal(err)
	}
	home, _ := w.crm.CreateClient(w.ctx, crm.Write{IdempotencyKey: "c2"}, crm.Client{Name: "Home"})
	act, err := w.crm.CreateEmailActivity(w.ctx, crm.Write{AsUser: catCRM.ID, IdempotencyKey: "a1"}, crm.EmailActivity{ClientID: co.ID, Owner: catCRM.ID,
		NeedsReview: true, Candidates: []string{home.ID}, Reason: "most matched addresses", Email: crm.Email{Subject: "Plans", From: "carol@client.test", Date: w.clk.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	var annQueue setup.Review
	w.getJSON(t, a, "/review", &annQueue)
	if len(annQueue.Items) != 0 {
		t.Errorf("ann sees cat's review items: %+v", annQueue.Items)
	}
	if code, _ := post(t, a, w.url("/review/"+act.ID), url.Values{"csrf": {w.csrf(t, a)}, "client": {home.ID}}); code != http.StatusForbidden {
		t.Errorf("ann resolving cat's item: %d, want 403", code)
	}
	var catQueue setup.Review
	w.getJSON(t, b, "/review", &catQueue)
	if len(catQueue.Items) != 1 || catQueue.Items[0].Suggested.Name != "Co" {
		t.Fatalf("cat's queue: %+v", catQueue.Items)
	}
	if code, _ := post(t, b, w.url("/review/"+act.ID), url.Values{"csrf": {w.csrf(t, b)}, "client": {home.ID}}); code != http.StatusSeeOther {
		t.Errorf("cat reassigning her item: %d", code)
	}
	got, _ := w.crm.EmailActivity(w.ctx, act.ID)
	if got.ClientID != home.ID || got.NeedsReview {
		t.Errorf("after cat's reassignment: %+v", got)
	}
	if code, _ := post(t, b, w.url("/review/"+act.ID), url.Values{"csrf": {w.csrf(t, b)}, "client": {co.ID}}); code != http.StatusConflict {
		t.Errorf("resolving twice: %d, want 409", code)
	}
}

// getPage reads a page as a browser does.
func getPage(t *testing.T, b *http.Client, u string) string {
	t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

type sentMail struct {
	mu  sync.Mutex
	msg []notify.Message
}

func (s *sentMail) Send(_ context.Context, m notify.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msg = append(s.msg, m)
	return nil
}

// An operator's mistake is not the users': with the OAuth client's secret
// wrong (Google answers invalid_client) or the token-encryption key
// replaced (no stored grant opens), a user's mail pass stops, but the
// user stays connected, nobody is e-mailed to reconnect, the message is
// not marked Failed, and the admin page says what to fix. Once fixed, the
// next pass does the work. A grant the user revoked still disconnects.
func TestAConfigurationFaultDisconnectsNobody(t *testing.T) {
	w := newWorld(t)
	w.connectedCat(t)
	if _, err := w.st.Users().Update(w.ctx, cat, func(u *store.User) error {
		u.Mail.Enabled, u.SyncState = true, store.Active
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	mails := &sentMail{}
	lost := &reconnect.Handler{Store: w.st, Sender: mails, WebURL: w.url(""), Clock: w.clk, Log: logging.Discard()}
	right := &connect.Flow{Store: w.st, Box: w.box, ClientSecret: "s3cret", Endpoint: w.g.Endpoint(), Clock: w.clk}
	pass := func(flow *connect.Flow) (mailbox.Result, error) {
		tokens := w.grantTokens(flow)
		e := &mailbox.Engine{Store: w.st, CRM: w.crm, Log: logging.Discard(), Clock: w.clk, Topic: "projects/p/topics/gmail-notifications",
			Holder: "test", Lost: lost, Google: &workspace.Factory{Tokens: tokens, Endpoint: w.g.URL()},
			Retry: workspace.Retry{Attempts: 2, Sleep: func(context.Context, time.Duration) error { return nil }}}
		return e.Process(w.ctx, cat)
	}

	otherKey := make([]byte, 32)
	rand.Read(otherKey)
	otherBox, _ := tokencrypt.New([]byte(base64.StdEncoding.EncodeToString(otherKey)))
	for _, fault := range []struct {
		name string
		flow *connect.Flow
		says string
	}{
		{"the client secret is wrong", &connect.Flow{Store: w.st, Box: w.box, ClientSecret: "rotated-elsewhere", Endpoint: w.g.Endpoint(), Clock: w.clk}, "invalid_client"},
		{"the token key was replaced", &connect.Flow{Store: w.st, Box: otherBox, ClientSecret: "s3cret", Endpoint: w.g.Endpoint(), Clock: w.clk}, "token-encryption key"},
	} {
		if _, err := pass(fault.flow); err != nil {
			t.Errorf("%s: the pass must be acknowledged (the next one does the work): %v", fault.name, err)
		}
		u, _ := w.st.Users().Get(w.ctx, cat)
		if u.Connection.State != store.Connected || u.Attention != "" {
			t.Errorf("%s: Cat was disconnected for it: %+v, attention %q", fault.name, u.Connection, u.Attention)
		}
		if p := u.Passes["mail"]; p.OK || !strings.Contains(p.Error, fault.says) {
			t.Errorf("%s: Cat's mail pass shows %+v", fault.name, p)
		}
	}
	if len(mails.msg) != 0 {
		t.Errorf("reconnect e-mails were sent for the operator's mistake: %d", len(mails.msg))
	}

	// The admin sees both problems, with what to fix and whom they stopped.
	admin := w.browser(t)
	w.signIn(t, admin, ann).Body.Close()
	var v struct{ Problems []store.Problem }
	if code := w.getJSON(t, admin, "/admin", &v); code != http.StatusOK || len(v.Problems) != 2 {
		t.Fatalf("admin page: %d, problems %+v", code, v.Problems)
	}
	all := v.Problems[0].Message + v.Problems[1].Message
	for _, fix := range []string{"oauth-client-secret", "token-encryption-key"} {
		if !strings.Contains(all, fix) {
			t.Errorf("the problems do not say to fix %s: %+v", fix, v.Problems)
		}
	}
	if !slices.Contains(v.Problems[0].Users, cat) {
		t.Errorf("the problem does not name Cat: %+v", v.Problems[0])
	}
	resp, err := admin.Get(w.url("/admin"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "Needs your attention") || !strings.Contains(string(page), "invalid_client") {
		t.Errorf("the admin page does not show the problems")
	}

	// Fixed: the pass works, and Cat never had to do anything.
	if _, err := pass(right); err != nil {
		t.Fatalf("after the fix: %v", err)
	}
	if u, _ := w.st.Users().Get(w.ctx, cat); !u.Passes["mail"].OK {
		t.Errorf("after the fix: %+v", u.Passes["mail"])
	}
	// Whereas a grant Cat revoked is Cat's to renew.
	w.g.RevokeUser(cat)
	if _, err := pass(right); err != nil {
		t.Fatal(err)
	}
	if u, _ := w.st.Users().Get(w.ctx, cat); u.Connection.State != store.Disconnected || len(mails.msg) != 1 {
		t.Errorf("after Cat revoked: %+v, %d e-mails", u.Connection, len(mails.msg))
	}
}

// Granular consent: Cat unticks Gmail on Google's consent page. She is
// told Google is connected without it, her status says what waits, her
// mail passes make no Gmail call (no 403 loop, no disconnection, no
// reconnect e-mail), and one click asks Google for Gmail alone, keeping
// the rest (incremental authorization).
func TestUntickingGmailOnGooglesPage(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	w.signIn(t, b, cat).Body.Close()
	resp, err := b.PostForm(w.url("/connect"), url.Values{"csrf": {w.csrf(t, b)}, "feature": {"mail", "contacts", "calendar"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := fakegoogle.ConsentGranting(resp.Header.Get("Location"), cat, []string{workspace.PeopleScopes()[0], workspace.CalendarScopes()[0]})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err = b.Get(back.String()); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); !strings.Contains(loc, "done=connected-partly") {
		t.Fatalf("after unticking Gmail: %d → %s", resp.StatusCode, loc)
	}
	var v struct{ Status setup.Status }
	w.getJSON(t, b, "/settings", &v)
	if v.Status.Connection != store.Connected || !slices.Equal(v.Status.NeedsAccess, []string{"mail"}) {
		t.Errorf("status %+v, want connected, needing access to mail", v.Status)
	}
	resp, err = b.Get(w.url("/settings"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "Needs access to Gmail") || !strings.Contains(string(page), `id="give-access"`) {
		t.Errorf("the settings page does not say Gmail access is missing:\n%.2000s", page)
	}

	// Her mail pass does nothing with Gmail and blames nobody.
	if _, err := w.st.Users().Update(w.ctx, cat, func(u *store.User) error {
		u.Mail.Enabled, u.SyncState = true, store.Active
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	flow := &connect.Flow{Store: w.st, Box: w.box, ClientSecret: "s3cret", Endpoint: w.g.Endpoint(), Clock: w.clk}
	tokens := func(ctx context.Context, email string, scopes []string) (oauth2.TokenSource, error) {
		u, _ := w.st.Users().Get(ctx, email)
		tn, _ := w.st.Tenants().Get(ctx, u.TenantID)
		return flow.Tokens(ctx, u, tn, scopes)
	}
	mails := &sentMail{}
	e := &mailbox.Engine{Store: w.st, CRM: w.crm, Log: logging.Discard(), Clock: w.clk, Topic: "projects/p/topics/gmail-notifications", Holder: "test",
		Lost: &reconnect.Handler{Store: w.st, Sender: mails, Clock: w.clk, Log: logging.Discard()}, Google: &workspace.Factory{Tokens: tokens, Endpoint: w.g.URL()}}
	if _, err := e.Process(w.ctx, cat); err != nil {
		t.Fatal(err)
	}
	calls := 0
	for m, u := range w.g.Usage(cat) {
		if strings.HasPrefix(m, "gmail.") {
			calls += u.Calls
		}
	}
	if u, _ := w.st.Users().Get(w.ctx, cat); calls != 0 || u.Connection.State != store.Connected || len(mails.msg) != 0 {
		t.Errorf("a mail pass without Gmail access: %d Gmail calls, connection %s, %d e-mails", calls, u.Connection.State, len(mails.msg))
	}

	// One click: Google is asked for Gmail alone, and the grant keeps the rest.
	resp, err = b.PostForm(w.url("/connect"), url.Values{"csrf": {w.csrf(t, b)}, "feature": {"mail"}, "incremental": {"1"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	to, _ := url.Parse(resp.Header.Get("Location"))
	if q := to.Query(); q.Get("include_granted_scopes") != "true" || strings.Contains(q.Get("scope"), "contacts") {
		t.Errorf("the second request asks for %q (include_granted_scopes=%s), want Gmail only, incrementally", q.Get("scope"), q.Get("include_granted_scopes"))
	}
	back, err = fakegoogle.Consent(to.String(), cat, true)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err = b.Get(back.String()); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); !strings.Contains(loc, "done=connected") || strings.Contains(loc, "partly") {
		t.Errorf("after giving Gmail: %s", loc)
	}
	v.Status = setup.Status{}
	w.getJSON(t, b, "/settings", &v)
	u, _ := w.st.Users().Get(w.ctx, cat)
	if len(v.Status.NeedsAccess) != 0 || !u.Granted(slices.Concat(workspace.GmailScopes(), workspace.PeopleScopes(), workspace.CalendarScopes())) {
		t.Errorf("after giving Gmail: needs %v, granted %v", v.Status.NeedsAccess, u.Grant.Scopes)
	}
}

// Gmail's daily sending limit for the system sender answers 429 for hours.
// Cat's setup confirmation is then not lost: the save succeeds, the e-mail
// waits in the outbox, the admin page shows it waiting, and the
// system-mail job sends it once Gmail takes mail again.
func TestSystemMailOverTheSendingLimitWaitsAndIsSent(t *testing.T) {
	w := newWorld(t)
	queue := &notify.Queue{Next: w.h.Setup.Sender, Store: w.st, Clock: w.clk, Log: logging.Discard()}
	w.h.Setup.Sender = queue
	w.g.SetSendLimitPerDay(1)
	if err := queue.Send(w.ctx, notify.Message{To: ann, Subject: "earlier today", Text: "x"}); err != nil {
		t.Fatal(err)
	}
	b := w.browser(t)
	w.signIn(t, b, cat).Body.Close()
	w.connect(t, b, cat)
	good := url.Values{"csrf": {w.csrf(t, b)}, "contacts.direction": {"both"}, "contacts.scope": {"all"}}
	if code, body := post(t, b, w.url("/settings"), good); code != http.StatusSeeOther {
		t.Fatalf("saving over the sending limit answered %d %.300s", code, body)
	}
	inbox := func() int {
		gm, _ := gmail.NewService(w.ctx, option.WithEndpoint(w.g.URL()+"/"), option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: w.g.Token(cat, fakegoogle.ScopeGmailModify)})))
		list, err := gm.Users.Messages.List("me").Q("from:" + sender).Do()
		if err != nil {
			t.Fatal(err)
		}
		return len(list.Messages)
	}
	if n := inbox(); n != 0 {
		t.Fatalf("%d e-mails reached Cat over the limit", n)
	}
	admin := w.browser(t)
	w.signIn(t, admin, ann).Body.Close()
	var v struct {
		Waiting []struct {
			To, Subject, LastError string
			NextAttempt            time.Time
		} `json:"waitingMail"`
	}
	w.getJSON(t, admin, "/admin", &v)
	if len(v.Waiting) != 1 || v.Waiting[0].To != cat || !strings.Contains(v.Waiting[0].LastError, "User-rate limit exceeded") {
		t.Fatalf("the admin page shows waiting %+v", v.Waiting)
	}
	if v.Waiting[0].NextAttempt.Before(w.clk.Now().Add(23 * time.Hour)) {
		t.Errorf("next attempt %v: Gmail named the time sending works again, a day on", v.Waiting[0].NextAttempt)
	}

	// The system-mail job before Gmail takes mail again: nothing due.
	pub := &jobstest.Recorder{}
	if n, err := jobs.Dispatch(w.ctx, w.st, pub, jobs.SystemMail); err != nil || n != 0 {
		t.Errorf("dispatch before the time: %d, %v", n, err)
	}
	w.clk.Advance(24*time.Hour + time.Minute)
	if n, err := jobs.Dispatch(w.ctx, w.st, pub, jobs.SystemMail); err != nil || n != 1 {
		t.Fatalf("dispatch after a day: %d, %v", n, err)
	}
	if err := jobs.Run(w.ctx, jobs.Job{Kind: jobs.SystemMail, User: cat}, jobs.Engines{SystemMail: queue}); err != nil {
		t.Fatal(err)
	}
	if n := inbox(); n != 1 {
		t.Errorf("after the system-mail job Cat has %d e-mails, want the confirmation", n)
	}
	v.Waiting = nil
	w.getJSON(t, admin, "/admin", &v)
	if len(v.Waiting) != 0 {
		t.Errorf("still waiting: %+v", v.Waiting)
	}
}

// Office-level impersonation, end to end through the pages an admin and a
// user see: the admin switches the firm to it; a user who signs in is
// connected at once, with nothing to connect, and saves settings. When her
// Workspace account is suspended, acting for her fails: she is marked
// disconnected without an e-mail she could do nothing about, and as soon as
// her account is restored the next mail-sweep tick connects her again and
// renews her Gmail watch, without anyone doing anything.
func TestOfficeLevelImpersonation(t *testing.T) {
	w := newWorld(t)
	key, clientID, err := w.g.AddServiceAccount("crmsync-delegation@p.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	w.g.AuthorizeDelegation(clientID, workspace.DelegationScopes()...)
	tokens := workspace.Delegated(key, w.g.URL()+"/token", w.clk)
	google := &workspace.Factory{Tokens: tokens, Endpoint: w.g.URL()}
	w.h.Google = google

	admin := w.browser(t)
	w.signIn(t, admin, ann).Body.Close()
	var av struct {
		Office setup.Office
		CSRF   string
	}
	w.getJSON(t, admin, "/admin", &av)
	office := url.Values{"csrf": {av.CSRF}, "appName": {av.Office.AppName}, "oauthClientId": {av.Office.OAuthClientID},
		"attachmentLimitMB": {fmt.Sprint(av.Office.AttachmentLimitMB)}, "labelName": {av.Office.LabelName}, "authMode": {"delegation"},
		"allowAllContacts": {"on"}, "autoMailSync": {"on"}}
	if code, body := post(t, admin, w.url("/admin/office"), office); code != http.StatusSeeOther {
		t.Fatalf("switching to office-level impersonation: %d %.300s", code, body)
	}

	b := w.browser(t)
	w.signIn(t, b, cat).Body.Close()
	var v struct {
		Status setup.Status
		CSRF   string
	}
	w.getJSON(t, b, "/settings", &v)
	if v.Status.Connection != store.Connected {
		t.Errorf("Cat under impersonation: %s, want connected at once", v.Status.Connection)
	}
	resp, err := b.Get(w.url("/settings"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "There is nothing to connect") || strings.Contains(string(page), `id="connect"`) {
		t.Errorf("the settings page under impersonation offers to connect:\n%.1500s", page)
	}
	if code, body := post(t, b, w.url("/connect"), url.Values{"csrf": {v.CSRF}, "feature": {"mail"}}); code != http.StatusBadRequest || !strings.Contains(body, "nothing to connect") {
		t.Errorf("connecting under impersonation: %d %.200s", code, body)
	}
	if code, body := post(t, b, w.url("/settings"), url.Values{"csrf": {v.CSRF}, "contacts.direction": {"both"}, "contacts.scope": {"all"},
		"mail.enabled": {"on"}, "mail.outgoing": {"To"}, "mail.incoming": {"From"}}); code != http.StatusSeeOther {
		t.Fatalf("saving settings under impersonation: %d %.300s", code, body)
	}
	if _, err := w.st.Users().Update(w.ctx, cat, func(u *store.User) error { u.SyncState = store.Active; return nil }); err != nil {
		t.Fatal(err) // as approving the preview does
	}

	mails := &sentMail{}
	lost := &reconnect.Handler{Store: w.st, Sender: mails, Tokens: tokens, Clock: w.clk, Log: logging.Discard()}
	mail := &mailbox.Engine{Store: w.st, CRM: w.crm, Log: logging.Discard(), Clock: w.clk, Topic: "projects/p/topics/gmail-notifications",
		Holder: "test", Lost: lost, Google: google, Retry: workspace.Retry{Attempts: 2, Sleep: func(context.Context, time.Duration) error { return nil }}}
	if _, err := mail.Process(w.ctx, cat); err != nil {
		t.Fatalf("a mail pass under impersonation: %v", err)
	}

	w.g.SuspendUser(cat, true)
	if _, err := mail.Process(w.ctx, cat); err != nil {
		t.Fatal(err)
	}
	u, _ := w.st.Users().Get(w.ctx, cat)
	if u.Connection.State != store.Disconnected || !strings.Contains(u.Attention, "resumes by itself") || len(mails.msg) != 0 {
		t.Fatalf("after the suspension: %+v, attention %q, %d e-mails", u.Connection, u.Attention, len(mails.msg))
	}
	tick := func() bool {
		pub := &jobstest.Recorder{}
		if _, err := jobs.Dispatch(w.ctx, w.st, pub, jobs.MailSweep); err != nil {
			t.Fatal(err)
		}
		want := `{"kind":"access-check","user":"cat@firm.test"}`
		if !slices.Contains(pub.Jobs, want) {
			t.Fatalf("the mail-sweep tick published %v, want %s", pub.Jobs, want)
		}
		if err := jobs.Run(w.ctx, jobs.Job{Kind: jobs.AccessCheck, User: cat}, jobs.Engines{Access: lost, Mail: mail}); err != nil {
			t.Fatal(err)
		}
		u, _ := w.st.Users().Get(w.ctx, cat)
		return u.Connection.State == store.Connected
	}
	if tick() {
		t.Fatal("connected again while still suspended")
	}
	w.g.SuspendUser(cat, false)
	if !tick() {
		t.Fatal("not connected again after the account was restored")
	}
	u, _ = w.st.Users().Get(w.ctx, cat)
	if u.Attention != "" || u.Mail.WatchExpiration.IsZero() {
		t.Errorf("after restoring: attention %q, watch %v", u.Attention, u.Mail.WatchExpiration)
	}
	if _, err := mail.Process(w.ctx, cat); err != nil {
		t.Errorf("a mail pass after restoring: %v", err)
	}
}

// The first requests of a fresh instance arrive at once (Cloud Functions
// serves concurrently): the handler builds its routes once, without a
// race (this test fails under -race when it does not).
func TestFirstRequestsAtOnce(t *testing.T) {
	w := newWorld(t)
	h := &web.Handler{Setup: w.h.Setup, Sessions: w.h.Sessions, SignIn: w.h.SignIn, Flow: w.h.Flow, Previews: w.h.Previews,
		Store: w.h.Store, Log: w.h.Log, BasePath: "/Web"}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/Web/", nil))
			if rec.Code >= 500 {
				t.Errorf("first request answered %d", rec.Code)
			}
		})
	}
	wg.Wait()
}

// Anyone can make a personal Google account with an address of the firm's
// domain: its id_token has no hd claim. Sign-in admits only the firm's
// Workspace accounts.
func TestSignInRequiresAWorkspaceAccountOfTheFirm(t *testing.T) {
	w := newWorld(t)
	const mallory = "mallory@firm.test"
	if err := w.g.AddUser(fakegoogle.User{Email: mallory, Consumer: true}); err != nil {
		t.Fatal(err)
	}
	b := w.browser(t)
	resp := w.signIn(t, b, mallory)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "Google Workspace account") {
		t.Errorf("a personal account with the firm's address: %d %.300s", resp.StatusCode, body)
	}
	if code := w.getJSON(t, b, "/settings", &struct{}{}); code != http.StatusUnauthorized {
		t.Errorf("after the refused sign-in, /settings answered %d, want 401", code)
	}
	// The firm's Workspace accounts still sign in.
	resp = w.signIn(t, w.browser(t), cat)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a Workspace account of the firm: %d", resp.StatusCode)
	}
}

// Every function of a project shares one cloudfunctions.net host: the
// session and sign-in cookies are scoped to the Web function's path, so
// the browser sends them to no other function.
func TestCookiesAreScopedToTheWebFunction(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	first, back := w.startSignIn(t, b, cat)
	cookies := first.Cookies()
	resp, err := b.Get(back.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies = append(cookies, resp.Cookies()...)
	seen := map[string]bool{}
	for _, c := range cookies {
		seen[c.Name] = true
		if c.Path != "/Web" {
			t.Errorf("cookie %s has Path %q, want the Web function's /Web", c.Name, c.Path)
		}
	}
	if !seen["crmsync_session"] || !seen["crmsync_signin"] {
		t.Errorf("cookies set: %v", seen)
	}
}

// Sign-out ends every session of the user, on every device (a stolen
// cookie stops working too), not only this browser's cookie. Withdrawing
// a user's right ends their sessions, stops every sync of theirs at the
// next pass and tick, and the admin page says so; giving it back lets
// them in again and sync goes on.
func TestSessionsEndOnTheServer(t *testing.T) {
	w := newWorld(t)
	laptop, phone := w.browser(t), w.browser(t)
	w.signIn(t, laptop, cat).Body.Close()
	w.signIn(t, phone, cat).Body.Close()
	w.clk.Advance(time.Second)
	if code, _ := post(t, laptop, w.url("/signout"), url.Values{"csrf": {w.csrf(t, laptop)}}); code != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", code)
	}
	if code := w.getJSON(t, phone, "/settings", &struct{}{}); code != http.StatusUnauthorized {
		t.Errorf("the phone's session after signing out on the laptop: %d, want 401", code)
	}
	w.clk.Advance(time.Second)
	w.signIn(t, phone, cat).Body.Close()
	if code := w.getJSON(t, phone, "/settings", &struct{}{}); code != http.StatusOK {
		t.Errorf("signing in again: %d", code)
	}
	w.connect(t, phone, cat)
	if _, err := w.st.Users().Update(w.ctx, cat, func(u *store.User) error {
		u.SyncState, u.Contacts.Direction, u.Mail.Enabled = store.Active, "both", true
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	admin := w.browser(t)
	w.signIn(t, admin, ann).Body.Close()
	w.clk.Advance(time.Second)
	token := w.csrf(t, admin)
	if code, body := post(t, admin, w.url("/admin/rights"), url.Values{"csrf": {token}, "email": {cat}, "enabled": {"false"}, "confirm": {"yes"}}); code != http.StatusSeeOther {
		t.Fatalf("withdrawing the right: %d %.200s", code, body)
	}
	if code := w.getJSON(t, phone, "/settings", &struct{}{}); code != http.StatusForbidden {
		t.Errorf("Cat's session after the right was withdrawn: %d, want 403", code)
	}
	pub := &jobstest.Recorder{}
	if _, err := jobs.Dispatch(w.ctx, w.st, pub, jobs.ContactSync); err != nil {
		t.Fatal(err)
	}
	for _, j := range pub.Jobs {
		if strings.Contains(j, cat) {
			t.Errorf("a contact-sync job for Cat after the right was withdrawn: %s", j)
		}
	}
	mail := &mailbox.Engine{Store: w.st, CRM: w.crm, Log: logging.Discard(), Clock: w.clk, Topic: "projects/p/topics/gmail-notifications", Holder: "test",
		Google: &workspace.Factory{Tokens: w.g.Tokens, Endpoint: w.g.URL()}}
	before := w.g.Usage(cat)["gmail.users.labels.list"].Calls
	if _, err := mail.Process(w.ctx, cat); err != nil {
		t.Fatal(err)
	}
	if w.g.Usage(cat)["gmail.users.labels.list"].Calls != before {
		t.Error("a mail pass ran for Cat after the right was withdrawn")
	}
	var v struct{ Users []setup.Status }
	w.getJSON(t, admin, "/admin", &v)
	for _, u := range v.Users {
		if u.Email == cat && !strings.Contains(u.Attention, "withdrawn") {
			t.Errorf("the admin page shows Cat as %+v", u)
		}
	}

	// Given back: Cat signs in, and her sync is dispatched again.
	if code, _ := post(t, admin, w.url("/admin/rights"), url.Values{"csrf": {token}, "email": {cat}, "enabled": {"true"}}); code != http.StatusSeeOther {
		t.Fatal("giving the right back failed")
	}
	w.clk.Advance(time.Second)
	again := w.browser(t)
	if resp := w.signIn(t, again, cat); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("signing in after the right was given back: %d", resp.StatusCode)
	}
	pub = &jobstest.Recorder{}
	if _, err := jobs.Dispatch(w.ctx, w.st, pub, jobs.ContactSync); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(pub.Jobs, func(j string) bool { return strings.Contains(j, cat) }) {
		t.Errorf("no contact-sync job for Cat after the right was given back: %v", pub.Jobs)
	}
}

// Error pages say what to do in fixed, human words; what Google's token
// endpoint or the store answered stays in the log.
func TestErrorPagesShowNoInternalText(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	w.signIn(t, b, cat).Body.Close()
	resp, err := b.PostForm(w.url("/connect"), url.Values{"csrf": {w.csrf(t, b)}, "feature": {"contacts"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	to, _ := url.Parse(resp.Header.Get("Location"))
	// Google sends the browser back with a code its token endpoint refuses
	// (used, or forged).
	back := w.url("/connect/callback") + "?state=" + url.QueryEscape(to.Query().Get("state")) + "&code=4/not-a-code"
	resp, err = b.Get(back)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, internal := range []string{"oauth2:", "invalid_grant", "Malformed auth code", "code exchange", "rpc error"} {
		if strings.Contains(string(page), internal) {
			t.Errorf("the error page shows %q:\n%.1500s", internal, page)
		}
	}
	if !strings.Contains(string(page), "Connect Google again") {
		t.Errorf("the error page does not say what to do:\n%.1500s", page)
	}
	// An unknown page is the site's own page, headed in words.
	resp, err = b.Get(w.url("/no/such/page"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || strings.Contains(string(page), "404 page not found") || !strings.Contains(string(page), "<h1>Not found</h1>") {
		t.Errorf("an unknown path: %d\n%.800s", resp.StatusCode, page)
	}
}

// Disconnecting Google and deleting the setup also end the user's other
// sessions (a stolen cookie is shut out); the browser doing it stays
// signed in with a new cookie.
func TestDisconnectingEndsTheOtherSessions(t *testing.T) {
	w := newWorld(t)
	laptop, phone := w.browser(t), w.browser(t)
	w.signIn(t, laptop, cat).Body.Close()
	w.connect(t, laptop, cat)
	w.signIn(t, phone, cat).Body.Close()
	for _, step := range []struct{ path, done string }{{"/disconnect", "disconnected"}, {"/setup/delete", "deleted"}} {
		w.clk.Advance(time.Second)
		if code, _ := post(t, laptop, w.url(step.path), url.Values{"csrf": {w.csrf(t, laptop)}, "confirm": {"yes"}}); code != http.StatusSeeOther {
			t.Fatalf("%s: %d", step.path, code)
		}
		if code := w.getJSON(t, phone, "/settings", &struct{}{}); code != http.StatusUnauthorized {
			t.Errorf("after %s on the laptop, the phone's session answered %d, want 401", step.path, code)
		}
		if code := w.getJSON(t, laptop, "/settings", &struct{}{}); code != http.StatusOK {
			t.Errorf("after %s, the laptop itself answered %d, want 200", step.path, code)
		}
		w.clk.Advance(time.Second)
		w.signIn(t, phone, cat).Body.Close()
	}
}

// A user set up before the settings page existed (Ann: options stored, no
// settings version) opens the page and sees what runs for her; the page's
// checkboxes and selects carry it, so saving with one option changed keeps
// the rest.
func TestTheSettingsPageShowsWhatRunsForUsersSetUpBeforeIt(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	w.signIn(t, b, ann).Body.Close()
	if _, err := w.st.Users().Update(w.ctx, ann, func(u *store.User) error {
		u.SettingsVersion, u.SyncState = 0, store.Active
		u.Mail = store.MailSetup{Enabled: true, Incoming: []string{"From"}, Outgoing: []string{"To"}}
		u.Contacts = store.ContactsSetup{Direction: "both", CreateType: "contact", OnGoogleDelete: "delete"}
		u.Calendar = store.CalendarSetup{Direction: "google-to-crm"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var v struct {
		Settings struct {
			Mail     struct{ Enabled bool }
			Contacts struct{ Direction string }
			Calendar struct{ Direction string }
		}
	}
	w.getJSON(t, b, "/settings", &v)
	if !v.Settings.Mail.Enabled || v.Settings.Contacts.Direction != "both" || v.Settings.Calendar.Direction != "google-to-crm" {
		t.Errorf("the settings shown: %+v", v.Settings)
	}
	page := getPage(t, b, w.url("/settings"))
	for _, want := range []string{`id="mail.enabled" checked`, `value="both" selected`} {
		if !strings.Contains(strings.ReplaceAll(page, "\n", " "), want) {
			t.Errorf("the page does not carry %q", want)
		}
	}
}

// Disconnecting Google, deleting the setup and withdrawing a right cannot
// be undone, so the first press asks: a page that says what happens and
// what does not, with the button that does it and a Cancel. Nothing
// changes until it is pressed.
func TestDestructiveActionsAskFirst(t *testing.T) {
	w := newWorld(t)
	b := w.connectedCat(t)
	admin := w.browser(t)
	w.signIn(t, admin, ann).Body.Close()
	adminCSRF := w.csrf(t, admin)
	state := func() store.User { u, _ := w.st.Users().Get(w.ctx, cat); return u }
	for _, c := range []struct {
		name    string
		admin   bool
		path    string
		form    url.Values
		says    string
		changed func(store.User) bool
	}{
		{"disconnect", false, "/disconnect", url.Values{}, "Nothing is deleted in Google or in the CRM", func(u store.User) bool { return u.Connection.State != store.Connected }},
		{"withdraw", true, "/admin/rights", url.Values{"email": {cat}, "enabled": {"false"}}, "sessions end at once", func(u store.User) bool { return u.RightWithdrawn }},
		{"delete setup", false, "/setup/delete", url.Values{}, "nothing is deleted in Google or in the CRM", func(u store.User) bool { return u.SyncState == store.NotConfigured && u.SettingsVersion > 0 }},
	} {
		browser, csrf := admin, adminCSRF
		if !c.admin {
			browser, csrf = b, w.csrf(t, b)
		}
		c.form.Set("csrf", csrf)
		code, page := post(t, browser, w.url(c.path), c.form)
		if code != http.StatusOK || !strings.Contains(page, c.says) || !strings.Contains(page, `id="cancel"`) || !strings.Contains(page, `name="confirm" value="yes"`) || c.changed(state()) {
			t.Errorf("%s, first press: %d, changed %v\n%.600s", c.name, code, c.changed(state()), page)
		}
		if c.name == "withdraw" && !strings.Contains(page, `name="email" value="`+cat+`"`) {
			t.Errorf("the withdraw confirmation does not carry the user: %.600s", page)
		}
		c.form.Set("confirm", "yes")
		if code, _ := post(t, browser, w.url(c.path), c.form); code != http.StatusSeeOther || !c.changed(state()) {
			t.Errorf("%s, confirmed: %d, changed %v", c.name, code, c.changed(state()))
		}
		if c.name == "withdraw" {
			// Give it back, and sign Cat in again, for the next step.
			post(t, admin, w.url("/admin/rights"), url.Values{"csrf": {adminCSRF}, "email": {cat}, "enabled": {"true"}})
			b = w.browser(t)
			w.signIn(t, b, cat).Body.Close()
		}
	}
}

// The settings page says what the user's last labeled messages came to,
// and why a message failed or went unmatched, with a link to it in Gmail:
// the reason is no longer only in the operator's log.
func TestTheSettingsPageShowsWhyMessagesFailed(t *testing.T) {
	w := newWorld(t)
	b := w.connectedCat(t)
	if _, err := w.st.Users().Update(w.ctx, cat, func(u *store.User) error { u.Mail.Enabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	ledger := w.st.Ledger()
	for _, m := range []struct{ id, outcome, reason string }{
		{"m1", "Posted", ""},
		{"m2", "Failed", `attachment "scan.pdf" is 30000000 bytes, over the firm's limit of 10485760`},
		{"m3", "Unmatched", "no CRM contact has any of these addresses: x@else.test"},
	} {
		w.clk.Advance(time.Second)
		e, err := ledger.Claim(w.ctx, "mail:"+cat, m.id, "test", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		detail := map[string]string{}
		if m.reason != "" {
			detail["reason"] = m.reason
		} else {
			detail["contacts"] = "c1,c2"
		}
		if _, err := ledger.Complete(w.ctx, e, m.outcome, detail); err != nil {
			t.Fatal(err)
		}
	}
	var v struct {
		RecentMail []struct{ Outcome, Reason, Open string }
	}
	w.getJSON(t, b, "/settings", &v)
	if len(v.RecentMail) != 3 || v.RecentMail[0].Outcome != "unmatched" || !strings.Contains(v.RecentMail[1].Reason, "over the firm's limit") ||
		v.RecentMail[2].Reason != "posted to 2 contact(s)" || !strings.HasSuffix(v.RecentMail[0].Open, "/#all/m3") {
		t.Errorf("recent mail: %+v", v.RecentMail)
	}
	page := getPage(t, b, w.url("/settings"))
	if !strings.Contains(page, "Your last labeled messages") || !strings.Contains(page, "no CRM contact has any of these addresses") {
		t.Errorf("the page does not show the outcomes:\n%.2000s", page)
	}
}

// A user who leaves the firm is removed by an admin (who is asked first):
// the grant is revoked at Google, everything the product keeps about the
// user is deleted, the CRM is untouched, and the page says what was
// removed. Another firm's admin cannot remove them, nor can an admin
// remove themself.
func TestAnAdminRemovesAUserWhoLeft(t *testing.T) {
	w := newWorld(t)
	b := w.connectedCat(t)
	token := w.csrf(t, b)
	if code, body := post(t, b, w.url("/settings"), url.Values{"csrf": {token}, "contacts.direction": {"both"}, "contacts.scope": {"all"}}); code != http.StatusSeeOther {
		t.Fatalf("saving: %d %.300s", code, body)
	}
	u, _ := w.st.Users().Get(w.ctx, cat)
	w.st.Cursors().Advance(w.ctx, cat, store.Cursor{Name: "gmail-history"}, "42")
	e, _ := w.st.Ledger().Claim(w.ctx, "mail:"+cat, "m1", "test", time.Minute)
	w.st.Ledger().Complete(w.ctx, e, "Posted", nil)
	crmBefore, _ := w.crm.Users(w.ctx)
	if u.Grant.SealedRefreshToken == "" {
		t.Fatal("Cat has no grant to revoke")
	}
	rt, _ := w.box.Open(u.ID, u.Grant.SealedRefreshToken)

	zed := w.browser(t)
	w.signIn(t, zed, "zed@other.test").Body.Close()
	if code, _ := post(t, zed, w.url("/admin/remove"), url.Values{"csrf": {w.csrf(t, zed)}, "email": {cat}, "confirm": {"yes"}}); code != http.StatusNotFound {
		t.Errorf("another firm's admin removing Cat: %d, want 404", code)
	}
	admin := w.browser(t)
	w.signIn(t, admin, ann).Body.Close()
	csrf := w.csrf(t, admin)
	if page := getPage(t, admin, w.url("/admin")); !strings.Contains(page, `action="/Web/admin/remove"`) {
		t.Error("the admin page offers no Remove")
	}
	if code, page := post(t, admin, w.url("/admin/remove"), url.Values{"csrf": {csrf}, "email": {cat}}); code != http.StatusOK || !strings.Contains(page, "The CRM is not touched") {
		t.Errorf("the first press: %d %.400s", code, page)
	}
	if _, err := w.st.Users().Get(w.ctx, cat); err != nil {
		t.Fatalf("Cat was removed before the admin confirmed: %v", err)
	}
	code, page := post(t, admin, w.url("/admin/remove"), url.Values{"csrf": {csrf}, "email": {cat}, "confirm": {"yes"}})
	if code != http.StatusOK || !strings.Contains(page, "revoked at Google") || !strings.Contains(page, "cursors: 1 deleted") || !strings.Contains(page, "ledger: 1 deleted") {
		t.Errorf("removing Cat: %d %.1200s", code, page)
	}
	if _, err := w.st.Users().Get(w.ctx, cat); !failure.Is(err, failure.NotFound) {
		t.Errorf("Cat's user document is still there: %v", err)
	}
	if _, err := w.st.Ledger().Get(w.ctx, "mail:"+cat, "m1"); !failure.Is(err, failure.NotFound) {
		t.Errorf("Cat's ledger entry is still there: %v", err)
	}
	conf := &oauth2.Config{ClientID: client, ClientSecret: "s3cret", Endpoint: w.g.Endpoint()}
	if _, err := conf.TokenSource(w.ctx, &oauth2.Token{RefreshToken: rt}).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("Cat's refresh token after the removal: %v, want invalid_grant (revoked)", err)
	}
	if crmAfter, _ := w.crm.Users(w.ctx); len(crmAfter) != len(crmBefore) {
		t.Errorf("the CRM changed: %d users, then %d", len(crmBefore), len(crmAfter))
	}
	if code, _ := post(t, admin, w.url("/admin/remove"), url.Values{"csrf": {csrf}, "email": {ann}, "confirm": {"yes"}}); code != http.StatusBadRequest {
		t.Errorf("an admin removing themself: %d, want 400", code)
	}
}

// The status says what the passes did in words, when the next one runs at
// the latest, and that sync is paused while Google is not connected.
func TestTheStatusSaysItInWords(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	w.signIn(t, b, cat).Body.Close()
	at := w.clk.Now().Add(-time.Minute)
	if _, err := w.st.Users().Update(w.ctx, cat, func(u *store.User) error {
		u.SyncState, u.SettingsVersion = store.Active, 1
		u.Contacts.Direction = "both"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	w.st.Users().RecordPass(w.ctx, cat, "contacts", store.PassStatus{At: at, OK: true, Counts: map[string]int{"updatedGoogle": 3, "createdCRM": 0}})
	page := getPage(t, b, w.url("/settings"))
	for _, want := range []string{"Contact sync", "OK; 3 updated in Google", `id="paused"`, w.clk.Now().Add(14 * time.Minute).Format("15:04")} {
		if !strings.Contains(page, want) {
			t.Errorf("the status lacks %q", want)
		}
	}
	if strings.Contains(page, "updatedGoogle") || strings.Contains(page, "created in the CRM") {
		t.Error("the status shows a raw counter, or one that is zero")
	}
}

// The admin page sums the users up, shows their names, labels the two
// push expiries, finds a user by name or address, and tells a phone that
// the table scrolls.
func TestTheAdminPageSumsUpAndFinds(t *testing.T) {
	w := newWorld(t)
	w.connectedCat(t)
	admin := w.browser(t)
	w.signIn(t, admin, ann).Body.Close()
	var v struct {
		Counts map[string]int
		Users  []struct{ Email, Name string }
	}
	w.getJSON(t, admin, "/admin", &v)
	if v.Counts["all"] != len(v.Users) || v.Counts["all"] < 3 || v.Counts["noRight"] != 1 {
		t.Errorf("counts %v for %d users", v.Counts, len(v.Users))
	}
	page := getPage(t, admin, w.url("/admin"))
	for _, want := range []string{`id="user-counts"`, "without the integration right", "Gmail watch:", "Calendar channel:", `data-label="Mail today"`, `role="search"`, "Dora<br>"} {
		if !strings.Contains(page, want) {
			t.Errorf("the admin page lacks %q", want)
		}
	}
	w.getJSON(t, admin, "/admin?q=dora", &v)
	if len(v.Users) != 1 || v.Users[0].Email != dora {
		t.Errorf("finding dora: %+v", v.Users)
	}
}

// The settings form's suggestions (Google contact labels and calendars)
// come from Google; when Google fails, the page still works and the
// failure is in the log, not dropped.
func TestGoogleSuggestionsThatFailAreLogged(t *testing.T) {
	w := newWorld(t)
	b := w.connectedCat(t)
	var logs logging.Buffer
	w.h.Log = logging.New(&logs, slog.LevelInfo, "")
	w.h.Google = &workspace.Factory{Endpoint: w.g.URL(), Tokens: w.grantTokens(w.h.Flow)}
	w.g.SetFault("people.contactGroups.list", &fakegoogle.Fault{Rate: 1})
	if page := getPage(t, b, w.url("/settings")); !strings.Contains(page, "Google sync settings") {
		t.Fatalf("the page did not render: %.300s", page)
	}
	if !strings.Contains(logs.String(), "contact labels were not read") || !strings.Contains(logs.String(), "contactGroups.list") {
		t.Errorf("the failure was not logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), "calendars were not read") {
		t.Errorf("a calendar list that worked was logged as failed: %s", logs.String())
	}
}

// A message that went unmatched is posted again from the settings page
// once the cause is fixed: the button puts the label back, the next mail
// pass posts it. A posted message is not posted again.
func TestPostAgainAfterTheCauseIsFixed(t *testing.T) {
	w := newWorld(t)
	b := w.connectedCat(t)
	if _, err := w.st.Users().Update(w.ctx, cat, func(u *store.User) error {
		u.Mail = store.MailSetup{Enabled: true, Outgoing: []string{"To"}, Incoming: []string{"From"}, IncludeAttachments: true}
		u.SyncState = store.Active
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	mail := &mailbox.Engine{Store: w.st, CRM: w.crm, Log: logging.Discard(), Clock: w.clk, Topic: "projects/p/topics/gmail-notifications", Holder: "test",
		Google: &workspace.Factory{Tokens: w.grantTokens(w.h.Flow), Endpoint: w.g.URL()}}
	w.h.Mail = mail
	if err := mail.Connect(w.ctx, cat); err != nil {
		t.Fatal(err)
	}
	u, _ := w.st.Users().Get(w.ctx, cat)
	trigger := u.Mail.Labels[mailbox.RoleTrigger]
	raw := "From: Quinn <quinn@client.test>\r\nTo: " + cat + "\r\nSubject: Policy question\r\nMessage-ID: <q1@client.test>\r\n\r\nHello\r\n"
	id, err := w.g.InsertMessage(cat, []byte(raw), []string{"INBOX"})
	if err != nil {
		t.Fatal(err)
	}
	gm, err := mail.Google.Gmail(w.ctx, cat)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gm.Users.Messages.Modify("me", id, &gmail.ModifyMessageRequest{AddLabelIds: []string{trigger}}).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := mail.Process(w.ctx, cat); err != nil {
		t.Fatal(err)
	}
	if e, _ := w.st.Ledger().Get(w.ctx, mailbox.LedgerScope(cat), id); e.Outcome != "Unmatched" {
		t.Fatalf("first pass: %+v", e)
	}
	page := getPage(t, b, w.url("/settings"))
	if !strings.Contains(page, `id="again-`+id+`"`) {
		t.Fatalf("no Post again button for the unmatched message:\n%.3000s", page)
	}
	// The cause: Quinn was not in the CRM. The user adds her, then asks.
	if _, err := w.crm.CreateContact(w.ctx, crm.Write{IdempotencyKey: "quinn"}, crm.Contact{FirstName: "Quinn", Emails: []string{"quinn@client.test"}}); err != nil {
		t.Fatal(err)
	}
	token := w.csrf(t, b)
	if code, body := post(t, b, w.url("/mail/again"), url.Values{"csrf": {token}, "message": {id}}); code != http.StatusSeeOther {
		t.Fatalf("post again: %d %.500s", code, body)
	}
	if labels, _ := w.g.MessageLabels(cat, id); !slices.Contains(labels, trigger) {
		t.Fatalf("the label is not back: %v", labels)
	}
	if _, err := mail.Process(w.ctx, cat); err != nil {
		t.Fatal(err)
	}
	if e, _ := w.st.Ledger().Get(w.ctx, mailbox.LedgerScope(cat), id); e.Outcome != "Posted" {
		t.Errorf("after post again: %+v, want Posted", e)
	}
	code, body := post(t, b, w.url("/mail/again"), url.Values{"csrf": {token}, "message": {id}})
	if code != http.StatusBadRequest || !strings.Contains(body, "only a message that failed or went unmatched is posted again") {
		t.Errorf("post again on a posted message: %d %.500s", code, body)
	}
}
