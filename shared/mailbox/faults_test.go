package mailbox_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/crm"
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
	outage, client := crmtest.OutageClient(t, refcrm.Handler(w.crm, refcrm.Keys{Sync: "k"}, logging.Discard()))
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

// stuckCRM never returns from PostNote while stuck, as a function instance
// that was killed mid-pass never returns. When it is let go, the post it
// had in flight lands at the CRM all the same (a request already sent).
type stuckCRM struct {
	mailbox.CRM
	stuck   chan struct{} // closed: the instance comes back (a zombie)
	reached chan struct{} // closed when the first post is stuck
	once    sync.Once
}

func (s *stuckCRM) PostNote(ctx context.Context, w crm.Write, n crm.Note) (crm.Note, error) {
	s.once.Do(func() { close(s.reached) })
	<-s.stuck
	return s.CRM.PostNote(context.WithoutCancel(ctx), w, n)
}

// A function instance is killed mid-pass, holding the user's lease and
// its claims on the messages. Its lease stops being renewed (the process
// is gone), so after the TTL the next sweep by another instance posts
// every message once; and the posts the dead instance had in flight land
// late without doubling anything.
func TestInstanceKilledMidPass(t *testing.T) {
	w := newWorld(t, nil)
	const ttl = 2 * time.Second
	dead := &stuckCRM{CRM: w.crm, stuck: make(chan struct{}), reached: make(chan struct{})}
	instance := func(holder string, c mailbox.CRM) *mailbox.Engine {
		return &mailbox.Engine{Store: w.st, CRM: c, Google: w.engine.Google, Log: logging.Discard(), Clock: clock.Real{},
			Topic: w.engine.Topic, Holder: holder, LeaseTTL: ttl, Retry: w.engine.Retry}
	}
	var ids []string
	for i := range 6 {
		id := w.deliver(fmt.Sprintf("From: \"Carol Client\" <carol@client.test>\nTo: ann@firm.test\nSubject: killed %d\n\nbody %d", i, i))
		w.label(id)
		ids = append(ids, id)
	}
	zombie := make(chan error, 1)
	life, kill := context.WithCancel(w.ctx)
	go func() {
		_, err := instance("killed", dead).Process(life, ann)
		zombie <- err
	}()
	<-dead.reached // the pass holds the lease and has claimed messages

	survivor := instance("survivor", w.crm)
	if _, err := survivor.Sweep(w.ctx, ann); !errors.Is(err, mailbox.ErrBusy) {
		t.Fatalf("a sweep while the lease is held: %v, want ErrBusy", err)
	}
	kill()                                 // the instance dies: nothing renews its lease any more
	time.Sleep(ttl + 500*time.Millisecond) // the lease and the claims expire
	if _, err := survivor.Sweep(w.ctx, ann); err != nil {
		t.Fatalf("the first sweep after the lease expired: %v", err)
	}
	for _, id := range ids {
		want(t, w.statusOf(id), "SmartOfficePosted")
	}

	close(dead.stuck) // the posts it had in flight reach the CRM late
	if err := <-zombie; err != nil {
		t.Logf("the dead pass: %v", err)
	}
	if _, err := survivor.Sweep(w.ctx, ann); err != nil {
		t.Fatalf("a later sweep: %v", err)
	}
	count := map[string]int{}
	for _, n := range w.notes("carol") {
		count[n.Subject]++
	}
	for i, id := range ids {
		want(t, w.statusOf(id), "SmartOfficePosted")
		if c := count[fmt.Sprintf("killed %d", i)]; c != 1 {
			t.Errorf("message %d has %d notes, want 1", i, c)
		}
	}
}
