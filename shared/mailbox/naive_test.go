package mailbox_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"testing"
	"time"

	gmail "google.golang.org/api/gmail/v1"
	"google.golang.org/api/googleapi"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/mailbox"
	"github.com/crmsync/crmsync/shared/mailparse"
)

// naive is the loop anyone would write first, measured beside the engine
// (issue 23): the history since a cursor, then for each labeled message its
// raw form, a CRM lookup per address, a note per contact found and a
// relabel, one message after another; the cursor in one Firestore
// document. No ledger (a redelivered notification or a crash may post
// twice), no pacing (a refusal for the quota is waited out for a second
// and tried again), no memory bound.
type naive struct {
	gm              *gmail.Service
	crm             mailbox.CRM
	crmUser         string
	trigger, posted string
	load            func(ctx context.Context) (string, error)
	store           func(ctx context.Context, cursor string) error
	refusals        int
}

func (n *naive) do(call func() error) error {
	for {
		err := call()
		var ge *googleapi.Error
		if errors.As(err, &ge) && (ge.Code == 429 || ge.Code == 403) {
			n.refusals++
			time.Sleep(time.Second)
			continue
		}
		return err
	}
}

func (n *naive) pass(ctx context.Context) (int, error) {
	cursor, err := n.load(ctx)
	if err != nil {
		return 0, err
	}
	var ids []string
	seen := map[string]bool{}
	var newest uint64
	start, _ := strconv.ParseUint(cursor, 10, 64)
	for page := ""; ; {
		var h *gmail.ListHistoryResponse
		err = n.do(func() (err error) {
			c := n.gm.Users.History.List("me").StartHistoryId(start).HistoryTypes("labelAdded").LabelId(n.trigger).MaxResults(500).Context(ctx)
			if page != "" {
				c = c.PageToken(page)
			}
			h, err = c.Do()
			return err
		})
		if err != nil {
			return 0, err
		}
		for _, r := range h.History {
			for _, la := range r.LabelsAdded {
				if la.Message != nil && !seen[la.Message.Id] {
					seen[la.Message.Id] = true
					ids = append(ids, la.Message.Id)
				}
			}
		}
		newest = h.HistoryId
		if page = h.NextPageToken; page == "" {
			break
		}
	}
	posted := 0
	for _, id := range ids {
		var m *gmail.Message
		if err := n.do(func() (err error) {
			m, err = n.gm.Users.Messages.Get("me", id).Format("raw").Context(ctx).Do()
			return err
		}); err != nil {
			return posted, err
		}
		raw, err := base64.URLEncoding.DecodeString(m.Raw)
		if err != nil {
			return posted, err
		}
		parsed, err := mailparse.Parse(raw)
		if err != nil {
			return posted, err
		}
		for _, field := range []string{parsed.From, parsed.To} {
			addrs, _ := mail.ParseAddressList(field)
			for _, a := range addrs {
				found, err := n.crm.FindContacts(ctx, n.crmUser, a.Address)
				if err != nil {
					return posted, err
				}
				for _, c := range found {
					note := crm.Note{ContactID: c.ID, Email: crm.Email{Subject: parsed.Subject, From: parsed.From, Date: time.Now(), Text: parsed.Text, GmailMessageID: id}}
					if _, err := n.crm.PostNote(ctx, crm.Write{AsUser: n.crmUser, Origin: crm.Origin}, note); err != nil {
						return posted, err
					}
				}
			}
		}
		err = n.do(func() error {
			_, err := n.gm.Users.Messages.Modify("me", id, &gmail.ModifyMessageRequest{AddLabelIds: []string{n.posted}, RemoveLabelIds: []string{n.trigger}}).Context(ctx).Do()
			return err
		})
		if err != nil {
			return posted, err
		}
		posted++
	}
	return posted, n.store(ctx, strconv.FormatUint(newest, 10))
}

// newNaive sets the naive loop up on the bench world: its cursor where
// the engine's is, stored in (and read from) one Firestore document.
func newNaive(b *testing.B, w *benchWorld) *naive {
	doc := w.st.Client().Collection("naive").Doc(ann)
	cur, err := w.st.Cursors().Get(w.ctx, ann, "gmail-history")
	if err != nil {
		b.Fatal(err)
	}
	u, err := w.crm.UserByEmail(w.ctx, ann)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := doc.Set(w.ctx, map[string]any{"cursor": cur.Value}); err != nil {
		b.Fatal(err)
	}
	return &naive{gm: w.gm, crm: w.crm, crmUser: u.ID, trigger: w.labelIDB(b, "SmartOffice"), posted: w.labelIDB(b, "SmartOfficePosted"),
		load: func(ctx context.Context) (string, error) {
			snap, err := doc.Get(ctx)
			if err != nil {
				return "", err
			}
			c, _ := snap.DataAt("cursor")
			return fmt.Sprint(c), nil
		},
		store: func(ctx context.Context, c string) error {
			_, err := doc.Set(ctx, map[string]any{"cursor": c})
			return err
		}}
}
