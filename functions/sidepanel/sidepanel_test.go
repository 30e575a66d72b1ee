package sidepanel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	cardpb "google.golang.org/genproto/googleapis/apps/card/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/crmsync/crmsync/functions/sidepanel"
	"github.com/crmsync/crmsync/shared/authn"
	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/mailbox"
	"github.com/crmsync/crmsync/shared/setup"
	panel "github.com/crmsync/crmsync/shared/sidepanel"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/store/storetest"
	"github.com/crmsync/crmsync/shared/workspace"
)

const (
	ann           = "ann@firm.test"
	projectNumber = "123456789"
)

type world struct {
	t        *testing.T
	ctx      context.Context
	g        *fakegoogle.Server
	crm      *refcrm.Store
	ids      refcrm.Imported
	st       *store.Store
	endpoint string
}

func newWorld(t *testing.T) *world {
	ctx := context.Background()
	st := storetest.New(t, nil)
	g := fakegoogle.Started(t, fakegoogle.Options{Clock: clock.Real{}})
	g.AddUser(fakegoogle.User{Email: ann})
	c := refcrm.New(storetest.Client(t), "panel", nil)
	ids, err := c.Import(ctx, refcrm.Dataset{
		Clients:  []refcrm.ImportClient{{Key: "home", Name: "Client household"}, {Key: "co", Name: "Client Co."}},
		Contacts: []refcrm.ImportContact{{Key: "carol", FirstName: "Carol", LastName: "Client", Emails: []string{"carol@client.test"}}},
		Records:  []refcrm.ImportRecord{{Key: "pol", Type: crm.RecordPolicy, Contact: "carol", Title: "Life L-1"}},
		Users:    []refcrm.ImportUser{{Key: "u-ann", Email: ann, Domains: []string{"firm.test"}, IntegrationEnabled: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	st.Tenants().Create(ctx, store.Tenant{ID: "firm", Name: "Firm", CRMName: "SmartOffice", Domains: []string{"firm.test"}})
	st.Users().Create(ctx, store.User{TenantID: "firm", Email: ann, Connection: store.Connection{State: store.Connected}, SyncState: store.Active,
		Mail: store.MailSetup{Enabled: true, Outgoing: []string{"To"}, Incoming: []string{"From"}, IncludeAttachments: true, OfferLinkedRecords: true}})
	mail := &mailbox.Engine{Store: st, CRM: c, Log: logging.Discard(), Clock: clock.Real{}, Topic: "projects/p/topics/gmail", Holder: "panel",
		Google: &workspace.Factory{Endpoint: g.URL(), Tokens: g.Tokens}}
	if err := mail.Connect(ctx, ann); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	h := &sidepanel.Handler{
		Panel: &panel.Panel{Store: st, Mail: mail, CRM: c, Sender: panel.EventAccess{Endpoint: g.URL()}, ActionURL: srv.URL + "/action",
			Review:      &setup.Service{Store: st, CRM: c, Clock: clock.Real{}, Log: logging.Discard()},
			SettingsURL: "https://web.example/settings", ContactURL: "https://crm.example/contacts/%s", Log: logging.Discard()},
		Users: authn.NewIDTokens(ctx, g.JWKSURL(), clock.Real{}), Audience: srv.URL, Log: logging.Discard(),
	}
	guard := &authn.Callers{Tokens: authn.NewIDTokens(ctx, g.JWKSURL(), clock.Real{}), Audiences: []string{srv.URL},
		Emails: []string{fakegoogle.AddOnServiceAccount(projectNumber)}, Log: logging.Discard()}
	mux.Handle("/", guard.Wrap(h))
	return &world{t: t, ctx: ctx, g: g, crm: c, ids: ids, st: st, endpoint: srv.URL}
}

func (w *world) deliver(raw string) string {
	w.t.Helper()
	id, err := w.g.InsertMessage(ann, []byte(strings.ReplaceAll(raw, "\n", "\r\n")), []string{"INBOX"})
	if err != nil {
		w.t.Fatal(err)
	}
	return id
}

// send posts Gmail's event for the open message (or the homepage) to
// path, as Gmail does, and returns the status and the answer.
func (w *world) send(path, message string, params map[string]string, inputs map[string][]string) (int, map[string]any) {
	w.t.Helper()
	e, bearer, err := w.g.AddOnEvent(w.endpoint, projectNumber, ann, message, params, inputs)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.post(path, e, bearer)
}

func (w *world) post(path string, e any, bearer string) (int, map[string]any) {
	w.t.Helper()
	body, _ := json.Marshal(e)
	req, _ := http.NewRequest(http.MethodPost, w.endpoint+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &out); err != nil {
			w.t.Fatalf("%s answered %s", path, b)
		}
	}
	return resp.StatusCode, out
}

// card is the card of an answer, checked against Google's card schema
// (the published google.apps.card.v1 protos: an unknown field or a wrong
// type fails), and its text.
func card(t *testing.T, answer map[string]any) (*cardpb.Card, string) {
	t.Helper()
	var raw any
	first := func(action any, key string) any {
		a, _ := action.(map[string]any)
		navs, _ := a["navigations"].([]any)
		if len(navs) == 0 {
			return nil
		}
		n, _ := navs[0].(map[string]any)
		return n[key]
	}
	if a, ok := answer["action"]; ok {
		raw = first(a, "pushCard")
	} else if ra, ok := answer["renderActions"].(map[string]any); ok {
		raw = first(ra["action"], "updateCard")
	}
	b, err := json.Marshal(raw)
	if err != nil || raw == nil {
		t.Fatalf("no card in %v", answer)
	}
	var c cardpb.Card
	if err := (protojson.UnmarshalOptions{}).Unmarshal(b, &c); err != nil {
		t.Fatalf("the card is not google.apps.card.v1: %v\n%s", err, b)
	}
	return &c, string(b)
}

func notification(answer map[string]any) string {
	ra, _ := answer["renderActions"].(map[string]any)
	a, _ := ra["action"].(map[string]any)
	n, _ := a["notification"].(map[string]any)
	s, _ := n["text"].(string)
	return s
}

const fromCarol = `From: "Carol Client" <carol@client.test>
To: Ann <ann@firm.test>
Subject: Portfolio review
Message-ID: <c1@client.test>

Hello Ann`

// From the panel: an open message not posted yet is posted now (same
// ledger: the label says Posted), then to the policy linked to Carol,
// which the CRM then shows the note on; every card is Google's schema.
func TestPostFromThePanelToALinkedRecord(t *testing.T) {
	w := newWorld(t)
	id := w.deliver(fromCarol)
	code, ans := w.send("/message", id, nil, nil)
	if code != 200 {
		t.Fatalf("/message: %d", code)
	}
	if _, text := card(t, ans); !strings.Contains(text, "Not posted") || !strings.Contains(text, "Post now") {
		t.Fatalf("the card of a message not posted: %s", text)
	}
	code, ans = w.send("/action", id, map[string]string{"action": "post", "message": id}, nil)
	_, text := card(t, ans)
	if code != 200 || notification(ans) != "The message is posted." || !strings.Contains(text, "Carol Client") ||
		!strings.Contains(text, "https://crm.example/contacts/"+w.ids.Contacts["carol"]) || !strings.Contains(text, "Policy Life L-1") {
		t.Fatalf("after Post now: %d %q %s", code, notification(ans), text)
	}
	pol := w.ids.Records["pol"]
	code, ans = w.send("/action", id, map[string]string{"action": "records", "message": id}, map[string][]string{"records": {pol}})
	card(t, ans)
	if code != 200 || notification(ans) != "Posted to 1 linked record(s)." {
		t.Fatalf("posting to the record: %d %v", code, ans)
	}
	notes, err := w.crm.Notes(w.ctx, "", w.ids.Contacts["carol"])
	if err != nil {
		t.Fatal(err)
	}
	onRecord := slices.ContainsFunc(notes, func(n crm.Note) bool { return slices.Contains(n.Records, pol) && n.Subject == "Portfolio review" })
	if len(notes) != 2 || !onRecord {
		t.Errorf("Carol's notes %+v: want the posting and its copy on the policy", notes)
	}
}

// An unknown sender: the panel offers Create contact, which makes the
// contact from the sender's name and address and posts the message.
func TestCreateContactFromThePanel(t *testing.T) {
	w := newWorld(t)
	id := w.deliver("From: Quinn Query <quinn@new.test>\nTo: ann@firm.test\nSubject: Hello\n\nhi")
	w.send("/action", id, map[string]string{"action": "post", "message": id}, nil)
	code, ans := w.send("/message", id, nil, nil)
	if _, text := card(t, ans); code != 200 || !strings.Contains(text, "Unmatched") || !strings.Contains(text, "Quinn Query \\u0026lt;quinn@new.test\\u0026gt;") {
		t.Fatalf("an unmatched message: %d %s", code, text)
	}
	code, ans = w.send("/action", id, map[string]string{"action": "create", "message": id}, nil)
	if code != 200 || !strings.Contains(notification(ans), "Quinn Query is now a contact; the message is posted.") {
		t.Fatalf("create contact: %d %v", code, ans)
	}
	found, err := w.crm.FindContacts(w.ctx, "", "quinn@new.test")
	if err != nil || len(found) != 1 || found[0].FirstName != "Quinn" || found[0].LastName != "Query" {
		t.Errorf("the new contact: %+v, %v", found, err)
	}
}

// Every request is Google's and acts only for its user: no system token,
// one for another audience or from another account, a missing or forged
// user token, and a button for another message than the open one are
// refused. The homepage shows the user's status.
func TestOnlyGooglesRequestsForTheirUser(t *testing.T) {
	w := newWorld(t)
	id := w.deliver(fromCarol)
	e, bearer, _ := w.g.AddOnEvent(w.endpoint, projectNumber, ann, id, nil, nil)
	if code, _ := w.post("/message", e, ""); code != http.StatusUnauthorized {
		t.Errorf("no system identity token: %d", code)
	}
	if code, _ := w.post("/message", e, w.g.OIDCToken("https://elsewhere.example", fakegoogle.AddOnServiceAccount(projectNumber), time.Hour)); code != http.StatusUnauthorized {
		t.Errorf("a token for another audience: %d", code)
	}
	if code, _ := w.post("/message", e, w.g.OIDCToken(w.endpoint, "someone@evil.test", time.Hour)); code != http.StatusForbidden {
		t.Errorf("a token of another account: %d", code)
	}
	forged := e
	forged.Authorization = map[string]string{"userIdToken": "x.y.z", "userOAuthToken": e.Authorization["userOAuthToken"]}
	if code, _ := w.post("/message", forged, bearer); code != http.StatusUnauthorized {
		t.Errorf("a forged user token: %d", code)
	}
	other := w.deliver(strings.Replace(fromCarol, "c1@client.test", "c2@client.test", 1))
	code, ans := w.send("/action", id, map[string]string{"action": "post", "message": other}, nil)
	if code != 200 || !strings.Contains(notification(ans), "another message") {
		t.Errorf("a button for another message: %d %v", code, ans)
	}
	code, ans = w.send("/homepage", "", nil, nil)
	if _, text := card(t, ans); code != 200 || !strings.Contains(text, "Sync setup: active") {
		t.Errorf("the homepage: %d %s", code, text)
	}
}

// The event's access reads the open message and nothing else: Gmail's
// current-message token is bound to it.
func TestTheEventsAccessReadsOnlyTheOpenMessage(t *testing.T) {
	w := newWorld(t)
	open := w.deliver(fromCarol)
	other := w.deliver(strings.Replace(fromCarol, "c1@client.test", "c2@client.test", 1))
	e, _, _ := w.g.AddOnEvent(w.endpoint, projectNumber, ann, open, nil, nil)
	var ev panel.Event
	b, _ := json.Marshal(e)
	json.Unmarshal(b, &ev)
	from, err := (panel.EventAccess{Endpoint: w.g.URL()}).Sender(w.ctx, ev)
	if err != nil || from.Address != "carol@client.test" {
		t.Fatalf("the open message's sender: %v, %v", from, err)
	}
	ev.Gmail.MessageID = other
	if _, err := (panel.EventAccess{Endpoint: w.g.URL()}).Sender(w.ctx, ev); err == nil {
		t.Error("the event's access read another message")
	}
}

// The deployment resource names the function's three endpoints and the
// add-on's scopes, nothing broader than the open message's metadata.
func TestDeploymentResource(t *testing.T) {
	b, err := panel.Deployment("SmartOffice Sync", "https://example.com/logo.png", "https://region-p.cloudfunctions.net/SidePanel")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"runFunction": "https://region-p.cloudfunctions.net/SidePanel/homepage"`, `"onTriggerFunction": "https://region-p.cloudfunctions.net/SidePanel/message"`,
		"gmail.addons.current.message.metadata", "gmail.addons.execute"} {
		if !strings.Contains(s, want) {
			t.Errorf("the deployment lacks %s:\n%s", want, s)
		}
	}
	if strings.Contains(s, "gmail.modify") || strings.Contains(s, "gmail.readonly") {
		t.Errorf("the add-on asks for more than the open message:\n%s", s)
	}
}

// With automatic mail sync, a message filed on a guess gets its review
// decision in the panel, as on the review page: here, moved to the other
// client.
func TestReviewDecisionInThePanel(t *testing.T) {
	w := newWorld(t)
	if _, err := w.st.Users().Update(w.ctx, ann, func(u *store.User) error { u.Mail.AutoSync = true; return nil }); err != nil {
		t.Fatal(err)
	}
	id := w.deliver(fromCarol)
	home, co := w.ids.Clients["home"], w.ids.Clients["co"]
	act, err := w.crm.CreateEmailActivity(w.ctx, crm.Write{AsUser: w.ids.Users["u-ann"], IdempotencyKey: "guess"}, crm.EmailActivity{
		ClientID: home, Owner: w.ids.Users["u-ann"], NeedsReview: true, Candidates: []string{co}, Reason: "Carol belongs to two clients; the household was written to last",
		Email: crm.Email{Subject: "Portfolio review", From: "carol@client.test", Date: time.Now(), GmailMessageID: id}})
	if err != nil {
		t.Fatal(err)
	}
	code, ans := w.send("/message", id, nil, nil)
	if _, text := card(t, ans); code != 200 || !strings.Contains(text, "Filed on Client household") || !strings.Contains(text, "Client Co.") {
		t.Fatalf("the review section: %d %s", code, text)
	}
	code, ans = w.send("/action", id, map[string]string{"action": "review-move", "message": id, "activity": act.ID}, map[string][]string{"client": {co}})
	card(t, ans)
	if code != 200 || !strings.Contains(notification(ans), "Reviewed") {
		t.Fatalf("moving it: %d %v", code, ans)
	}
	done, err := w.crm.EmailActivity(w.ctx, act.ID)
	if err != nil || done.NeedsReview || done.ClientID != co {
		t.Errorf("after the decision: %+v, %v", done, err)
	}
}
