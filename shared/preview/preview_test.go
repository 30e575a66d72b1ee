package preview

import (
	"bytes"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/jhillyerd/enmime"

	"github.com/crmsync/crmsync/shared/golden"
	"github.com/crmsync/crmsync/shared/notify"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/twoway"
)

func TestSectionCountsEveryKindAndListsTheFirstRows(t *testing.T) {
	var plan twoway.Plan
	for i := range 12 {
		plan.Actions = append(plan.Actions, twoway.Action{Op: twoway.Create, Side: twoway.B, Name: "Person " + string(rune('A'+i))})
	}
	plan.Actions = append(plan.Actions,
		twoway.Action{Op: twoway.Delete, Side: twoway.A, Name: "Gone"},
		twoway.Action{Op: twoway.LinkOp, Name: "Both"},
		twoway.Action{Op: twoway.Update, Side: twoway.A, Name: "Changed"})
	s := SectionOf(Section{Title: "Contacts"}, plan)
	got := map[string]int{}
	for _, c := range s.Counts {
		got[c.Key] = c.N
	}
	for key, want := range map[string]int{"createCRM": 12, "deleteGoogle": 1, "link": 1, "updateGoogle": 1, "createGoogle": 0, "deleteCRM": 0} {
		if got[key] != want {
			t.Errorf("count %s = %d, want %d", key, got[key], want)
		}
	}
	if len(s.Rows) != MaxRows || s.More != 15-MaxRows {
		t.Errorf("%d rows and %d more, want %d and %d", len(s.Rows), s.More, MaxRows, 15-MaxRows)
	}
	// Google's rows come first (a fixed order: Google, then the CRM).
	if s.Rows[0].Name != "Changed" || s.Rows[1].Name != "Gone" {
		t.Errorf("first rows %+v", s.Rows[:2])
	}
	if g := SectionOf(Section{}, twoway.Plan{Guarded: "it would delete 40 of 50 contacts"}); !strings.Contains(g.Problem, "40 of 50") {
		t.Errorf("a guarded plan's problem: %q", g.Problem)
	}
}

func TestMailBehaviourFollowsTheOptions(t *testing.T) {
	tn := store.Tenant{CRMName: "SmartOffice", Domains: []string{"firm.test"}, AttachmentLimitBytes: 5 << 20}
	if got := MailBehaviour(tn, store.MailSetup{}); len(got) != 1 || !strings.Contains(got[0], "off") {
		t.Errorf("posting off: %v", got)
	}
	if got := MailBehaviour(store.Tenant{AutoMailSync: true}, store.MailSetup{AutoSync: true}); len(got) != 2 || !strings.Contains(got[0], "Automatic mail sync is on") {
		t.Errorf("posting off: %v", got)
	}
	all := strings.Join(MailBehaviour(tn, store.MailSetup{Enabled: true, Outgoing: []string{"To"}, Incoming: []string{"From", "Cc"},
		PostUnmatchedToOwnRecord: true, IncludeAttachments: true, SkipInternal: true, OfferLinkedRecords: true}), "\n")
	for _, want := range []string{`label "SmartOffice"`, "Outgoing mail is matched on To; incoming mail on From, Cc", "your own record",
		"up to 5.0 MB each", "(firm.test) is not posted", "linked to the matched contacts"} {
		if !strings.Contains(all, want) {
			t.Errorf("lacks %q:\n%s", want, all)
		}
	}
	none := strings.Join(MailBehaviour(tn, store.MailSetup{Enabled: true}), "\n")
	for _, want := range []string{`move to "SmartOfficeUnmatched"`, "Attachments are not posted", "no header (nothing matches)"} {
		if !strings.Contains(none, want) {
			t.Errorf("lacks %q:\n%s", want, none)
		}
	}
}

// The report renders as Gmail shows it: inline styles, no scripts, both
// parts, the links in each, names escaped.
func TestReportRendersAsAnEmail(t *testing.T) {
	r := Report{App: "SmartOffice Sync", User: store.User{Email: "cat@firm.test", DisplayName: "Cat <script>"},
		Contacts:   SectionOf(Section{Title: "Contacts", Direction: "both ways"}, twoway.Plan{Actions: []twoway.Action{{Op: twoway.Create, Side: twoway.A, Name: "Gina <gina@green.test>"}}}),
		Calendar:   Section{Title: "Calendar", Direction: "do not sync", Off: true},
		Mail:       []string{"E-mail posting is off: nothing is posted from Gmail."},
		ApproveURL: "https://web.example/preview/approve?p=a.b", RejectURL: "https://web.example/preview/reject?p=c.d",
		Expires: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	msg, err := r.Message()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`href="https://web.example/preview/approve?p=a.b"`, "Gina &lt;gina@green.test&gt;", "Cat &lt;script&gt;", "Calendar sync is off", "Tue 1 Dec 2026 09:00 UTC"} {
		if !strings.Contains(msg.HTML, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(strings.ToLower(msg.HTML), "<script") || strings.Contains(msg.HTML, "<link") || strings.Contains(msg.HTML, "class=") {
		t.Error("the HTML has a script, a stylesheet link or a class (Gmail drops them; styles must be inline)")
	}
	for _, want := range []string{"Create in Google: 1", "- Create in Google: Gina <gina@green.test>", "https://web.example/preview/reject?p=c.d"} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, msg.Text)
		}
	}
	raw, err := notify.Compose(mailAddr("crm-sync@firm.test"), msg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if env.GetHeader("Subject") != msg.Subject || !strings.Contains(env.HTML, "Preview of your sync setup") || !strings.Contains(env.Text, "Approve") {
		t.Errorf("the composed message reads back as subject %q, html %d bytes, text %d bytes", env.GetHeader("Subject"), len(env.HTML), len(env.Text))
	}
}

// A link names its preview and carries nothing secret.
func TestLinkURL(t *testing.T) {
	got := LinkURL("https://web.example/", "cat@firm.test:3", "approve")
	if got != "https://web.example/preview/approve?p=cat%40firm.test%3A3" {
		t.Errorf("LinkURL = %q", got)
	}
}

func mailAddr(a string) mail.Address { return mail.Address{Address: a} }

// The report and the confirmation as users receive them, whole: a change
// to either shows in review as a change to its golden file.
func TestEmailsMatchTheirGoldenFiles(t *testing.T) {
	tn := store.Tenant{ID: "firm", Name: "Firm", CRMName: "SmartOffice"}
	u := store.User{ID: "cat@firm.test", Email: "cat@firm.test", DisplayName: "Cat Chen", SettingsVersion: 2,
		Contacts: store.ContactsSetup{Direction: "both"}, Calendar: store.CalendarSetup{Direction: "google-to-crm"}, Mail: store.MailSetup{Enabled: true}}
	r := Report{App: "SmartOffice Sync", Firm: "Firm", User: u, Tenant: tn,
		Contacts: SectionOf(Section{Title: "Contacts", Direction: "both ways"}, twoway.Plan{Actions: []twoway.Action{
			{Op: twoway.Create, Side: twoway.B, Name: "Gina Green <gina@green.test>"}, {Op: twoway.Update, Side: twoway.A, Name: "Frank Finance"}}}),
		Calendar:   Section{Title: "Calendar", Direction: "Google to CRM only", Problem: `cat@firm.test has no Google calendar named "Work"`},
		Mail:       MailBehaviour(tn, u.Mail),
		ApproveURL: LinkURL("https://web.example/Web", "cat@firm.test:2", "approve"), RejectURL: LinkURL("https://web.example/Web", "cat@firm.test:2", "reject"),
		Expires: time.Now().Add(7 * 24 * time.Hour)}
	// The expiry is the one part that depends on the day: it must be in
	// the e-mail, and the golden files hold a stand-in for it.
	day := r.Expires.UTC().Format("Mon 2 Jan 2006 15:04 MST")
	undated := func(s string) []byte {
		if !strings.Contains(s, day) {
			t.Errorf("the e-mail does not say when its links expire (%s)", day)
		}
		return []byte(strings.ReplaceAll(s, day, "EXPIRES"))
	}
	msg, err := r.Message()
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "report.html", undated(msg.HTML))
	golden.Check(t, "report.txt", undated(msg.Subject+"\n\n"+msg.Text))
	c, err := Confirmation(tn, u, "https://web.example/Web/settings")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "confirmation.html", []byte(c.HTML))
	golden.Check(t, "confirmation.txt", []byte(c.Subject+"\n\n"+c.Text))
	// A later save is a change, not a creation.
	u.SettingsVersion = 3
	if c, err = Confirmation(tn, u, "https://web.example/Web/settings"); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "confirmation-changed.txt", []byte(c.Subject+"\n\n"+c.Text))
	// A section whose pass would change nothing says so.
	r.Contacts = SectionOf(Section{Title: "Contacts", Direction: "both ways"}, twoway.Plan{})
	if msg, err = r.Message(); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "report-no-changes.txt", undated(msg.Text))
	if !strings.Contains(msg.HTML, "No changes: both sides already agree.") {
		t.Error("the HTML of a section without changes does not say so")
	}
}
