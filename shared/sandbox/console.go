package sandbox

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"html"
	"html/template"
	"io"
	"net/http"
	"net/mail"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/jhillyerd/enmime"
	calendar "google.golang.org/api/calendar/v3"
	gmail "google.golang.org/api/gmail/v1"
	people "google.golang.org/api/people/v1"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/crm/restcrm"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/jobs"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/workspace"
)

// The console is the sandbox's window on the whole system, served at
// /Console beside the functions (never deployed: only the sandbox
// registers it). It is a thin page over the same interfaces the tests
// use: the fake Google's REST API (as each demo user), the reference CRM's
// REST API, the product's store for pass status, and the Dispatch function
// for "run now". It refreshes itself every few seconds.

// console is the running sandbox's console; the function registered below
// serves whichever is current.
var console atomic.Pointer[Console]

func init() {
	functions.HTTP("Console", func(w http.ResponseWriter, r *http.Request) {
		c := console.Load()
		if c == nil {
			http.Error(w, "the console starts with the sandbox", http.StatusServiceUnavailable)
			return
		}
		c.ServeHTTP(w, r)
	})
}

// Console serves the console page.
type Console struct {
	Google    *fakegoogle.Server
	GoogleURL string
	CRM       *restcrm.Client
	Store     *store.Store
	WebURL    string
	Firm      Firm
	Jobs      *scheduler
	Clock     clock.Clock

	seq atomic.Int64
}

// google builds the clients through which the console acts as a demo user
// on the fake, with one lasting grant per user.
func (c *Console) google() *workspace.Factory {
	return &workspace.Factory{Endpoint: c.GoogleURL, Tokens: c.Google.Tokens}
}

// Templates are the demo messages the console delivers.
var Templates = []struct{ Key, Title string }{
	{"client", "From a client (Carol)"},
	{"internal", "Internal (from a colleague)"},
	{"attachment", "From a client, with an attachment"},
	{"bcc", "You in Bcc (Carol writes to Frank)"},
	{"two-clients", "From a contact of two clients"},
}

func (c *Console) template(key, user string) (string, error) {
	n := c.seq.Add(1)
	date := c.Clock.Now().Format(time.RFC1123Z)
	head := func(from, to, subject string) string {
		return fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s #%d\r\nDate: %s\r\nMessage-ID: <console-%d-%d@sandbox.test>\r\n", from, to, subject, n, date, n, time.Now().UnixNano())
	}
	switch key {
	case "client":
		return head(`"Carol Client" <carol@client.test>`, user, "Portfolio review") + "\r\nHello,\r\n\r\nCould we review my portfolio next week?\r\n\r\nCarol\r\n", nil
	case "internal":
		other := "bob@demo.test"
		if user == other {
			other = "ann@demo.test"
		}
		return head(other, user, "Team lunch") + "\r\nLunch at noon?\r\n", nil
	case "attachment":
		return head(`"Carol Client" <carol@client.test>`, user, "Signed forms") + "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: text/plain\r\n\r\nThe signed forms are attached.\r\n" +
			"--b\r\nContent-Type: application/pdf; name=forms.pdf\r\nContent-Disposition: attachment; filename=forms.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcTl8uXrp/Og0MTGCg==\r\n--b--\r\n", nil
	case "bcc":
		return head(`"Carol Client" <carol@client.test>`, "Frank Finance <frank@corp.test>", "Confidential note") + "\r\nFrank, between us…\r\n", nil
	case "two-clients":
		return head(`"Carol Client" <carol@client.test>`, user, "Household and company accounts") + "\r\nA question about both accounts.\r\n", nil
	}
	return "", fmt.Errorf("no template %q", key)
}

// ServeHTTP shows the page (GET) or does an action (POST) and shows it again.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method == http.MethodGet && r.URL.Query().Get("mail") != "" {
		c.showMail(w, r)
		return
	}
	if r.Method == http.MethodGet && r.URL.Query().Get("panel") != "" {
		c.showPanel(w, r)
		return
	}
	if r.Method == http.MethodPost && r.ParseForm() == nil && r.PostForm.Get("action") == "panel" {
		c.panelAction(w, r)
		return
	}
	if r.Method == http.MethodPost {
		if err := c.act(ctx, r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, "/Console", http.StatusSeeOther)
		return
	}
	page, err := c.page(ctx)
	if err != nil {
		http.Error(w, "the console could not read the sandbox: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := consolePage.Execute(w, page); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func (c *Console) act(ctx context.Context, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	user := r.PostForm.Get("user")
	// Every account of the firm's fake Google, signed up or not.
	known := slices.ContainsFunc(c.Firm.Google.Users, func(u fakegoogle.User) bool { return u.Email == user && u.Email != SystemSender })
	switch r.PostForm.Get("action") {
	case "deliver":
		if !known {
			return fmt.Errorf("no demo user %q", user)
		}
		raw, err := c.template(r.PostForm.Get("template"), user)
		if err != nil {
			return err
		}
		gm, err := c.google().Gmail(ctx, user)
		if err != nil {
			return err
		}
		labels := []string{"INBOX", "UNREAD"}
		if r.PostForm.Get("template") == "bcc" {
			labels = []string{"INBOX"}
		}
		_, err = gm.Users.Messages.Insert("me", &gmail.Message{Raw: b64url(raw), LabelIds: labels}).Do()
		return err
	case "label":
		if !known {
			return fmt.Errorf("no demo user %q", user)
		}
		gm, err := c.google().Gmail(ctx, user)
		if err != nil {
			return err
		}
		id, err := labelID(gm, c.Firm.Tenant.CRMName)
		if err != nil {
			return err
		}
		_, err = gm.Users.Messages.Modify("me", r.PostForm.Get("message"), &gmail.ModifyMessageRequest{AddLabelIds: []string{id}}).Do()
		return err
	case "rename-google":
		if !known {
			return fmt.Errorf("no demo user %q", user)
		}
		if err := checkName(r.PostForm.Get("given"), r.PostForm.Get("family")); err != nil {
			return err
		}
		ppl, err := c.google().People(ctx, user)
		if err != nil {
			return err
		}
		name := r.PostForm.Get("person")
		cur, err := ppl.People.Get(name).PersonFields("names").Do()
		if err != nil {
			return err
		}
		_, err = ppl.People.UpdateContact(name, &people.Person{Etag: cur.Etag, Names: []*people.Name{{
			GivenName: strings.TrimSpace(r.PostForm.Get("given")), FamilyName: strings.TrimSpace(r.PostForm.Get("family"))}}}).UpdatePersonFields("names").Do()
		return err
	case "rename-crm":
		if err := checkName(r.PostForm.Get("given"), r.PostForm.Get("family")); err != nil {
			return err
		}
		cur, err := c.CRM.Contact(ctx, "", r.PostForm.Get("contact"))
		if err != nil {
			return err
		}
		cur.FirstName, cur.LastName = strings.TrimSpace(r.PostForm.Get("given")), strings.TrimSpace(r.PostForm.Get("family"))
		_, err = c.CRM.UpdateContact(ctx, crm.Write{}, cur)
		return err
	case "move-event":
		if !known {
			return fmt.Errorf("no demo user %q", user)
		}
		cal, err := c.google().Calendar(ctx, user)
		if err != nil {
			return err
		}
		ev, err := cal.Events.Get("primary", r.PostForm.Get("event")).Do()
		if err != nil {
			return err
		}
		start, err1 := time.Parse(time.RFC3339, ev.Start.DateTime)
		end, err2 := time.Parse(time.RFC3339, ev.End.DateTime)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("only timed events move by an hour here")
		}
		_, err = cal.Events.Patch("primary", ev.Id, &calendar.Event{
			Start: &calendar.EventDateTime{DateTime: start.Add(time.Hour).Format(time.RFC3339), TimeZone: ev.Start.TimeZone},
			End:   &calendar.EventDateTime{DateTime: end.Add(time.Hour).Format(time.RFC3339), TimeZone: ev.End.TimeZone}}).Do()
		return err
	case "move-activity":
		a, err := c.CRM.Activity(ctx, r.PostForm.Get("activity"))
		if err != nil {
			return err
		}
		if a.StartDate != "" {
			return fmt.Errorf("only timed activities move by an hour here")
		}
		a.Start, a.End = a.Start.Add(time.Hour), a.End.Add(time.Hour)
		_, err = c.CRM.UpdateActivity(ctx, crm.Write{}, a)
		return err
	case "run":
		kind := r.PostForm.Get("kind")
		if !slices.Contains(jobs.Kinds(), kind) {
			return fmt.Errorf("no job %q", kind)
		}
		c.Jobs.ranNow(kind)
		return RunJobNow(ctx, c.WebURL, kind)
	}
	return fmt.Errorf("unknown action %q", r.PostForm.Get("action"))
}

func labelID(gm *gmail.Service, name string) (string, error) {
	list, err := gm.Users.Labels.List("me").Do()
	if err != nil {
		return "", err
	}
	for _, l := range list.Labels {
		if l.Name == name {
			return l.Id, nil
		}
	}
	return "", fmt.Errorf("no label %q yet: the mailbox is not connected", name)
}

type pageData struct {
	Firm      string
	CRMName   string
	Templates any
	Jobs      []jobRow
	Users     []userView
	Contacts  []contactView
	Clients   []clientView
	// SystemMail is the product's e-mail (confirmation, preview report,
	// reconnect) as received in the demo mailboxes.
	SystemMail []systemMailView
	Sender     string
	Now        string
}

type systemMailView struct {
	To, Subject, Date, ID string
	at                    time.Time
}

type jobRow struct {
	Kind, Last, Next string
	NextAt           string // RFC 3339, for tests
}

type messageView struct {
	ID, From, Subject, Date string
	Labels                  []string
	Status                  string
}

type userView struct {
	Email, Name, Connection, Attention string
	Pass, ContactPass                  string
	Messages                           []messageView
	Contacts                           []personView
	Events                             []eventView
	Activities                         []activityView // in the CRM
}

type eventView struct {
	ID, Summary, When string
	Timed             bool
}

type activityView struct {
	ID, Text string
	Timed    bool
}

func whenOf(d *calendar.EventDateTime) string {
	if d == nil {
		return ""
	}
	if d.Date != "" {
		return d.Date + " (all day)"
	}
	if t, err := time.Parse(time.RFC3339, d.DateTime); err == nil {
		return t.In(time.Local).Format("Jan 2 15:04")
	}
	return d.DateTime
}

type personView struct {
	Resource, Given, Family, Emails string
}

type contactView struct {
	ID, Given, Family  string
	Name, Type, Emails string
	Clients            int
	Notes              []string
}

type clientView struct {
	Name   string
	Emails []string
}

// maxName is the longest first or last name a rename takes.
const maxName = 100

// checkName refuses a rename to no name, or to one too long to show.
func checkName(given, family string) error {
	given, family = strings.TrimSpace(given), strings.TrimSpace(family)
	if given == "" && family == "" {
		return fmt.Errorf("a contact needs a first or a last name; both were empty")
	}
	if utf8.RuneCountInString(given) > maxName || utf8.RuneCountInString(family) > maxName {
		return fmt.Errorf("a name is at most %d characters", maxName)
	}
	return nil
}

// users are the firm's users to show: everyone who signed up (a
// newcomer such as Cat too) and the demo's users who have not, by
// address.
func (c *Console) users(ctx context.Context) ([]store.User, error) {
	stored, err := c.Store.Users().ListByTenant(ctx, c.Firm.Tenant.ID)
	if err != nil {
		return nil, err
	}
	out := stored
	for _, u := range c.Firm.Users {
		if !slices.ContainsFunc(stored, func(s store.User) bool { return strings.EqualFold(s.Email, u.Email) }) {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b store.User) int { return strings.Compare(a.Email, b.Email) })
	return out, nil
}

func (c *Console) page(ctx context.Context) (*pageData, error) {
	p := &pageData{Firm: c.Firm.Tenant.Name, CRMName: c.Firm.Tenant.CRMName, Templates: Templates, Now: c.Clock.Now().Format("15:04:05")}
	for _, k := range jobs.Kinds() {
		last, next := c.Jobs.times(k)
		row := jobRow{Kind: k, Last: "not yet", Next: next.Format("Jan 2 15:04:05"), NextAt: next.Format(time.RFC3339)}
		if !last.IsZero() {
			row.Last = last.Format("Jan 2 15:04:05")
		}
		p.Jobs = append(p.Jobs, row)
	}
	users, err := c.users(ctx)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		v, err := c.user(ctx, u)
		if err != nil {
			return nil, err
		}
		p.Users = append(p.Users, v)
	}
	p.Sender = SystemSender
	for _, gu := range c.Firm.Google.Users {
		if gu.Email == SystemSender {
			continue
		}
		mails, err := c.systemMail(ctx, gu.Email)
		if err != nil {
			return nil, err
		}
		p.SystemMail = append(p.SystemMail, mails...)
	}
	// Newest first, whoever it went to.
	slices.SortStableFunc(p.SystemMail, func(a, b systemMailView) int { return b.at.Compare(a.at) })
	contacts, err := c.CRM.ListContacts(ctx, "", crm.ContactQuery{})
	if err != nil {
		return nil, err
	}
	for _, ct := range contacts {
		cv := contactView{ID: ct.ID, Given: ct.FirstName, Family: ct.LastName, Name: strings.TrimSpace(ct.FirstName + " " + ct.LastName),
			Type: string(ct.Type), Emails: strings.Join(ct.Emails, ", "), Clients: len(ct.ClientIDs)}
		notes, err := c.CRM.Notes(ctx, "", ct.ID)
		if err != nil {
			return nil, err
		}
		slices.Reverse(notes)
		for _, n := range notes[:min(5, len(notes))] {
			s := fmt.Sprintf("%s — %s", n.Subject, n.Date.Format("Jan 2 15:04"))
			if len(n.Attachments) > 0 {
				s += fmt.Sprintf(" (%d attachment", len(n.Attachments))
				if len(n.Attachments) > 1 {
					s += "s"
				}
				s += ")"
			}
			cv.Notes = append(cv.Notes, s)
		}
		p.Contacts = append(p.Contacts, cv)
	}
	clients, err := c.CRM.ListClients(ctx)
	if err != nil {
		return nil, err
	}
	for _, cl := range clients {
		v := clientView{Name: cl.Name}
		acts, err := c.CRM.EmailActivities(ctx, cl.ID, "", false)
		if err != nil {
			return nil, err
		}
		for _, a := range acts {
			s := a.Subject
			if a.NeedsReview {
				s += " (needs review: " + a.Reason + ")"
			}
			v.Emails = append(v.Emails, s)
		}
		p.Clients = append(p.Clients, v)
	}
	return p, nil
}

// systemMail lists the product's e-mail in a user's mailbox, newest first.
func (c *Console) systemMail(ctx context.Context, user string) ([]systemMailView, error) {
	gm, err := c.google().Gmail(ctx, user)
	if err != nil {
		return nil, err
	}
	list, err := gm.Users.Messages.List("me").Q("from:" + SystemSender).MaxResults(20).Context(ctx).Do()
	if err != nil {
		return nil, err
	}
	var out []systemMailView
	for _, m := range list.Messages {
		full, err := gm.Users.Messages.Get("me", m.Id).Format("metadata").MetadataHeaders("Subject", "Date").Context(ctx).Do()
		if err != nil {
			return nil, err
		}
		v := systemMailView{To: user, ID: mailRef(user, m.Id)}
		for _, h := range full.Payload.Headers {
			switch h.Name {
			case "Subject":
				v.Subject = h.Value
			case "Date":
				v.Date = h.Value
				v.at, _ = mail.ParseDate(h.Value)
			}
		}
		out = append(out, v)
	}
	return out, nil
}

func mailRef(user, id string) string { return user + "/" + id }

// showMail renders one system e-mail's HTML part as the recipient's mail
// client would (GET /Console?mail=user/id).
func (c *Console) showMail(w http.ResponseWriter, r *http.Request) {
	user, id, ok := strings.Cut(r.URL.Query().Get("mail"), "/")
	if !ok || !slices.ContainsFunc(c.Firm.Google.Users, func(u fakegoogle.User) bool { return u.Email == user }) {
		http.Error(w, "mail=user/id of a demo user's message", http.StatusBadRequest)
		return
	}
	gm, err := c.google().Gmail(r.Context(), user)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	m, err := gm.Users.Messages.Get("me", id).Format("raw").Context(r.Context()).Do()
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	raw, err := base64.URLEncoding.DecodeString(m.Raw)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	// As a mail client shows it: no scripts, nothing fetched.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, `<p style="font:14px system-ui,sans-serif;margin:.5rem 0 1rem"><a href="/Console">← Back to the console</a></p>`)
	if env.HTML == "" {
		fmt.Fprintf(w, "<pre>%s</pre>", html.EscapeString(env.Text))
		return
	}
	io.WriteString(w, env.HTML)
}

func (c *Console) user(ctx context.Context, su store.User) (userView, error) {
	v := userView{Email: su.Email, Name: su.DisplayName}
	if u, err := c.Store.Users().Get(ctx, su.Email); err == nil {
		v.Connection, v.Attention = string(u.Connection.State), u.Attention
		if pass, ok := u.Passes["mail"]; ok {
			v.Pass = fmt.Sprintf("%s: posted %d, failed %d, unmatched %d, retrying %d", pass.At.Local().Format("15:04:05"),
				pass.Counts["posted"], pass.Counts["failed"], pass.Counts["unmatched"], pass.Counts["retrying"])
			if pass.Error != "" {
				v.Pass += " — " + pass.Error
			}
		}
		if pass, ok := u.Passes["contacts"]; ok {
			v.ContactPass = fmt.Sprintf("%s: to Google %d new, %d changed, %d deleted; to the CRM %d new, %d changed, %d deleted",
				pass.At.Local().Format("15:04:05"), pass.Counts["createdGoogle"], pass.Counts["updatedGoogle"], pass.Counts["deletedGoogle"],
				pass.Counts["createdCRM"], pass.Counts["updatedCRM"], pass.Counts["deletedCRM"])
			if pass.Error != "" {
				v.ContactPass += " — " + pass.Error
			}
		}
	}
	gm, err := c.google().Gmail(ctx, su.Email)
	if err != nil {
		return v, err
	}
	names := map[string]string{}
	if ls, err := gm.Users.Labels.List("me").Do(); err == nil {
		for _, l := range ls.Labels {
			if l.Type == "user" {
				names[l.Id] = l.Name
			}
		}
	}
	list, err := gm.Users.Messages.List("me").MaxResults(12).Do()
	if err != nil {
		return v, err
	}
	for _, ref := range list.Messages {
		m, err := gm.Users.Messages.Get("me", ref.Id).Format("metadata").MetadataHeaders("From", "Subject", "Date").Do()
		if err != nil {
			continue
		}
		mv := messageView{ID: m.Id}
		for _, h := range m.Payload.Headers {
			switch h.Name {
			case "From":
				mv.From = h.Value
			case "Subject":
				mv.Subject = h.Value
			case "Date":
				mv.Date = h.Value
			}
		}
		for _, l := range m.LabelIds {
			if n, ok := names[l]; ok {
				mv.Labels = append(mv.Labels, n)
				if strings.HasPrefix(n, c.Firm.Tenant.CRMName) {
					mv.Status = n
				}
			}
		}
		sort.Strings(mv.Labels)
		v.Messages = append(v.Messages, mv)
	}
	if ppl, err := c.google().People(ctx, su.Email); err == nil {
		if conn, err := ppl.People.Connections.List("people/me").PersonFields("names,emailAddresses").PageSize(20).Do(); err == nil {
			for _, pr := range conn.Connections {
				pv := personView{Resource: pr.ResourceName}
				if len(pr.Names) > 0 {
					pv.Given, pv.Family = pr.Names[0].GivenName, pr.Names[0].FamilyName
				}
				var emails []string
				for _, e := range pr.EmailAddresses {
					emails = append(emails, e.Value)
				}
				pv.Emails = strings.Join(emails, ", ")
				v.Contacts = append(v.Contacts, pv)
			}
		}
	}
	if cal, err := c.google().Calendar(ctx, su.Email); err == nil {
		if ev, err := cal.Events.List("primary").TimeMin(c.Clock.Now().Add(-24 * time.Hour).Format(time.RFC3339)).MaxResults(12).Do(); err == nil {
			for _, e := range ev.Items {
				if e.Status == "cancelled" {
					continue
				}
				v.Events = append(v.Events, eventView{ID: e.Id, Summary: e.Summary, When: whenOf(e.Start), Timed: e.Start != nil && e.Start.DateTime != ""})
			}
		}
	}
	if cu, err := c.CRM.UserByEmail(ctx, su.Email); err == nil {
		if acts, err := c.CRM.ListActivities(ctx, cu.ID); err == nil {
			for _, a := range acts {
				s := a.Title
				switch {
				case a.StartDate != "":
					s = a.StartDate + " (all day) " + s
				default:
					s = a.Start.In(time.Local).Format("Jan 2 15:04") + " " + s
				}
				if len(a.Recurrence) > 0 {
					s += " (series)"
				}
				if a.SeriesID != "" {
					s += " (exception)"
				}
				v.Activities = append(v.Activities, activityView{ID: a.ID, Text: s, Timed: a.StartDate == "" && a.SeriesID == ""})
			}
			sort.Slice(v.Activities, func(i, j int) bool { return v.Activities[i].Text < v.Activities[j].Text })
		}
	}
	return v, nil
}

func b64url(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

var consolePage = template.Must(template.New("console").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Firm}} — sandbox console</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1rem;color:#222}
h1{font-size:1.3rem} h2{font-size:1.1rem;margin-top:1.5rem} h3{font-size:1rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0} td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(420px,100%),1fr));gap:1rem}
input{max-width:100%}
.card{border:1px solid #ccc;border-radius:6px;padding:.8rem}
.status{font-weight:600} .muted{color:#666} button{cursor:pointer}
</style></head>
<body><main>
<h1>{{.Firm}}: sandbox console</h1>
<p class="muted">The whole system on this machine. Deliver a demo message, add the {{.CRMName}} label as you would in Gmail, and watch it turn {{.CRMName}}Posted and appear on the contact's notes in the CRM. Refreshes every 3 seconds, except while you type in a field (last {{.Now}}).</p>

<h2>Scheduled jobs</h2>
<p class="muted">As Cloud Scheduler does in production: each run calls the Dispatch function, which publishes one job per user to the jobs topic for the Jobs function.</p>
<table><thead><tr><th>job</th><th>last run</th><th>next run</th><th>run it</th></tr></thead><tbody>
{{range .Jobs}}<tr data-job="{{.Kind}}" data-next="{{.NextAt}}"><td>{{.Kind}}</td><td>{{.Last}}</td><td>{{.Next}}</td>
<td><form method="post" action="/Console"><input type="hidden" name="action" value="run"><input type="hidden" name="kind" value="{{.Kind}}"><button id="run-{{.Kind}}">Run now</button></form></td></tr>{{end}}
</tbody></table>

<h2>Gmail, Google Contacts and Calendar (fake Google)</h2>
<div class="grid">
{{range $u := .Users}}<section class="card" id="user-{{$u.Email}}">
<h3>{{$u.Name}} &lt;{{$u.Email}}&gt;</h3>
<p>Google: {{$u.Connection}}{{if $u.Attention}} — <strong>{{$u.Attention}}</strong>{{end}}<br>Last mail pass: {{if $u.Pass}}{{$u.Pass}}{{else}}none yet{{end}}<br>Last contact sync: {{if $u.ContactPass}}{{$u.ContactPass}}{{else}}none yet{{end}}</p>
<form method="post" action="/Console"><input type="hidden" name="action" value="deliver"><input type="hidden" name="user" value="{{$u.Email}}">
<label>Deliver a demo message: <select name="template" id="template-{{$u.Email}}">{{range $.Templates}}<option value="{{.Key}}">{{.Title}}</option>{{end}}</select></label>
<button id="deliver-{{$u.Email}}">Deliver</button></form>
<table><thead><tr><th>from</th><th>subject</th><th>labels</th><th>as in Gmail</th></tr></thead><tbody>
{{range $u.Messages}}<tr data-subject="{{.Subject}}"><td>{{.From}}</td><td>{{.Subject}}</td><td class="status">{{range .Labels}}{{.}} {{end}}</td>
<td><form method="post" action="/Console"><input type="hidden" name="action" value="label"><input type="hidden" name="user" value="{{$u.Email}}"><input type="hidden" name="message" value="{{.ID}}"><button>Add {{$.CRMName}} label</button></form>
<a href="/Console?panel={{$u.Email}}/{{.ID}}" id="panel-{{.ID}}">Open the side panel</a></td></tr>
{{else}}<tr><td colspan="4" class="muted">no mail</td></tr>{{end}}
</tbody></table>
<details open><summary>Google Contacts ({{len $u.Contacts}})</summary>
<table>{{range $u.Contacts}}<tr data-person="{{.Given}} {{.Family}}"><td>{{.Given}} {{.Family}} <span class="muted">{{.Emails}}</span></td>
<td><form method="post" action="/Console"><input type="hidden" name="action" value="rename-google"><input type="hidden" name="user" value="{{$u.Email}}"><input type="hidden" name="person" value="{{.Resource}}">
<input name="given" value="{{.Given}}" size="8" maxlength="100" aria-label="given name"><input name="family" value="{{.Family}}" size="8" maxlength="100" aria-label="family name"><button>Rename</button></form></td></tr>{{end}}</table></details>
<details open><summary>Google Calendar ({{len $u.Events}})</summary><table>{{range $u.Events}}<tr data-event="{{.Summary}}"><td>{{.When}}</td><td>{{.Summary}}</td>
<td>{{if .Timed}}<form method="post" action="/Console"><input type="hidden" name="action" value="move-event"><input type="hidden" name="user" value="{{$u.Email}}"><input type="hidden" name="event" value="{{.ID}}"><button>Move 1 hour later</button></form>{{end}}</td></tr>{{end}}</table></details>
<details open><summary>CRM activities from calendar sync ({{len $u.Activities}})</summary><table>{{range $u.Activities}}<tr data-activity="{{.Text}}"><td>{{.Text}}</td>
<td>{{if .Timed}}<form method="post" action="/Console"><input type="hidden" name="action" value="move-activity"><input type="hidden" name="activity" value="{{.ID}}"><button>Move 1 hour later</button></form>{{end}}</td></tr>{{end}}</table></details>
</section>{{end}}
</div>

<h2>System e-mail</h2>
<p class="muted">What the product sends from {{.Sender}}: setup confirmations, preview reports with their Approve and Reject links, reconnect requests.</p>
<table><thead><tr><th>to</th><th>subject</th><th>date</th></tr></thead><tbody>
{{range .SystemMail}}<tr data-mail="{{.Subject}}"><td>{{.To}}</td><td><a href="/Console?mail={{.ID}}">{{.Subject}}</a></td><td>{{.Date}}</td></tr>
{{else}}<tr><td colspan="3" class="muted">none yet: sign in on the setup pages and save sync settings</td></tr>{{end}}
</tbody></table>

<h2>The reference CRM</h2>
<div class="grid">
<section class="card"><h3>Contacts and their notes</h3>
<table><thead><tr><th>contact</th><th>notes (newest first)</th></tr></thead><tbody>
{{range .Contacts}}<tr data-contact="{{.Name}}" id="contact-{{.ID}}"><td>{{.Name}} <span class="muted">({{.Type}}{{if .Clients}}, {{.Clients}} client(s){{end}})<br>{{.Emails}}</span>
<form method="post" action="/Console"><input type="hidden" name="action" value="rename-crm"><input type="hidden" name="contact" value="{{.ID}}">
<input name="given" value="{{.Given}}" size="8" maxlength="100" aria-label="first name"><input name="family" value="{{.Family}}" size="8" maxlength="100" aria-label="last name"><button id="rename-crm-{{.ID}}">Rename</button></form></td>
<td>{{range .Notes}}<div class="note">{{.}}</div>{{else}}<span class="muted">none</span>{{end}}</td></tr>{{end}}
</tbody></table></section>
<section class="card"><h3>Clients and their e-mail activities</h3>
<ul>{{range .Clients}}<li>{{.Name}}: {{range .Emails}}<div>{{.}}</div>{{else}}<span class="muted">none yet (Bob has automatic mail sync: deliver mail to him)</span>{{end}}</li>{{end}}</ul></section>
</div>
</main>
<script>
// Reload every 3 seconds to show what the system did, but never while a
// field has the focus or holds what the user typed: that would wipe it.
let dirty = false;
document.addEventListener("input", () => { dirty = true; });
const typing = () => document.activeElement && document.activeElement.matches("input:not([type=hidden]), select, textarea");
setInterval(() => { if (!dirty && !typing()) location.reload(); }, 3000);
</script>
</body></html>`))
