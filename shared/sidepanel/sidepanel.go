// Package sidepanel is the Gmail side panel: a Google Workspace add-on
// served over HTTP. Gmail posts an event object (the open message, the
// user, their tokens) and renders the cards the panel answers, in the
// google.apps.card.v1 schema. For the open message the panel shows what
// posting it came to and why, the CRM contacts it went to, Post now, the
// contacts' linked records to post it to as well (the "Prompt to post
// e-mails to contact's linked records" option) and, for a sender the CRM
// does not know, Create contact. Its homepage shows the user's sync
// status and what needs their attention.
//
// Posting goes through the mail engine (the same rules and exactly-once
// ledger as labeling); the message itself is read only with the access
// the event carries (the add-on's current-message scope).
package sidepanel

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"net/mail"
	"slices"
	"strings"

	cardpb "google.golang.org/genproto/googleapis/apps/card/v1"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/mailbox"
	"github.com/crmsync/crmsync/shared/setup"
	"github.com/crmsync/crmsync/shared/store"
)

// Event is the add-on event object Gmail posts, the fields the panel
// reads (developers.google.com/workspace/add-ons/concepts/event-objects).
type Event struct {
	Common struct {
		HostApp    string               `json:"hostApp"`
		Parameters map[string]string    `json:"parameters,omitempty"`
		FormInputs map[string]formInput `json:"formInputs,omitempty"`
	} `json:"commonEventObject"`
	Authorization struct {
		UserOAuthToken string `json:"userOAuthToken"`
		UserIDToken    string `json:"userIdToken"`
		SystemIDToken  string `json:"systemIdToken"`
	} `json:"authorizationEventObject"`
	Gmail struct {
		MessageID   string `json:"messageId"`
		ThreadID    string `json:"threadId"`
		AccessToken string `json:"accessToken"`
	} `json:"gmail"`
}

type formInput struct {
	StringInputs struct {
		Value []string `json:"value"`
	} `json:"stringInputs"`
}

// Input is the values a form widget of the card sent.
func (e Event) Input(name string) []string { return e.Common.FormInputs[name].StringInputs.Value }

// Mail is what the panel needs of the mail engine.
type Mail interface {
	PostNow(ctx context.Context, email, id string) (mailbox.Outcome, error)
	PostToRecords(ctx context.Context, email, id string, records []string) (mailbox.Outcome, error)
	OutcomeOf(ctx context.Context, u store.User, id string) (mailbox.Outcome, error)
}

// CRM is what the panel needs of the CRM.
type CRM interface {
	UserByEmail(ctx context.Context, email string) (crm.User, error)
	Contact(ctx context.Context, asUser, id string) (crm.Contact, error)
	Records(ctx context.Context, asUser, contactID string) ([]crm.Record, error)
	CreateContact(ctx context.Context, w crm.Write, c crm.Contact) (crm.Contact, error)
}

// Review is automatic mail sync's review queue.
type Review interface {
	ReviewQueue(ctx context.Context, u store.User) (setup.Review, error)
	Resolve(ctx context.Context, u store.User, id, clientID string) (crm.EmailActivity, error)
}

// Sender reads the open message's sender with the access the event
// carries.
type Sender interface {
	Sender(ctx context.Context, e Event) (*mail.Address, error)
}

// Panel answers the add-on's events. Its fields are its dependencies.
type Panel struct {
	Store  *store.Store
	Mail   Mail
	CRM    CRM
	Sender Sender
	// Review decides the guesses of automatic mail sync (nil: no review).
	Review Review
	// ActionURL is where the cards' buttons post (this function's action
	// endpoint); SettingsURL the Web function's settings page; ContactURL
	// a CRM contact's page, with %s for its id ("" shows no links).
	ActionURL, SettingsURL, ContactURL string
	Log                                *slog.Logger
}

// Homepage is the panel with no message open: the user's sync status and
// what needs their attention.
func (p *Panel) Homepage(ctx context.Context, email string) (*cardpb.Card, error) {
	u, t, err := p.user(ctx, email)
	if err != nil {
		return nil, err
	}
	st := setup.StatusOf(t, u)
	words := []string{
		"Google: " + words(string(st.Connection)),
		"Sync setup: " + words(string(st.Setup)),
	}
	for _, f := range []string{"mail", "contacts", "calendar"} {
		if ps, ok := st.Passes[f]; ok {
			state := "OK"
			if !ps.OK {
				state = "failed: " + ps.Error
			}
			words = append(words, fmt.Sprintf("Last %s sync: %s (%s UTC)", f, state, ps.At.UTC().Format("2 Jan 15:04")))
		}
	}
	sections := []*cardpb.Card_Section{{Widgets: paragraphs(words...)}}
	var attention []string
	if st.Attention != "" {
		attention = append(attention, st.Attention)
	}
	for _, f := range st.NeedsAccess {
		attention = append(attention, "Give access to "+f+" on the settings page.")
	}
	if st.LastError != "" {
		attention = append(attention, "Last error: "+st.LastError)
	}
	if len(attention) > 0 {
		sections = append(sections, &cardpb.Card_Section{Header: "Needs your attention", Widgets: paragraphs(attention...)})
	}
	sections = append(sections, &cardpb.Card_Section{Widgets: []*cardpb.Widget{buttons(linkButton("Open the settings", p.SettingsURL))}})
	return &cardpb.Card{Header: &cardpb.Card_CardHeader{Title: t.CRMName + " sync", Subtitle: u.Email}, Sections: sections}, nil
}

// Message is the panel for the open message: what posting it came to and
// what the user can do about it.
func (p *Panel) Message(ctx context.Context, email string, e Event) (*cardpb.Card, error) {
	u, t, err := p.user(ctx, email)
	if err != nil {
		return nil, err
	}
	id := e.Gmail.MessageID
	if id == "" {
		return nil, failure.Errorf("sidepanel: message", failure.Invalid, "the event names no open message")
	}
	o, err := p.Mail.OutcomeOf(ctx, u, id)
	if err != nil {
		return nil, err
	}
	crmUser, err := p.CRM.UserByEmail(ctx, u.Email)
	if err != nil {
		return nil, err
	}
	if o.Outcome == "" {
		o.Outcome = "not posted"
	}
	outcome := []string{strings.ToUpper(o.Outcome[:1]) + o.Outcome[1:]}
	if o.Reason != "" {
		outcome = append(outcome, o.Reason)
	}
	sections := []*cardpb.Card_Section{{Header: "Posting to " + t.CRMName, Widgets: paragraphs(outcome...)}}
	if len(o.Contacts) > 0 {
		var ws []*cardpb.Widget
		for _, id := range o.Contacts {
			c, err := p.CRM.Contact(ctx, crmUser.ID, id)
			if err != nil {
				return nil, err
			}
			ws = append(ws, p.contactWidget(c))
		}
		sections = append(sections, &cardpb.Card_Section{Header: "Posted to", Widgets: ws})
	}
	switch o.Outcome {
	case "posted":
		if u.Mail.OfferLinkedRecords && len(o.OfferedRecords) > 0 {
			s, err := p.recordsSection(ctx, crmUser.ID, o, id)
			if err != nil {
				return nil, err
			}
			sections = append(sections, s)
		}
	case "unmatched":
		from, err := p.Sender.Sender(ctx, e)
		if err != nil {
			return nil, err
		}
		name := from.Name
		if name == "" {
			name = from.Address
		}
		sections = append(sections, &cardpb.Card_Section{Header: "Not in " + t.CRMName,
			Widgets: append(paragraphs(name+" <"+from.Address+"> is no contact of yours in "+t.CRMName+"."),
				buttons(p.actionButton("Create contact and post", "create", id)))})
		fallthrough
	default:
		if o.Outcome != "posted" && o.Outcome != "deleted" {
			sections = append(sections, &cardpb.Card_Section{Widgets: []*cardpb.Widget{buttons(p.actionButton("Post now", "post", id))}})
		}
	}
	if u.Mail.AutoSync && p.Review != nil {
		s, err := p.reviewSection(ctx, u, id)
		if err != nil {
			return nil, err
		}
		if s != nil {
			sections = append(sections, s)
		}
	}
	return &cardpb.Card{Header: &cardpb.Card_CardHeader{Title: t.CRMName + " sync", Subtitle: u.Email}, Sections: sections}, nil
}

// reviewSection is the review decision for a message automatic mail sync
// filed on a guess, as the review page offers it: approve the guess, or
// choose another client. None when the message waits for no decision.
func (p *Panel) reviewSection(ctx context.Context, u store.User, id string) (*cardpb.Card_Section, error) {
	rq, err := p.Review.ReviewQueue(ctx, u)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(rq.Items, func(it setup.ReviewItem) bool { return it.Message == id })
	if i < 0 {
		return nil, nil
	}
	item := rq.Items[i]
	in := &cardpb.SelectionInput{Name: "client", Label: "Or move it to", Type: cardpb.SelectionInput_DROPDOWN}
	for _, c := range slices.Concat([]crm.Client{item.Suggested}, item.Candidates) {
		in.Items = append(in.Items, &cardpb.SelectionInput_SelectionItem{Text: c.Name, Value: c.ID, Selected: c.ID == item.Suggested.ID})
	}
	approve, move := p.actionButton("Approve", "review", id), p.actionButton("Move it", "review-move", id)
	for _, b := range []*cardpb.Button{approve, move} {
		a := b.GetOnClick().GetAction()
		a.Parameters = append(a.Parameters, &cardpb.Action_ActionParameter{Key: "activity", Value: item.ID})
	}
	return &cardpb.Card_Section{Header: "Automatic mail sync: review", Widgets: append(
		paragraphs("Filed on "+item.Suggested.Name+": "+item.Reason+"."),
		&cardpb.Widget{Data: &cardpb.Widget_SelectionInput{SelectionInput: in}},
		buttons(approve, move))}, nil
}

// recordsSection offers the linked records of the contacts the message
// went to, to post it to as well.
func (p *Panel) recordsSection(ctx context.Context, asUser string, o mailbox.Outcome, id string) (*cardpb.Card_Section, error) {
	in := &cardpb.SelectionInput{Name: "records", Label: "Also post to these linked records", Type: cardpb.SelectionInput_CHECK_BOX}
	for _, contact := range o.Contacts {
		recs, err := p.CRM.Records(ctx, asUser, contact)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			kind := map[string]string{crm.RecordPolicy: "Policy", crm.RecordPendingCase: "Pending case"}[r.Type]
			in.Items = append(in.Items, &cardpb.SelectionInput_SelectionItem{Text: strings.TrimSpace(kind + " " + r.Title), Value: r.ID})
		}
	}
	return &cardpb.Card_Section{Header: "Linked records", Widgets: []*cardpb.Widget{
		{Data: &cardpb.Widget_SelectionInput{SelectionInput: in}},
		buttons(p.actionButton("Post to the chosen records", "records", id)),
	}}, nil
}

// Act carries out a button's action and returns the message's card
// afresh, with a notification saying what was done.
func (p *Panel) Act(ctx context.Context, email string, e Event) (*cardpb.Card, string, error) {
	id := e.Common.Parameters["message"]
	if id == "" || id != e.Gmail.MessageID {
		return nil, "", failure.Errorf("sidepanel: action", failure.Invalid, "the action is for another message than the open one")
	}
	var note string
	switch e.Common.Parameters["action"] {
	case "post":
		o, err := p.Mail.PostNow(ctx, email, id)
		if err != nil {
			return nil, "", err
		}
		note = "The message is " + o.Outcome + "."
	case "records":
		chosen := e.Input("records")
		if _, err := p.Mail.PostToRecords(ctx, email, id, chosen); err != nil {
			return nil, "", err
		}
		note = fmt.Sprintf("Posted to %d linked record(s).", len(chosen))
	case "review", "review-move":
		u, _, err := p.user(ctx, email)
		if err != nil {
			return nil, "", err
		}
		client := ""
		if chosen := e.Input("client"); e.Common.Parameters["action"] == "review-move" && len(chosen) > 0 {
			client = chosen[0]
		}
		if _, err := p.Review.Resolve(ctx, u, e.Common.Parameters["activity"], client); err != nil {
			return nil, "", err
		}
		note = "Reviewed: the e-mail stays on the client you chose."
	case "create":
		c, err := p.createContact(ctx, email, e)
		if err != nil {
			return nil, "", err
		}
		o, err := p.Mail.PostNow(ctx, email, id)
		if err != nil {
			return nil, "", err
		}
		note = fmt.Sprintf("%s %s is now a contact; the message is %s.", c.FirstName, c.LastName, o.Outcome)
	default:
		return nil, "", failure.Errorf("sidepanel: action", failure.Invalid, "unknown action %q", e.Common.Parameters["action"])
	}
	card, err := p.Message(ctx, email, e)
	return card, note, err
}

// createContact makes the open message's sender a contact of the user's.
func (p *Panel) createContact(ctx context.Context, email string, e Event) (crm.Contact, error) {
	from, err := p.Sender.Sender(ctx, e)
	if err != nil {
		return crm.Contact{}, err
	}
	crmUser, err := p.CRM.UserByEmail(ctx, email)
	if err != nil {
		return crm.Contact{}, err
	}
	first, last, _ := strings.Cut(strings.TrimSpace(from.Name), " ")
	if first == "" {
		first, _, _ = strings.Cut(from.Address, "@")
	}
	c, err := p.CRM.CreateContact(ctx, crm.Write{AsUser: crmUser.ID, Origin: crm.Origin, IdempotencyKey: "sidepanel:" + email + ":" + e.Gmail.MessageID},
		crm.Contact{Type: crm.TypeContact, FirstName: first, LastName: last, Emails: []string{from.Address}})
	if err == nil {
		p.Log.Info("sidepanel: contact created from a message", "user", email, "messageId", e.Gmail.MessageID, "contact", c.ID)
	}
	return c, err
}

// user reads the user and their firm; one the product does not know is
// told to sign up.
func (p *Panel) user(ctx context.Context, email string) (store.User, store.Tenant, error) {
	u, err := p.Store.Users().Get(ctx, email)
	if failure.Is(err, failure.NotFound) {
		return u, store.Tenant{}, failure.Errorf("sidepanel: user", failure.Forbidden, "%s has not set up sync yet: open the settings page first", email)
	}
	if err != nil {
		return u, store.Tenant{}, err
	}
	t, err := p.Store.Tenants().Get(ctx, u.TenantID)
	return u, t, err
}

func (p *Panel) contactWidget(c crm.Contact) *cardpb.Widget {
	d := &cardpb.DecoratedText{Text: strings.TrimSpace(c.FirstName + " " + c.LastName), BottomLabel: strings.Join(c.Emails, ", "), WrapText: true}
	if p.ContactURL != "" {
		d.OnClick = &cardpb.OnClick{Data: &cardpb.OnClick_OpenLink{OpenLink: &cardpb.OpenLink{Url: fmt.Sprintf(p.ContactURL, c.ID)}}}
	}
	return &cardpb.Widget{Data: &cardpb.Widget_DecoratedText{DecoratedText: d}}
}

func (p *Panel) actionButton(text, action, message string) *cardpb.Button {
	return &cardpb.Button{Text: text, OnClick: &cardpb.OnClick{Data: &cardpb.OnClick_Action{Action: &cardpb.Action{Function: p.ActionURL,
		Parameters: []*cardpb.Action_ActionParameter{{Key: "action", Value: action}, {Key: "message", Value: message}}}}}}
}

func linkButton(text, url string) *cardpb.Button {
	return &cardpb.Button{Text: text, OnClick: &cardpb.OnClick{Data: &cardpb.OnClick_OpenLink{OpenLink: &cardpb.OpenLink{Url: url}}}}
}

func buttons(bs ...*cardpb.Button) *cardpb.Widget {
	return &cardpb.Widget{Data: &cardpb.Widget_ButtonList{ButtonList: &cardpb.ButtonList{Buttons: bs}}}
}

// paragraphs are text widgets. Cards read their text as an HTML subset:
// it is escaped, since reasons and names come from mail and the CRM.
func paragraphs(texts ...string) []*cardpb.Widget {
	var out []*cardpb.Widget
	for _, t := range texts {
		out = append(out, &cardpb.Widget{Data: &cardpb.Widget_TextParagraph{TextParagraph: &cardpb.TextParagraph{Text: html.EscapeString(t)}}})
	}
	return out
}

// words is a stored state in words ("pending_approval" → "pending
// approval").
func words(s string) string { return strings.ReplaceAll(s, "_", " ") }
