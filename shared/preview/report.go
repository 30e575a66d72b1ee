package preview

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/crmsync/crmsync/shared/mailbox"
	"github.com/crmsync/crmsync/shared/notify"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/twoway"
)

// Report is a preview report's content.
type Report struct {
	App, Firm          string
	User               store.User
	Tenant             store.Tenant
	Contacts, Calendar Section
	// Mail says, line by line, how e-mail posting will behave.
	Mail                  []string
	ApproveURL, RejectURL string
	Expires               time.Time
}

// Section is one feature's planned first pass.
type Section struct {
	Title, Direction string
	Off              bool
	// Problem says why the pass could not be planned.
	Problem string
	Counts  []Count
	Rows    []Row
	// More is how many rows were left out.
	More int
}

// Changes is how many actions the section's pass would take.
func (s Section) Changes() int {
	n := 0
	for _, c := range s.Counts {
		n += c.N
	}
	return n
}

// Count is how many actions of one kind a pass would take.
type Count struct {
	What string
	N    int
	Key  string
}

// Row is one planned action.
type Row struct{ What, Name, Why string }

var sideNames = map[twoway.Side]string{twoway.A: "Google", twoway.B: "the CRM"}

func opText(op twoway.Op, side twoway.Side) string {
	where := sideNames[side]
	switch op {
	case twoway.Create:
		return "Create in " + where
	case twoway.Update:
		return "Update in " + where
	case twoway.Delete:
		return "Delete from " + where
	case twoway.DetachOp:
		return "Remove from the synced set in " + where
	case twoway.LinkOp:
		return "Link (already on both sides)"
	case twoway.Unlink:
		return "Stop syncing (kept on both sides)"
	case twoway.Duplicate:
		return "Not copied: has the address of a contact already synced"
	}
	return "Other"
}

func opKey(op twoway.Op, side twoway.Side) string {
	names := map[twoway.Op]string{twoway.Create: "create", twoway.Update: "update", twoway.Delete: "delete", twoway.DetachOp: "detach", twoway.LinkOp: "link", twoway.Unlink: "unlink", twoway.Duplicate: "duplicate"}
	sides := map[twoway.Side]string{twoway.A: "Google", twoway.B: "CRM"}
	if op == twoway.LinkOp || op == twoway.Unlink || op == twoway.Duplicate {
		return names[op]
	}
	return names[op] + sides[side]
}

// SectionOf fills sec with plan's counts (every kind, in a fixed order)
// and its first MaxRows rows, creations and deletions first.
func SectionOf(sec Section, plan twoway.Plan) Section {
	type kind struct {
		op   twoway.Op
		side twoway.Side
	}
	order := []kind{{twoway.Create, twoway.A}, {twoway.Update, twoway.A}, {twoway.Delete, twoway.A}, {twoway.Create, twoway.B}, {twoway.Update, twoway.B},
		{twoway.Delete, twoway.B}, {twoway.DetachOp, twoway.B}, {twoway.LinkOp, 0}, {twoway.Unlink, 0}, {twoway.Duplicate, 0}}
	for _, k := range order {
		n := 0
		for _, a := range plan.Actions {
			if a.Op == k.op && (k.side == 0 || a.Side == k.side) {
				n++
			}
		}
		sec.Counts = append(sec.Counts, Count{What: opText(k.op, k.side), N: n, Key: opKey(k.op, k.side)})
	}
	for _, k := range order {
		for _, a := range plan.Actions {
			if a.Op != k.op || (k.side != 0 && a.Side != k.side) {
				continue
			}
			if len(sec.Rows) == MaxRows {
				sec.More++
				continue
			}
			sec.Rows = append(sec.Rows, Row{What: opText(a.Op, a.Side), Name: a.Name, Why: a.Why})
		}
	}
	if plan.Guarded != "" {
		sec.Problem = "The first pass would stop and ask you to confirm: " + plan.Guarded + "."
	}
	return sec
}

// Summary is the report's counts, keyed "contacts.createGoogle", ….
func (r Report) Summary() map[string]int {
	out := map[string]int{}
	for _, s := range r.Sections() {
		for _, c := range s.Counts {
			out[strings.ToLower(s.Title)+"."+c.Key] = c.N
		}
	}
	return out
}

// MailBehaviour says how e-mail posting will behave with the options.
func MailBehaviour(t store.Tenant, m store.MailSetup) []string {
	var auto []string
	if m.AutoSync && t.AutoMailSync {
		auto = []string{"Automatic mail sync is on: incoming mail, and mail you send with your own address among the recipients, is filed as an e-mail activity on the client whose contacts it involves; when several clients could match, the best guess is filed and waits for your review."}
	}
	if !m.Enabled {
		return append(auto, "E-mail posting by label is off: nothing is posted to contacts' notes.")
	}
	label := mailbox.LabelName(t.CRMName, mailbox.RoleTrigger)
	out := []string{
		fmt.Sprintf("Add the Gmail label %q to a message to post it to the %s notes of the contacts it matches.", label, t.CRMName),
		fmt.Sprintf("Outgoing mail is matched on %s; incoming mail on %s.", headerList(m.Outgoing), headerList(m.Incoming)),
		fmt.Sprintf("Posted messages move to %q; those that fail move to %q with the reason.", mailbox.LabelName(t.CRMName, mailbox.RolePosted), mailbox.LabelName(t.CRMName, mailbox.RoleFailed)),
	}
	if m.PostUnmatchedToOwnRecord {
		out = append(out, "Messages that match no contact are posted to your own record.")
	} else {
		out = append(out, fmt.Sprintf("Messages that match no contact move to %q.", mailbox.LabelName(t.CRMName, mailbox.RoleUnmatched)))
	}
	if m.IncludeAttachments {
		limit := "no size limit"
		if t.AttachmentLimitBytes > 0 {
			limit = fmt.Sprintf("up to %.1f MB each", float64(t.AttachmentLimitBytes)/(1<<20))
		}
		out = append(out, "Attachments are posted ("+limit+").")
	} else {
		out = append(out, "Attachments are not posted.")
	}
	if m.SkipInternal {
		out = append(out, "Mail within your firm ("+strings.Join(t.Domains, ", ")+") is not posted; it moves to the Failed label.")
	}
	if m.OfferLinkedRecords {
		out = append(out, "Mail is also posted to the records linked to the matched contacts (policies, pending cases).")
	}
	return append(out, auto...)
}

func headerList(hs []string) string {
	if len(hs) == 0 {
		return "no header (nothing matches)"
	}
	return strings.Join(hs, ", ")
}

// Message renders the report as its e-mail.
func (r Report) Message() (notify.Message, error) {
	var h, t bytes.Buffer
	if err := reportHTML.Execute(&h, r); err != nil {
		return notify.Message{}, err
	}
	if err := reportText.Execute(&t, r); err != nil {
		return notify.Message{}, err
	}
	return notify.Message{To: r.User.Email, Subject: r.App + ": preview of your sync setup, to approve or reject", Text: t.String(), HTML: h.String(), FromName: r.App}, nil
}

// Confirmation is the e-mail sent when a user saves a sync setup.
func Confirmation(t store.Tenant, u store.User, settingsURL string) (notify.Message, error) {
	verb := "created"
	if u.SettingsVersion > 1 {
		verb = "changed" // saved before: this is a change of it
	}
	data := map[string]any{"App": appName(t), "User": u, "SettingsURL": settingsURL, "Contacts": DirectionText(u.Contacts.Direction),
		"Calendar": DirectionText(u.Calendar.Direction), "Mail": u.Mail.Enabled, "Verb": verb}
	var h, txt bytes.Buffer
	if err := confirmHTML.Execute(&h, data); err != nil {
		return notify.Message{}, err
	}
	if err := confirmText.Execute(&txt, data); err != nil {
		return notify.Message{}, err
	}
	return notify.Message{To: u.Email, Subject: appName(t) + ": your sync setup was " + verb, Text: txt.String(), HTML: h.String(), FromName: appName(t),
		Key: fmt.Sprintf("setup-%s-%d", u.ID, u.SettingsVersion)}, nil
}

var funcs = map[string]any{"date": func(t time.Time) string { return t.UTC().Format("Mon 2 Jan 2006 15:04 MST") }}

const (
	styleBody   = `margin:0;padding:24px;background:#f6f7f9;font-family:Arial,Helvetica,sans-serif;color:#202124;font-size:14px;line-height:1.5`
	styleCard   = `max-width:640px;margin:0 auto;background:#ffffff;border:1px solid #dadce0;border-radius:8px;padding:24px`
	styleTable  = `border-collapse:collapse;width:100%;margin:8px 0 16px`
	styleCell   = `border-bottom:1px solid #e8eaed;padding:6px 8px;text-align:left;vertical-align:top`
	styleButton = `display:inline-block;padding:10px 20px;border-radius:4px;text-decoration:none;font-weight:bold;color:#ffffff`
)

var reportHTML = htmltemplate.Must(htmltemplate.New("report").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{{.App}}: preview of your sync setup</title></head>
<body style="` + styleBody + `"><div style="` + styleCard + `">
<h1 style="font-size:20px;margin:0 0 8px">Preview of your sync setup</h1>
<p style="margin:0 0 16px">Hello {{with .User.DisplayName}}{{.}}{{else}}{{.User.Email}}{{end}}, this is what {{.App}} will do once you approve. Nothing has changed yet.</p>
{{range $s := .Sections}}
<h2 style="font-size:16px;margin:16px 0 4px">{{$s.Title}}: {{$s.Direction}}</h2>
{{if $s.Off}}<p style="margin:0 0 8px;color:#5f6368">{{$s.Title}} sync is off.</p>{{else}}
{{with $s.Problem}}<p style="margin:0 0 8px;color:#b3261e">{{.}}</p>{{end}}
{{if or $s.Changes (not $s.Problem)}}<table role="presentation" style="` + styleTable + `">{{if $s.Changes}}{{range $s.Counts}}{{if .N}}<tr><td style="` + styleCell + `">{{.What}}</td><td style="` + styleCell + `;text-align:right;font-weight:bold">{{.N}}</td></tr>{{end}}{{end}}{{else}}<tr><td style="` + styleCell + `">No changes: both sides already agree.</td></tr>{{end}}</table>{{end}}
{{if $s.Rows}}<table style="` + styleTable + `"><tr><th style="` + styleCell + `">Action</th><th style="` + styleCell + `">Record</th></tr>
{{range $s.Rows}}<tr><td style="` + styleCell + `">{{.What}}</td><td style="` + styleCell + `">{{.Name}}</td></tr>{{end}}
{{if $s.More}}<tr><td colspan="2" style="` + styleCell + `;color:#5f6368">… and {{$s.More}} more</td></tr>{{end}}</table>{{end}}{{end}}
{{end}}
<h2 style="font-size:16px;margin:16px 0 4px">E-mail posting</h2>
<ul style="margin:0 0 16px;padding-left:20px">{{range .Mail}}<li>{{.}}</li>{{end}}</ul>
<p style="margin:16px 0">If this is what you expect, approve it; sync starts right away. If not, reject it and change your settings.</p>
<p style="margin:0 0 16px"><a href="{{.ApproveURL}}" style="` + styleButton + `;background:#1a73e8">Approve</a>&nbsp;&nbsp;<a href="{{.RejectURL}}" style="` + styleButton + `;background:#5f6368">Reject</a></p>
<p style="margin:0;color:#5f6368;font-size:12px">These links ask you to sign in as {{.User.Email}}, work once, until {{date .Expires}}, and only for these settings: saving your settings again sends a new preview.</p>
</div></body></html>
`))

var reportText = texttemplate.Must(texttemplate.New("report").Funcs(funcs).Parse(`Preview of your sync setup

Hello {{with .User.DisplayName}}{{.}}{{else}}{{.User.Email}}{{end}}, this is what {{.App}} will do once you approve. Nothing has changed yet.
{{range $s := .Sections}}
{{$s.Title}}: {{$s.Direction}}
{{if $s.Off}}  {{$s.Title}} sync is off.
{{else}}{{with $s.Problem}}  {{.}}
{{else}}{{if not $s.Changes}}  No changes: both sides already agree.
{{end}}{{end}}{{range $s.Counts}}{{if .N}}  {{.What}}: {{.N}}
{{end}}{{end}}{{range $s.Rows}}  - {{.What}}: {{.Name}}
{{end}}{{if $s.More}}  … and {{$s.More}} more
{{end}}{{end}}{{end}}
E-mail posting
{{range .Mail}}  - {{.}}
{{end}}
Approve (sync starts right away):
{{.ApproveURL}}

Reject (nothing starts; change your settings):
{{.RejectURL}}

These links ask you to sign in as {{.User.Email}}, work once, until {{date .Expires}}, and only for these settings.
`))

var confirmHTML = htmltemplate.Must(htmltemplate.New("confirm").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.App}}: your sync setup was {{.Verb}}</title></head>
<body style="` + styleBody + `"><div style="` + styleCard + `">
<h1 style="font-size:20px;margin:0 0 8px">Your sync setup was {{.Verb}}</h1>
<p>Contacts: {{.Contacts}}. Calendar: {{.Calendar}}. E-mail posting: {{if .Mail}}on{{else}}off{{end}}.</p>
<p>Within a few minutes you will receive a preview report of what the first sync will do, with links to approve or reject it. Nothing syncs until you approve.</p>
<p><a href="{{.SettingsURL}}" style="color:#1a73e8">Review or change your settings</a></p>
</div></body></html>
`))

var confirmText = texttemplate.Must(texttemplate.New("confirm").Parse(`Your sync setup was {{.Verb}}

Contacts: {{.Contacts}}. Calendar: {{.Calendar}}. E-mail posting: {{if .Mail}}on{{else}}off{{end}}.

Within a few minutes you will receive a preview report of what the first sync will do, with links to approve or reject it. Nothing syncs until you approve.

Review or change your settings: {{.SettingsURL}}
`))

// Sections are the report's sync sections, in order.
func (r Report) Sections() []Section { return []Section{r.Contacts, r.Calendar} }
