package mailbox_test

import (
	"slices"
	"testing"

	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/store"
)

// Post now posts a message without the label, under the same rules and
// ledger (never twice), and labels its outcome; then the user's chosen
// linked record of Carol's gets the note too, once.
func TestPostNowAndToLinkedRecords(t *testing.T) {
	w := newWorld(t, func(m *store.MailSetup) { m.OfferLinkedRecords = true })
	id := w.deliver(fromCarol)
	o, err := w.engine.PostNow(w.ctx, ann, id)
	if err != nil {
		t.Fatal(err)
	}
	want(t, w.statusOf(id), "SmartOfficePosted")
	pol := w.ids.Records["pol"]
	if o.Outcome != "posted" || !slices.Equal(o.Contacts, []string{w.ids.Contacts["carol"]}) || !slices.Equal(o.OfferedRecords, []string{pol}) {
		t.Fatalf("outcome %+v", o)
	}
	if o, err := w.engine.PostNow(w.ctx, ann, id); err != nil || o.Outcome != "posted" || len(w.notes("carol")) != 1 {
		t.Fatalf("posting again: %+v, %v, %d notes", o, err, len(w.notes("carol")))
	}
	if _, err := w.engine.PostToRecords(w.ctx, ann, id, []string{"someone-elses"}); !failure.Is(err, failure.Invalid) {
		t.Errorf("a record not offered: %v", err)
	}
	for range 2 {
		if _, err := w.engine.PostToRecords(w.ctx, ann, id, []string{pol}); err != nil {
			t.Fatal(err)
		}
	}
	var onRecord int
	for _, n := range w.notes("carol") {
		if slices.Contains(n.Records, pol) {
			onRecord++
		}
	}
	if onRecord != 1 {
		t.Errorf("%d notes on the policy, want 1 (notes %+v)", onRecord, w.notes("carol"))
	}
	other := w.deliver("From: nobody@else.test\nTo: ann@firm.test\nSubject: x\n\nhi")
	if o, err := w.engine.PostNow(w.ctx, ann, other); err != nil || o.Outcome != "unmatched" {
		t.Errorf("an unknown sender: %+v, %v", o, err)
	}
	if _, err := w.engine.PostToRecords(w.ctx, ann, other, []string{pol}); !failure.Is(err, failure.Invalid) {
		t.Errorf("records of an unposted message: %v", err)
	}
}
