package mailbox_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/crm/crmtest"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/mailbox"
	"github.com/crmsync/crmsync/shared/workspace"
)

// The CRM is down for ten minutes (its API answers 503): the notification
// pass and the scheduler's sweep in that time leave the mail for later,
// nothing is labeled Failed; the first sweep after the CRM is back posts
// everything once, even under a storm of redelivered notifications.
func TestCRMDownForTenMinutes(t *testing.T) {
	w := newWorld(t, nil)
	outage, client := crmtest.OutageClient(t, refcrm.Handler(w.crm, "k", logging.Discard()))
	e := &mailbox.Engine{Store: w.st, CRM: client, Google: w.engine.Google, Log: logging.Discard(), Clock: clock.Real{},
		Topic: w.engine.Topic, Holder: "faults", Retry: workspace.Retry{Attempts: 2, Sleep: w.engine.Retry.Sleep}}

	outage.Down(true)
	const n = 20
	var ids []string
	for i := range n {
		id := w.deliver(fmt.Sprintf("From: \"Carol Client\" <carol@client.test>\nTo: ann@firm.test\nSubject: outage %d\nMessage-ID: <o%d@client.test>\n\nbody %d", i, i, i))
		w.label(id)
		ids = append(ids, id)
	}
	r, err := e.Process(w.ctx, ann) // the notification, during the outage
	if err != nil {
		// A CRM that cannot even say who Ann is fails the pass: Pub/Sub
		// redelivers it, and the sweep covers it either way.
		t.Logf("the pass during the outage: %v", err)
	} else if r.Posted+r.Failed+r.Unmatched != 0 {
		t.Fatalf("a pass during the outage labeled messages: %+v", r)
	}
	if _, err := e.Sweep(w.ctx, ann); err == nil { // the tick within the ten minutes
		for _, id := range ids {
			if got := w.statusOf(id); len(got) != 1 || got[0] != "SmartOffice" {
				t.Fatalf("during the outage %s is labeled %v, want it left with the trigger label", id, got)
			}
		}
	}
	if outage.Refused() == 0 {
		t.Fatal("the outage refused nothing; the test proves nothing")
	}

	outage.Down(false)
	var wg sync.WaitGroup
	for range 20 { // redelivered notifications, racing the sweep
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.Process(w.ctx, ann)
		}()
	}
	r, err = e.Sweep(w.ctx, ann) // the first tick after the outage
	wg.Wait()
	if err != nil && !errors.Is(err, mailbox.ErrBusy) {
		t.Fatalf("the sweep after the outage: %v", err)
	}
	if _, err := e.Sweep(w.ctx, ann); err != nil {
		t.Fatalf("a later sweep: %v", err)
	}
	for _, id := range ids {
		want(t, w.statusOf(id), "SmartOfficePosted")
	}
	notes := w.notes("carol")
	count := map[string]int{}
	for _, n := range notes {
		count[n.Subject]++
	}
	for i := range n {
		if c := count[fmt.Sprintf("outage %d", i)]; c != 1 {
			t.Errorf("%d notes of outage %d on Carol, want 1", c, i)
		}
	}
}
