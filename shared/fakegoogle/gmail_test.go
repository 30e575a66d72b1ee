package fakegoogle_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	gmail "google.golang.org/api/gmail/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/fakegoogle"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func newFake(t *testing.T, opts fakegoogle.Options) *fakegoogle.Server {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = clock.NewFake(t0)
	}
	f := fakegoogle.Started(t, opts)
	for _, u := range []string{"ann@acme.test", "bob@acme.test"} {
		if err := f.AddUser(fakegoogle.User{Email: u}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func gmailAs(t testing.TB, f *fakegoogle.Server, token string) *gmail.Service {
	t.Helper()
	opts := []option.ClientOption{option.WithEndpoint(f.URL() + "/")}
	if token == "" {
		opts = append(opts, option.WithHTTPClient(http.DefaultClient))
	} else {
		opts = append(opts, option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})))
	}
	svc, err := gmail.NewService(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func gmailFor(t testing.TB, f *fakegoogle.Server, email string) *gmail.Service {
	return gmailAs(t, f, f.Token(email, fakegoogle.ScopeGmailModify))
}

// apiErr asserts err is a googleapi.Error with this code and reason.
func apiErr(t *testing.T, err error, code int, reason string) *googleapi.Error {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("error %v is not a *googleapi.Error", err)
	}
	if ge.Code != code {
		t.Errorf("code = %d, want %d (%v)", ge.Code, code, ge)
	}
	if reason != "" && (len(ge.Errors) == 0 || ge.Errors[0].Reason != reason) {
		t.Errorf("reason = %+v, want %q", ge.Errors, reason)
	}
	return ge
}

func raw(s string) string {
	return base64.URLEncoding.EncodeToString([]byte(strings.ReplaceAll(s, "\n", "\r\n")))
}

const multipartMail = `From: "Carol Client" <carol@client.test>
To: ann@acme.test
Subject: =?UTF-8?Q?Policy_r=C3=A9view?=
Message-ID: <m1@client.test>
Date: Mon, 2 Nov 2026 08:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: multipart/alternative; boundary="b2"

--b2
Content-Type: text/plain; charset=utf-8

Hello Ann, please find the policy attached.
--b2
Content-Type: text/html; charset=utf-8

<p>Hello Ann, please find the <b>policy</b> attached.</p>
--b2--
--b1
Content-Type: application/pdf; name="policy.pdf"
Content-Disposition: attachment; filename="policy.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcfsj6IK
--b1--
`

func insert(t *testing.T, svc *gmail.Service, rawMsg string, labels ...string) *gmail.Message {
	t.Helper()
	m, err := svc.Users.Messages.Insert("me", &gmail.Message{Raw: raw(rawMsg), LabelIds: labels}).Do()
	if err != nil {
		t.Fatalf("messages.insert: %v", err)
	}
	return m
}

func TestAuthenticationIsRequired(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	_, err := gmailAs(t, f, "").Users.GetProfile("me").Do()
	ge := apiErr(t, err, 401, "authError")
	if !strings.Contains(ge.Message, "invalid authentication credentials") {
		t.Errorf("message = %q", ge.Message)
	}
	_, err = gmailAs(t, f, "ya29.not-issued").Users.GetProfile("me").Do()
	apiErr(t, err, 401, "authError")

	// A revoked grant stops working at once.
	svc := gmailFor(t, f, "ann@acme.test")
	if _, err := svc.Users.GetProfile("me").Do(); err != nil {
		t.Fatalf("getProfile: %v", err)
	}
	f.RevokeUser("ann@acme.test")
	_, err = svc.Users.GetProfile("me").Do()
	apiErr(t, err, 401, "authError")
}

func TestAccessTokensExpire(t *testing.T) {
	clk := clock.NewFake(t0)
	f := newFake(t, fakegoogle.Options{Clock: clk})
	svc := gmailFor(t, f, "ann@acme.test")
	clk.Advance(time.Hour + time.Second)
	_, err := svc.Users.GetProfile("me").Do()
	ge := apiErr(t, err, 401, "authError")
	if ge.Details == nil {
		t.Error("no ErrorInfo detail")
	}
}

// Tokens is a user's lasting grant: tokens are kept while they work,
// carry only the scopes asked for, are refreshed when they expire, and stop
// with the grant.
func TestTokensActAsOneLastingGrant(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	f := newFake(t, fakegoogle.Options{Clock: clk})
	token := func(scopes ...string) string {
		t.Helper()
		ts, err := f.Tokens(ctx, "ann@acme.test", scopes)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := ts.Token()
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	first := token(fakegoogle.ScopeGmailModify)
	if again := token(fakegoogle.ScopeGmailModify); again != first {
		t.Errorf("a working token was replaced: %q, then %q", first, again)
	}
	if _, err := gmailAs(t, f, first).Users.GetProfile("me").Do(); err != nil {
		t.Fatalf("getProfile: %v", err)
	}
	_, err := gmailAs(t, f, token(fakegoogle.ScopeContacts)).Users.Messages.List("me").Do()
	apiErr(t, err, 403, "insufficientPermissions")

	clk.Advance(time.Hour + time.Second)
	refreshed := token(fakegoogle.ScopeGmailModify)
	if refreshed == first {
		t.Error("an expired token was handed out again")
	}
	if _, err := gmailAs(t, f, refreshed).Users.GetProfile("me").Do(); err != nil {
		t.Fatalf("getProfile after refresh: %v", err)
	}

	f.RevokeUser("ann@acme.test")
	_, err = gmailAs(t, f, token(fakegoogle.ScopeGmailModify)).Users.GetProfile("me").Do()
	apiErr(t, err, 401, "authError")
}

func TestInsufficientScopeIs403(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := gmailAs(t, f, f.Token("ann@acme.test", fakegoogle.ScopeContacts))
	_, err := svc.Users.Messages.List("me").Do()
	ge := apiErr(t, err, 403, "insufficientPermissions")
	if !strings.Contains(fmt.Sprint(ge.Details), "ACCESS_TOKEN_SCOPE_INSUFFICIENT") {
		t.Errorf("details = %v, want ErrorInfo ACCESS_TOKEN_SCOPE_INSUFFICIENT", ge.Details)
	}
	// gmail.readonly reads but may not modify.
	ro := gmailAs(t, f, f.Token("ann@acme.test", fakegoogle.ScopeGmailReadonly))
	if _, err := ro.Users.Messages.List("me").Do(); err != nil {
		t.Errorf("list with readonly: %v", err)
	}
	err = ro.Users.Messages.BatchModify("me", &gmail.BatchModifyMessagesRequest{Ids: []string{"x"}, AddLabelIds: []string{"STARRED"}}).Do()
	apiErr(t, err, 403, "insufficientPermissions")
}

func TestAnotherUsersMailboxIsForbidden(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	_, err := gmailFor(t, f, "ann@acme.test").Users.GetProfile("bob@acme.test").Do()
	apiErr(t, err, 403, "forbidden")
	if p, err := gmailFor(t, f, "ann@acme.test").Users.GetProfile("Ann@Acme.test").Do(); err != nil || p.EmailAddress != "ann@acme.test" {
		t.Errorf("own address: %v, %v", p, err)
	}
}

func TestLabels(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := gmailFor(t, f, "ann@acme.test")
	l, err := svc.Users.Labels.Create("me", &gmail.Label{Name: "SmartOffice"}).Do()
	if err != nil || l.Type != "user" || !strings.HasPrefix(l.Id, "Label_") {
		t.Fatalf("labels.create = %+v, %v", l, err)
	}
	_, err = svc.Users.Labels.Create("me", &gmail.Label{Name: "smartoffice"}).Do()
	apiErr(t, err, 409, "")

	list, err := svc.Users.Labels.List("me").Do()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range list.Labels {
		names = append(names, x.Name)
	}
	for _, want := range []string{"INBOX", "SENT", "UNREAD", "TRASH", "SmartOffice"} {
		if !slices.Contains(names, want) {
			t.Errorf("labels.list lacks %s: %v", want, names)
		}
	}
	m := insert(t, svc, multipartMail, "INBOX", "UNREAD", l.Id)
	got, err := svc.Users.Labels.Get("me", l.Id).Do()
	if err != nil || got.MessagesTotal != 1 || got.MessagesUnread != 1 || got.ThreadsTotal != 1 {
		t.Errorf("labels.get counts = %+v, %v", got, err)
	}
	if _, err := svc.Users.Labels.Patch("me", l.Id, &gmail.Label{Name: "SmartOffice2"}).Do(); err != nil {
		t.Errorf("labels.patch: %v", err)
	}
	err = svc.Users.Labels.Delete("me", "INBOX").Do()
	apiErr(t, err, 400, "")
	if err := svc.Users.Labels.Delete("me", l.Id).Do(); err != nil {
		t.Fatalf("labels.delete: %v", err)
	}
	msg, _ := svc.Users.Messages.Get("me", m.Id).Format("minimal").Do()
	if slices.Contains(msg.LabelIds, l.Id) {
		t.Error("deleted label still on the message")
	}
	_, err = svc.Users.Labels.Get("me", l.Id).Do()
	apiErr(t, err, 404, "notFound")
}

func TestMessageFormats(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := gmailFor(t, f, "ann@acme.test")
	ref := insert(t, svc, multipartMail, "INBOX", "UNREAD")

	min, err := svc.Users.Messages.Get("me", ref.Id).Format("minimal").Do()
	if err != nil || min.Payload != nil || min.HistoryId == 0 || min.InternalDate != t0.UnixMilli() || !strings.HasPrefix(min.Snippet, "Hello Ann") {
		t.Errorf("minimal = %+v, %v", min, err)
	}
	meta, err := svc.Users.Messages.Get("me", ref.Id).Format("metadata").MetadataHeaders("Subject", "From").Do()
	if err != nil || meta.Payload == nil || len(meta.Payload.Headers) != 2 || meta.Payload.Parts != nil {
		t.Fatalf("metadata = %+v, %v", meta.Payload, err)
	}
	full, err := svc.Users.Messages.Get("me", ref.Id).Format("full").Do()
	if err != nil {
		t.Fatal(err)
	}
	p := full.Payload
	if p.MimeType != "multipart/mixed" || len(p.Parts) != 2 || p.Parts[0].MimeType != "multipart/alternative" || len(p.Parts[0].Parts) != 2 {
		t.Fatalf("payload tree = %+v", p)
	}
	if p.Parts[0].Parts[1].PartId != "0.1" || p.Parts[1].PartId != "1" {
		t.Errorf("part ids %q %q", p.Parts[0].Parts[1].PartId, p.Parts[1].PartId)
	}
	text, _ := base64.URLEncoding.DecodeString(p.Parts[0].Parts[0].Body.Data)
	if !strings.HasPrefix(string(text), "Hello Ann, please find the policy attached.") {
		t.Errorf("text part = %q", text)
	}
	att := p.Parts[1]
	if att.Filename != "policy.pdf" || att.Body.AttachmentId == "" || att.Body.Data != "" || att.Body.Size != 15 {
		t.Errorf("attachment part = %+v", att.Body)
	}
	a, err := svc.Users.Messages.Attachments.Get("me", ref.Id, att.Body.AttachmentId).Do()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := base64.URLEncoding.DecodeString(a.Data)
	if string(data) != "%PDF-1.4\n%\xc7\xec\x8f\xa2\n" {
		t.Errorf("attachment data = %q", data)
	}
	rawMsg, err := svc.Users.Messages.Get("me", ref.Id).Format("raw").Do()
	if err != nil {
		t.Fatal(err)
	}
	back, _ := base64.URLEncoding.DecodeString(rawMsg.Raw)
	if !strings.Contains(string(back), "Subject: =?UTF-8?Q?Policy_r=C3=A9view?=") {
		t.Errorf("raw round trip lost the subject: %q", back[:80])
	}
	_, err = svc.Users.Messages.Get("me", "0000000000000000").Do()
	apiErr(t, err, 404, "notFound")
	_, err = svc.Users.Messages.Get("me", ref.Id).Format("bogus").Do()
	apiErr(t, err, 400, "")
}

// Malformed real-world shapes parse without a panic.
func TestInsertToleratesBrokenMIME(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := gmailFor(t, f, "ann@acme.test")
	for _, m := range []string{
		"no headers at all, just text",
		"Subject: x\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain\n\nunterminated",
		"Subject: x\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n!!!not base64!!!",
		"Subject: x\nContent-Type: ;;;\n\nbody",
		"Subject: " + strings.Repeat("=?utf-8?B?AAAA?=", 100) + "\n\nbody",
	} {
		ref := insert(t, svc, m, "INBOX")
		if _, err := svc.Users.Messages.Get("me", ref.Id).Do(); err != nil {
			t.Errorf("get of %q: %v", m[:10], err)
		}
	}
	_, err := svc.Users.Messages.Insert("me", &gmail.Message{Raw: ""}).Do()
	apiErr(t, err, 400, "")
	_, err = svc.Users.Messages.Insert("me", &gmail.Message{Raw: raw("Subject: x\n\nx"), LabelIds: []string{"Label_99"}}).Do()
	apiErr(t, err, 400, "")
}

func TestListFiltersAndPages(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := gmailFor(t, f, "ann@acme.test")
	l, _ := svc.Users.Labels.Create("me", &gmail.Label{Name: "Smart Office"}).Do()
	var labeled []string
	for i := range 7 {
		labels := []string{"INBOX"}
		if i%2 == 0 {
			labels = append(labels, l.Id)
		}
		m := insert(t, svc, fmt.Sprintf("From: dave%d@client.test\nTo: ann@acme.test\nSubject: note %d\n\nbody %d", i, i, i), labels...)
		if i%2 == 0 {
			labeled = append(labeled, m.Id)
		}
	}
	insert(t, svc, "From: x@y.test\nSubject: trashed\n\nx", "TRASH")

	var got []string
	call := svc.Users.Messages.List("me").LabelIds(l.Id).MaxResults(3)
	pages := 0
	if err := call.Pages(context.Background(), func(r *gmail.ListMessagesResponse) error {
		pages++
		for _, m := range r.Messages {
			got = append(got, m.Id)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	slices.Sort(labeled)
	if !slices.Equal(got, labeled) || pages != 2 {
		t.Errorf("list by label: %d pages %v, want %v", pages, got, labeled)
	}
	for q, want := range map[string]int{"label:smart-office": 4, "from:dave3@client.test": 1, "in:inbox": 7, "in:anywhere": 8, "subject:note": 7, "": 7, "in:trash": 0} {
		r, err := svc.Users.Messages.List("me").Q(q).Do()
		if err != nil || len(r.Messages) != want {
			t.Errorf("q=%q: %d messages, %v; want %d", q, len(r.Messages), err, want)
		}
	}
	if r, _ := svc.Users.Messages.List("me").IncludeSpamTrash(true).Do(); len(r.Messages) != 8 {
		t.Errorf("includeSpamTrash: %d", len(r.Messages))
	}
	_, err := svc.Users.Messages.List("me").PageToken("garbage").Do()
	apiErr(t, err, 400, "")
}

func TestHistory(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := gmailFor(t, f, "ann@acme.test")
	trigger, _ := svc.Users.Labels.Create("me", &gmail.Label{Name: "SmartOffice"}).Do()
	prof, _ := svc.Users.GetProfile("me").Do()
	start := prof.HistoryId

	var ids []string
	for i := range 4 {
		ids = append(ids, insert(t, svc, fmt.Sprintf("Subject: m%d\n\nx", i), "INBOX").Id)
	}
	for _, id := range ids[:3] {
		svc.Users.Messages.Modify("me", id, &gmail.ModifyMessageRequest{AddLabelIds: []string{trigger.Id}}).Do()
	}
	svc.Users.Messages.Modify("me", ids[0], &gmail.ModifyMessageRequest{RemoveLabelIds: []string{trigger.Id}}).Do()

	all, err := svc.Users.History.List("me").StartHistoryId(start).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(all.History) != 8 {
		t.Fatalf("history has %d records, want 8", len(all.History))
	}
	gaps := false
	for i, h := range all.History {
		if h.Id <= start || (i > 0 && h.Id <= all.History[i-1].Id) {
			t.Errorf("record %d id %d does not increase", i, h.Id)
		}
		if i > 0 && h.Id != all.History[i-1].Id+1 {
			gaps = true
		}
	}
	if !gaps {
		t.Error("history ids are contiguous; Gmail's are not")
	}
	if all.HistoryId != all.History[7].Id {
		t.Errorf("historyId %d, last record %d", all.HistoryId, all.History[7].Id)
	}

	// What the posting engine asks: labelAdded of the trigger label, in pages.
	var added []string
	err = svc.Users.History.List("me").StartHistoryId(start).HistoryTypes("labelAdded").LabelId(trigger.Id).MaxResults(2).
		Pages(context.Background(), func(r *gmail.ListHistoryResponse) error {
			for _, h := range r.History {
				for _, la := range h.LabelsAdded {
					if slices.Contains(la.LabelIds, trigger.Id) {
						added = append(added, la.Message.Id)
					}
				}
				if len(h.MessagesAdded) > 0 {
					t.Error("historyTypes=labelAdded returned messagesAdded")
				}
			}
			return nil
		})
	if err != nil || !slices.Equal(added, ids[:3]) {
		t.Errorf("labelAdded history = %v, %v; want %v", added, err, ids[:3])
	}

	_, err = svc.Users.History.List("me").Do()
	apiErr(t, err, 400, "")
	// Aged-out history: 404, the signal for a full resync.
	f.ExpireHistory("ann@acme.test")
	_, err = svc.Users.History.List("me").StartHistoryId(start).Do()
	apiErr(t, err, 404, "notFound")
	now, _ := svc.Users.GetProfile("me").Do()
	if r, err := svc.Users.History.List("me").StartHistoryId(now.HistoryId).Do(); err != nil || len(r.History) != 0 {
		t.Errorf("history from the current id = %v, %v", r, err)
	}
}

// LabelMessages is the user labeling in Gmail itself: recorded in history
// like messages.modify, without spending API quota, and all or nothing.
func TestLabelMessagesAsTheUser(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := gmailFor(t, f, "ann@acme.test")
	trigger, _ := svc.Users.Labels.Create("me", &gmail.Label{Name: "SmartOffice"}).Do()
	a := insert(t, svc, "Subject: a\n\nx", "INBOX").Id
	b := insert(t, svc, "Subject: b\n\nx", "INBOX").Id
	prof, _ := svc.Users.GetProfile("me").Do()
	f.ResetUsage()

	if err := f.LabelMessages("ann@acme.test", []string{a, "no-such-message"}, trigger.Id); err == nil {
		t.Error("an unknown message was accepted")
	}
	if err := f.LabelMessages("ann@acme.test", []string{a}, "Label_404"); err == nil {
		t.Error("an unknown label was accepted")
	}
	if labels, _ := f.MessageLabels("ann@acme.test", a); slices.Contains(labels, trigger.Id) {
		t.Error("a refused call labeled a message")
	}
	if err := f.LabelMessages("ann@acme.test", []string{a, b}, trigger.Id); err != nil {
		t.Fatal(err)
	}
	if u := f.Usage("ann@acme.test"); len(u) != 0 {
		t.Errorf("labeling as the user spent API quota: %v", u)
	}
	h, err := svc.Users.History.List("me").StartHistoryId(prof.HistoryId).HistoryTypes("labelAdded").LabelId(trigger.Id).Do()
	if err != nil {
		t.Fatal(err)
	}
	var added []string
	for _, r := range h.History {
		for _, la := range r.LabelsAdded {
			added = append(added, la.Message.Id)
		}
	}
	if !slices.Equal(added, []string{a, b}) {
		t.Errorf("labelAdded history = %v, want %v", added, []string{a, b})
	}
}

func TestHistoryRetentionByClock(t *testing.T) {
	clk := clock.NewFake(t0)
	f := newFake(t, fakegoogle.Options{Clock: clk, HistoryRetention: 24 * time.Hour})
	svc := gmailFor(t, f, "ann@acme.test")
	p, _ := svc.Users.GetProfile("me").Do()
	insert(t, svc, "Subject: old\n\nx", "INBOX")
	clk.Advance(25 * time.Hour)
	svc = gmailFor(t, f, "ann@acme.test")
	insert(t, svc, "Subject: new\n\nx", "INBOX") // prunes the day-old record
	_, err := svc.Users.History.List("me").StartHistoryId(p.HistoryId).Do()
	apiErr(t, err, 404, "notFound")
}

func TestBatchModify(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := gmailFor(t, f, "ann@acme.test")
	posted, _ := svc.Users.Labels.Create("me", &gmail.Label{Name: "SmartOfficePosted"}).Do()
	trigger, _ := svc.Users.Labels.Create("me", &gmail.Label{Name: "SmartOffice"}).Do()
	var ids []string
	for i := range 3 {
		ids = append(ids, insert(t, svc, fmt.Sprintf("Subject: %d\n\nx", i), "INBOX", trigger.Id).Id)
	}
	err := svc.Users.Messages.BatchModify("me", &gmail.BatchModifyMessagesRequest{Ids: append(ids, "ffffffffffffffff"),
		AddLabelIds: []string{posted.Id}, RemoveLabelIds: []string{trigger.Id}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if l, _ := f.MessageLabels("ann@acme.test", id); !slices.Equal(l, []string{"INBOX", posted.Id}) {
			t.Errorf("labels of %s = %v", id, l)
		}
	}
	tooMany := make([]string, 1001)
	for i := range tooMany {
		tooMany[i] = fmt.Sprint(i)
	}
	err = svc.Users.Messages.BatchModify("me", &gmail.BatchModifyMessagesRequest{Ids: tooMany, AddLabelIds: []string{posted.Id}}).Do()
	apiErr(t, err, 400, "")
	if u := f.Usage("ann@acme.test")["gmail.users.messages.batchModify"]; u.Units != 100 || u.Calls != 2 {
		t.Errorf("batchModify usage = %+v; want 100 units over 2 calls (the refused one is charged too)", u)
	}
}

func TestSendDeliversAndThreads(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	ann, bob := gmailFor(t, f, "ann@acme.test"), gmailFor(t, f, "bob@acme.test")
	sent, err := ann.Users.Messages.Send("me", &gmail.Message{Raw: raw("To: bob@acme.test, outside@else.test\nBcc: ann@acme.test\nSubject: hi\nMessage-ID: <s1@acme.test>\n\nhello")}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(sent.LabelIds, "SENT") || !slices.Contains(sent.LabelIds, "INBOX") {
		t.Errorf("sender copy labels = %v, want SENT and INBOX (she Bcc'd herself)", sent.LabelIds)
	}
	inbox, _ := bob.Users.Messages.List("me").LabelIds("INBOX").Do()
	if len(inbox.Messages) != 1 {
		t.Fatalf("bob's inbox has %d messages", len(inbox.Messages))
	}
	got, _ := bob.Users.Messages.Get("me", inbox.Messages[0].Id).Format("raw").Do()
	b, _ := base64.URLEncoding.DecodeString(got.Raw)
	if strings.Contains(string(b), "Bcc") {
		t.Error("recipient's copy shows the Bcc header")
	}
	reply, err := bob.Users.Messages.Send("me", &gmail.Message{Raw: raw("To: ann@acme.test\nSubject: Re: hi\nIn-Reply-To: <s1@acme.test>\nReferences: <s1@acme.test>\n\nback")}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if reply.ThreadId != inbox.Messages[0].ThreadId {
		t.Errorf("reply thread %s, want %s", reply.ThreadId, inbox.Messages[0].ThreadId)
	}
	_, err = ann.Users.Messages.Send("me", &gmail.Message{Raw: raw("Subject: nobody\n\nx")}).Do()
	apiErr(t, err, 400, "")
}

// Over the per-user budget: Google's rate-limit shape, 403 usageLimits
// userRateLimitExceeded "User Rate Limit Exceeded" as Gmail's "Resolve
// errors" guide documents it
// (https://developers.google.com/workspace/gmail/api/guides/handle-errors);
// the budget refills with time.
func TestQuotaBudget(t *testing.T) {
	clk := clock.NewFake(t0)
	f := newFake(t, fakegoogle.Options{Clock: clk, QuotaPerUserPerMinute: 100})
	svc := gmailFor(t, f, "ann@acme.test")
	ref := insert(t, svc, "Subject: q\n\nx", "INBOX") // 25 units
	ok := 0
	var last error
	for range 20 {
		if _, last = svc.Users.Messages.Get("me", ref.Id).Format("minimal").Do(); last == nil {
			ok++
		} else {
			break
		}
	}
	if ok != 15 {
		t.Errorf("%d gets of 5 units fit in the 75 left, want 15", ok)
	}
	ge := apiErr(t, last, 403, "userRateLimitExceeded")
	if !strings.Contains(ge.Body, `"domain": "usageLimits"`) && !strings.Contains(ge.Body, `"domain":"usageLimits"`) || ge.Message != "User Rate Limit Exceeded" {
		t.Errorf("403 = %+v", ge)
	}
	// The limit is per minute: half a minute later the same minute still
	// holds the 100 units; a minute after them, there is room again.
	clk.Advance(30 * time.Second)
	if _, err := svc.Users.Messages.Get("me", ref.Id).Do(); err == nil {
		t.Error("within the same minute the spent budget took another call")
	}
	clk.Advance(30 * time.Second)
	if _, err := svc.Users.Messages.Get("me", ref.Id).Do(); err != nil {
		t.Errorf("a minute later: %v", err)
	}
	// Bob's budget is his own.
	if _, err := gmailFor(t, f, "bob@acme.test").Users.GetProfile("me").Do(); err != nil {
		t.Errorf("bob: %v", err)
	}
	u := f.Usage("ann@acme.test")
	if got := u["gmail.users.messages.get"]; got.Units != 80 || got.RateLimited != 2 || got.Calls != 18 {
		t.Errorf("messages.get usage = %+v", got)
	}
	if got := u["gmail.users.messages.insert"]; got.Units != 25 {
		t.Errorf("insert usage = %+v", got)
	}
}

// Gmail's quota page (developers.google.com/workspace/gmail/api/reference/
// quota, updated for projects created since 1 May 2026) states two limits
// per minute: 6,000 units per user per project and 1,200,000 per project.
// The fake counts the units of any rolling minute against each; the
// project's limit refuses with rateLimitExceeded, the user's with
// userRateLimitExceeded.
func TestQuotaPerMinuteWindowsForUserAndProject(t *testing.T) {
	clk := clock.NewFake(t0)
	f := newFake(t, fakegoogle.Options{Clock: clk, QuotaPerUserPerMinute: 6000, QuotaPerProjectPerMinute: 9000})
	ann, bob := gmailFor(t, f, "ann@acme.test"), gmailFor(t, f, "bob@acme.test")
	spend := func(svc *gmail.Service, n int) (int, error) {
		for i := range n {
			if _, err := svc.Users.GetProfile("me").Do(); err != nil {
				return i, err
			}
		}
		return n, nil
	}
	// Ann spends her 6,000 over the minute, 1 unit a call.
	for range 6 {
		if got, err := spend(ann, 1000); err != nil {
			t.Fatalf("Ann's call %d: %v", got, err)
		}
		clk.Advance(9 * time.Second)
	}
	if _, err := spend(ann, 1); err == nil {
		t.Fatal("Ann's 6,001st unit within a minute was taken")
	} else {
		apiErr(t, err, 403, "userRateLimitExceeded")
	}
	// Bob has his own 6,000, but the project has only 3,000 left.
	got, err := spend(bob, 4000)
	if got != 3000 || err == nil {
		t.Fatalf("Bob got %d units before a refusal (%v), want 3,000", got, err)
	}
	apiErr(t, err, 403, "rateLimitExceeded")
	// 9 s after Ann's first thousand turned a minute old, that much is free.
	clk.Advance(7 * time.Second)
	if got, err := spend(ann, 1000); got != 1000 {
		t.Errorf("after Ann's first thousand aged out: %d units, %v", got, err)
	}
}

// The other shape of a spent quota, which newer front ends answer: 429
// RESOURCE_EXHAUSTED with Retry-After (QuotaExceededStatus 429). And an
// injected 403 is the project's rate limit of the same guide (403
// usageLimits rateLimitExceeded), not a permission error.
func TestRateLimitShapes(t *testing.T) {
	f := newFake(t, fakegoogle.Options{QuotaPerUserPerMinute: 1, QuotaExceededStatus: 429})
	svc := gmailFor(t, f, "ann@acme.test")
	var err error
	for range 3 {
		if _, err = svc.Users.GetProfile("me").Do(); err != nil {
			break
		}
	}
	ge := apiErr(t, err, 429, "userRateLimitExceeded")
	if ge.Header.Get("Retry-After") == "" || !strings.Contains(ge.Body, "RESOURCE_EXHAUSTED") {
		t.Errorf("429 = %+v", ge)
	}

	g := newFake(t, fakegoogle.Options{})
	g.SetFault("gmail.users.labels.list", &fakegoogle.Fault{Script: []int{403}})
	_, err = gmailFor(t, g, "ann@acme.test").Users.Labels.List("me").Do()
	ge = apiErr(t, err, 403, "rateLimitExceeded")
	if ge.Message != "Rate Limit Exceeded" || !strings.Contains(ge.Body, "usageLimits") {
		t.Errorf("injected 403 = %+v", ge)
	}
}

func TestFaultInjection(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := gmailFor(t, f, "ann@acme.test")
	// The Go client retries 5xx on its own for some calls; count at the server.
	f.SetFault("gmail.users.labels.list", &fakegoogle.Fault{Script: []int{503, 500, 429}})
	for _, code := range []int{503, 500, 429} {
		_, err := svc.Users.Labels.List("me").Do()
		apiErr(t, err, code, "")
	}
	if _, err := svc.Users.Labels.List("me").Do(); err != nil {
		t.Errorf("after the script: %v", err)
	}
	if u := f.Usage("ann@acme.test")["gmail.users.labels.list"]; u.Faults != 3 || u.Units != 1 {
		t.Errorf("usage = %+v", u)
	}

	outcomes := func(seed uint64) string {
		g := newFake(t, fakegoogle.Options{Seed: seed})
		g.SetFault("*", &fakegoogle.Fault{Rate: 0.5, Codes: []int{500, 503}})
		s := gmailFor(t, g, "ann@acme.test")
		var b strings.Builder
		for range 30 {
			if _, err := s.Users.GetProfile("me").Do(); err != nil {
				b.WriteString("x")
			} else {
				b.WriteString(".")
			}
		}
		return b.String()
	}
	a, b := outcomes(7), outcomes(7)
	if a != b {
		t.Errorf("same seed, different faults: %s vs %s", a, b)
	}
	if !strings.Contains(a, "x") || !strings.Contains(a, ".") {
		t.Errorf("rate 0.5 gave %s", a)
	}

	f.SetFault("gmail.users.getProfile", &fakegoogle.Fault{Latency: 50 * time.Millisecond})
	began := time.Now()
	svc.Users.GetProfile("me").Do()
	if time.Since(began) < 50*time.Millisecond {
		t.Error("latency not added")
	}
}

func TestSeedFromJSON(t *testing.T) {
	f := fakegoogle.New(fakegoogle.Options{})
	f.Start()
	defer f.Close()
	err := f.LoadSeed(fakegoogle.Seed{Users: []fakegoogle.User{{Email: "ann@demo.test"}},
		Messages: []fakegoogle.SeedMessage{{User: "ann@demo.test", Raw: "Subject: welcome\r\n\r\nhi", LabelIDs: []string{"INBOX"}}}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := gmailFor(t, f, "ann@demo.test").Users.Messages.List("me").Do()
	if err != nil || len(r.Messages) != 1 {
		t.Errorf("seeded mailbox: %v, %v", r, err)
	}
	if err := f.LoadSeed(fakegoogle.Seed{Messages: []fakegoogle.SeedMessage{{User: "nobody@demo.test", Raw: "x"}}}); err == nil {
		t.Error("seeding a message for an unknown user succeeded")
	}
}

// Gmail's daily sending limit (per user, counted in recipients over a
// rolling day): past it messages.send answers 429 usageLimits
// rateLimitExceeded with the time sending works again, for hours; a day
// after the oldest send it works again.
func TestDailySendingLimit(t *testing.T) {
	clk := clock.NewFake(t0)
	f := newFake(t, fakegoogle.Options{Clock: clk, SendLimitPerDay: 2, AccessTokenLifetime: 72 * time.Hour})
	svc := gmailFor(t, f, "ann@acme.test")
	send := func() error {
		_, err := svc.Users.Messages.Send("me", &gmail.Message{Raw: raw("To: bob@acme.test\nSubject: s\n\nx")}).Do()
		return err
	}
	for i := range 2 {
		if err := send(); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		clk.Advance(time.Hour)
	}
	err := send()
	ge := apiErr(t, err, 429, "rateLimitExceeded")
	if !strings.Contains(ge.Message, "Retry after "+t0.Add(24*time.Hour).Format("2006-01-02T15:04:05.000Z")) {
		t.Errorf("429 message %q, want the time sending works again", ge.Message)
	}
	clk.Advance(20 * time.Hour) // 22 hours after the first send
	apiErr(t, send(), 429, "rateLimitExceeded")
	clk.Advance(2 * time.Hour)
	if err := send(); err != nil {
		t.Errorf("a day after the first send: %v", err)
	}
}
