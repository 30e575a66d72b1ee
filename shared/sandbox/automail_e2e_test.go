package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/sandbox"
	"github.com/crmsync/crmsync/shared/store"
)

// webUser is a signed-in browser session on the sandbox's Web function,
// driven over HTTP.
type webUser struct {
	t     *testing.T
	c     *http.Client
	web   string
	email string
}

func signInWeb(t *testing.T, parts sandbox.Parts, email string) *webUser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	u := &webUser{t: t, web: parts.WebURL + "/Web", email: email,
		c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	resp, err := u.c.PostForm(u.web+"/signin", url.Values{"email": {email}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u.follow(resp)
	return u
}

// follow plays the consent page of a redirect to Google and returns from
// the callback.
func (u *webUser) follow(resp *http.Response) {
	u.t.Helper()
	back, err := fakegoogle.Consent(resp.Header.Get("Location"), u.email, true)
	if err != nil {
		u.t.Fatal(err)
	}
	r, err := u.c.Get(back.String())
	if err != nil {
		u.t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusSeeOther {
		u.t.Fatalf("the callback answered %d", r.StatusCode)
	}
}

func (u *webUser) getJSON(path string, v any) {
	u.t.Helper()
	req, _ := http.NewRequest("GET", u.web+path, nil)
	req.Header.Set("Accept", "application/json")
	resp, err := u.c.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		u.t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	json.NewDecoder(resp.Body).Decode(v)
}

func (u *webUser) post(path string, form url.Values) *http.Response {
	u.t.Helper()
	var s struct{ CSRF string }
	u.getJSON("/settings", &s)
	form.Set("csrf", s.CSRF)
	resp, err := u.c.PostForm(u.web+path, form)
	if err != nil {
		u.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// Automatic mail sync on the sandbox stack, as Bob (who has it on):
// incoming mail from a client's contact is filed on the client; sent mail
// without Bob among the recipients is not, with Bob in Cc it is; mail from
// a contact of two clients waits for review, where Bob approves one guess
// and reassigns another. Then Google access is revoked: one reconnect
// e-mail, however many notifications and ticks follow; Bob reconnects and
// the mail of the gap is filed, nothing twice.
func autoMailSync(t *testing.T, ctx context.Context, parts sandbox.Parts, project string) {
	const bob = "bob@demo.test"
	clients, err := parts.CRM.ListClients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clientID := map[string]string{}
	for _, c := range clients {
		clientID[c.Name] = c.ID
	}
	co, household := clientID["Client Co."], clientID["Client household"]
	deliver := func(subject, from, to, cc string, labels ...string) string {
		raw := fmt.Sprintf("From: %s\r\nTo: %s\r\n", from, to)
		if cc != "" {
			raw += "Cc: " + cc + "\r\n"
		}
		raw += "Subject: " + subject + " " + project + "\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", "-") + "-" + project + "@e2e.test>\r\n\r\nHello. E2E-BODY-MARKER\r\n"
		id, err := parts.Google.InsertMessage(bob, []byte(raw), labels)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	activities := func(gmailID string) []crm.EmailActivity {
		all, err := parts.CRM.EmailActivities(ctx, "", "", false)
		if err != nil {
			t.Fatal(err)
		}
		var out []crm.EmailActivity
		for _, a := range all {
			if a.GmailMessageID == gmailID {
				out = append(out, a)
			}
		}
		return out
	}
	waitFiled := func(what, gmailID string) crm.EmailActivity {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			if as := activities(gmailID); len(as) > 0 {
				return as[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s was not filed within 30s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	in1 := deliver("From Frank", "Frank Finance <frank@corp.test>", bob, "", "INBOX", "UNREAD")
	if a := waitFiled("incoming mail from Frank", in1); a.ClientID != co || a.NeedsReview {
		t.Errorf("incoming mail from Frank: %+v, want on Client Co. without review", a)
	}
	outNoSelf := deliver("To Frank", bob, "frank@corp.test", "", "SENT")
	outSelf := deliver("To Frank cc me", bob, "frank@corp.test", bob, "SENT", "INBOX")
	if a := waitFiled("sent mail with Bob in Cc", outSelf); a.ClientID != co {
		t.Errorf("sent mail with Bob in Cc: %+v", a)
	}
	if as := activities(outNoSelf); len(as) != 0 {
		t.Errorf("sent mail without Bob among the recipients was filed: %+v", as)
	}

	approveID := deliver("Carol approve", "Carol Client <carol@client.test>", bob, "", "INBOX")
	moveID := deliver("Carol move", "Carol Client <carol@client.test>", bob, "", "INBOX")
	for _, id := range []string{approveID, moveID} {
		a := waitFiled("mail from Carol (two clients)", id)
		if !a.NeedsReview || a.ClientID != co || len(a.Candidates) != 1 || a.Candidates[0] != household || !strings.Contains(a.Reason, "most recent") {
			t.Errorf("mail from Carol: %+v, want a guess of Client Co. (the most recent activity) for review, household the other candidate", a)
		}
	}
	web := signInWeb(t, parts, bob)
	var queue struct {
		Items []struct{ ID, Subject string }
	}
	web.getJSON("/review", &queue)
	items := map[string]string{}
	for _, it := range queue.Items {
		items[it.Subject] = it.ID
	}
	approveAct, moveAct := items["Carol approve "+project], items["Carol move "+project]
	if approveAct == "" || moveAct == "" {
		t.Fatalf("the review queue: %+v", queue.Items)
	}
	if r := web.post("/review/"+approveAct, url.Values{"client": {co}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("approving: %d", r.StatusCode)
	}
	if r := web.post("/review/"+moveAct, url.Values{"client": {household}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("reassigning: %d", r.StatusCode)
	}
	web.getJSON("/review", &queue)
	for _, it := range queue.Items {
		if it.ID == approveAct || it.ID == moveAct {
			t.Errorf("a resolved item is still in the queue: %+v", it)
		}
	}
	if a := activities(approveID); len(a) != 1 || a[0].ClientID != co || a[0].NeedsReview {
		t.Errorf("approved: %+v", a)
	}
	if a := activities(moveID); len(a) != 1 || a[0].ClientID != household || a[0].NeedsReview {
		t.Errorf("reassigned: %+v", a)
	}

	// Google access is revoked (a password change, an admin).
	st, err := store.Open(ctx, project, "(default)", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	parts.Google.RevokeUser(bob)
	gap1 := deliver("In the gap", "Frank Finance <frank@corp.test>", bob, "", "INBOX")
	deadline := time.Now().Add(30 * time.Second)
	for {
		u, err := st.Users().Get(ctx, bob)
		if err == nil && u.Connection.State == store.Disconnected {
			if !strings.Contains(u.Attention, "reconnect") {
				t.Errorf("attention: %q", u.Attention)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Bob was not marked disconnected within 30s: %+v", u.Connection)
		}
		time.Sleep(50 * time.Millisecond)
	}
	gap2 := deliver("Still in the gap", "Frank Finance <frank@corp.test>", bob, "", "INBOX")
	for range 2 {
		if err := sandbox.RunJobNow(ctx, parts.WebURL, "mail-sweep"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second) // the notification and ticks above have had their chance to misbehave
	gm := gmailAs(t, parts, bob)
	list, err := gm.Users.Messages.List("me").Q("from:" + sandbox.SystemSender + " subject:reconnect").Do()
	if err != nil || len(list.Messages) != 1 {
		t.Fatalf("reconnect e-mails to Bob: %v (%v), want exactly 1", list.Messages, err)
	}
	if as := activities(gap1); len(as) != 0 {
		t.Errorf("mail was filed while access was revoked: %+v", as)
	}

	// Bob reconnects from the settings page; the gap's mail is filed.
	web.follow(web.post("/connect", url.Values{"feature": {"mail", "contacts", "calendar"}}))
	waitFiled("mail of the gap", gap1)
	waitFiled("more mail of the gap", gap2)
	if u, _ := st.Users().Get(ctx, bob); u.Connection.State != store.Connected || u.Attention != "" {
		t.Errorf("after reconnecting: %+v, attention %q", u.Connection, u.Attention)
	}

	// Mail of no client is remembered: once its sender becomes a client's
	// contact, even a full re-read of the mailbox (the history lost) does
	// not file it, nor anything twice.
	stranger := deliver("From a stranger", "Sam Stranger <sam@stranger.test>", bob, "", "INBOX")
	marker := deliver("After the stranger", "Frank Finance <frank@corp.test>", bob, "", "INBOX")
	waitFiled("mail after the stranger's", marker)
	if _, err := parts.CRM.CreateContact(ctx, crm.Write{IdempotencyKey: "e2e-sam-" + project}, crm.Contact{Type: crm.TypeContact, FirstName: "Sam",
		LastName: "Stranger", Emails: []string{"sam@stranger.test"}, ClientIDs: []string{co}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Cursors().ResetAll(ctx, bob); err != nil {
		t.Fatal(err)
	}
	tick := parts.Clock.Now()
	if err := sandbox.RunJobNow(ctx, parts.WebURL, "mail-sweep"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if u, err := st.Users().Get(ctx, bob); err == nil && u.Passes["mail"].At.After(tick) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweep after the lost history did not run within 30s")
		}
	}
	if as := activities(stranger); len(as) != 0 {
		t.Errorf("mail of no client was filed later: %+v", as)
	}
	for _, id := range []string{in1, outSelf, approveID, moveID, gap1, gap2, marker} {
		if n := len(activities(id)); n != 1 {
			t.Errorf("message %s has %d e-mail activities, want 1", id, n)
		}
	}
}
