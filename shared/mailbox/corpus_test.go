package mailbox_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/mailbox"
	"github.com/crmsync/crmsync/shared/store"
)

// corpusMessage reads a message of the shared real-world corpus beside
// the repository (its README: read in place, never copied), or skips.
func corpusMessage(t *testing.T, name string) []byte {
	t.Helper()
	path := filepath.Join("..", "..", "..", "shared", "testdata", "mime-corpus", name)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("the MIME corpus is not beside the repository (%v)", err)
	}
	return raw
}

// postCorpus delivers a corpus message to Ann (its first To header,
// rewritten in memory, names her: it was sent to someone else) from a
// sender who is a CRM contact, labels it and runs a pass; it returns the
// message's id and the contact's id.
func (w *world) postCorpus(name, sender string) (string, string) {
	w.t.Helper()
	c, err := w.crm.CreateContact(w.ctx, crm.Write{IdempotencyKey: "corpus-" + sender}, crm.Contact{FirstName: "Sender", Emails: []string{sender}})
	if err != nil {
		w.t.Fatal(err)
	}
	raw := corpusMessage(w.t, name)
	to := regexp.MustCompile(`(?m)^To: .*$`).FindIndex(raw)
	if to == nil {
		w.t.Fatalf("%s has no To header", name)
	}
	raw = slices.Concat(raw[:to[0]], []byte("To: Ann <"+ann+">"), raw[to[1]:])
	id, err := w.google.InsertMessage(ann, raw, []string{"INBOX"})
	if err != nil {
		w.t.Fatal(err)
	}
	w.label(id)
	w.process()
	return id, c.ID
}

// A sender's name in encoded words (RFC 2047, ISO-8859-1) is decoded in
// the note's From, as Gmail shows it.
func TestEncodedSenderNameIsDecodedInTheNote(t *testing.T) {
	w := newWorld(t, nil)
	id, contact := w.postCorpus("error_emails/header_fields_with_empty_values.eml", "jorn@prikkprikkprikk.no")
	want(t, w.statusOf(id), "SmartOfficePosted")
	ns, err := w.crm.Notes(w.ctx, "", contact)
	if err != nil || len(ns) != 1 {
		t.Fatalf("notes: %v, %v", ns, err)
	}
	if got := ns[0].Email.From; got != "Jørn Støylen <jorn@prikkprikkprikk.no>" {
		t.Errorf("the note's From is %q, want the decoded name", got)
	}
}

// A message attached whole (here the original of a bounce, a
// message/rfc822 part) is posted as a file of the note, and counts
// toward the firm's attachment limit.
func TestAMessageAttachedWholeIsPostedAndCounted(t *testing.T) {
	const bounce = "mime_emails/raw_email_with_mimepart_without_content_type.eml"
	const sender = "MAILER-DAEMON@antivirus.uqam.ca"
	t.Run("posted as a file", func(t *testing.T) {
		w := newWorld(t, nil)
		id, contact := w.postCorpus(bounce, sender)
		want(t, w.statusOf(id), "SmartOfficePosted")
		ns, err := w.crm.Notes(w.ctx, "", contact)
		if err != nil || len(ns) != 1 {
			t.Fatalf("notes: %v, %v", ns, err)
		}
		var found bool
		for _, a := range ns[0].Attachments {
			if a.Filename == "forwarded message.eml" && a.ContentType == "message/rfc822" && a.Size > 1000 {
				found = true
			}
		}
		if !found {
			t.Errorf("the attached message is not on the note: %+v", ns[0].Attachments)
		}
	})
	t.Run("over the limit", func(t *testing.T) {
		w := newWorld(t, nil)
		if _, err := w.st.Tenants().Update(w.ctx, "firm", func(t *store.Tenant) error { t.AttachmentLimitBytes = 1000; return nil }); err != nil {
			t.Fatal(err)
		}
		// An instance that reads the firm's settings after the change.
		e := w.engine
		w.engine = &mailbox.Engine{Store: e.Store, CRM: e.CRM, Log: e.Log, Clock: e.Clock, Topic: e.Topic, Holder: e.Holder, Retry: e.Retry, Google: e.Google}
		id, _ := w.postCorpus(bounce, sender)
		want(t, w.statusOf(id), "SmartOfficeFailed")
		if r := w.ledger(id).Detail["reason"]; !strings.Contains(r, `"forwarded message.eml"`) || !strings.Contains(r, "over the firm's limit of 1000") {
			t.Errorf("reason %q", r)
		}
	})
}
