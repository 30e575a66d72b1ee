package fakegoogle_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	gmail "google.golang.org/api/gmail/v1"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/store/storetest"
)

type notice struct {
	EmailAddress string `json:"emailAddress"`
	HistoryID    uint64 `json:"historyId"`
}

// receiver pulls everything published to a fresh topic on the emulator.
type receiver struct {
	mu  sync.Mutex
	got []notice
}

func (r *receiver) snapshot() []notice {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notice(nil), r.got...)
}

func (r *receiver) waitFor(t *testing.T, n int) []notice {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if got := r.snapshot(); len(got) >= n {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("got %d notifications, want %d", len(r.snapshot()), n)
	return nil
}

func emulatorTopic(t *testing.T) (*pubsub.Client, string, *receiver) {
	t.Helper()
	storetest.RequireEmulator(t, "PUBSUB_EMULATOR_HOST")
	ctx, cancel := context.WithCancel(context.Background())
	project := storetest.ProjectID(t)
	c, err := pubsub.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	topic := "projects/" + project + "/topics/gmail"
	if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	sub := "projects/" + project + "/subscriptions/pull"
	if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub, Topic: topic}); err != nil {
		t.Fatal(err)
	}
	r := &receiver{}
	go c.Subscriber(sub).Receive(ctx, func(_ context.Context, m *pubsub.Message) {
		var n notice
		if err := json.Unmarshal(m.Data, &n); err != nil {
			t.Errorf("notification %q is not JSON: %v", m.Data, err)
		}
		r.mu.Lock()
		r.got = append(r.got, n)
		r.mu.Unlock()
		m.Ack()
	})
	t.Cleanup(func() { cancel(); c.Close() })
	return c, topic, r
}

// A watch publishes to a real Pub/Sub topic: not for the watch itself
// (Gmail notifies of changes; the watch answers with the historyId to
// start from), then for changes that match its label filter, coalesced to
// one a second, and never after it expired or was stopped.
func TestWatchPublishesToPubSub(t *testing.T) {
	c, topic, recv := emulatorTopic(t)
	clk := clock.NewFake(t0)
	pub := &fakegoogle.PubSubPublisher{Client: c}
	defer pub.Stop()
	f := newFake(t, fakegoogle.Options{Clock: clk, Publisher: pub, NotifyInterval: 500 * time.Millisecond})
	svc := gmailFor(t, f, "ann@acme.test")
	trigger, _ := svc.Users.Labels.Create("me", &gmail.Label{Name: "SmartOffice"}).Do()
	posted, _ := svc.Users.Labels.Create("me", &gmail.Label{Name: "SmartOfficePosted"}).Do()

	w, err := svc.Users.Watch("me", &gmail.WatchRequest{TopicName: topic, LabelIds: []string{trigger.Id}, LabelFilterBehavior: "include"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if w.HistoryId == 0 || w.Expiration != t0.Add(7*24*time.Hour).UnixMilli() {
		t.Errorf("watch = %+v", w)
	}
	// The watch itself and mail without the label do not notify; labeling
	// does.
	m := insert(t, svc, "Subject: a\n\nx", "INBOX")
	time.Sleep(700 * time.Millisecond)
	if n := len(recv.snapshot()); n != 0 {
		t.Errorf("the watch or unlabeled mail notified (%d notifications)", n)
	}
	svc.Users.Messages.Modify("me", m.Id, &gmail.ModifyMessageRequest{AddLabelIds: []string{trigger.Id}}).Do()
	first := recv.waitFor(t, 1)
	if first[0].EmailAddress != "ann@acme.test" || first[0].HistoryID <= w.HistoryId {
		t.Errorf("first notification = %+v, want one after the watch's history %d", first[0], w.HistoryId)
	}

	// Our own relabel (trigger → Posted) does not notify: no loop.
	time.Sleep(600 * time.Millisecond)
	svc.Users.Messages.Modify("me", m.Id, &gmail.ModifyMessageRequest{AddLabelIds: []string{posted.Id}, RemoveLabelIds: []string{trigger.Id}}).Do()
	time.Sleep(700 * time.Millisecond)
	if n := len(recv.snapshot()); n != 1 {
		t.Errorf("relabel to Posted notified (%d notifications, want 1)", n)
	}

	// A burst coalesces; the last notification carries the latest history id.
	before := len(recv.snapshot())
	for range 10 {
		insert(t, svc, "Subject: burst\n\nx", "INBOX", trigger.Id)
	}
	time.Sleep(1500 * time.Millisecond)
	burst := recv.snapshot()[before:]
	if len(burst) == 0 || len(burst) > 3 {
		t.Errorf("a burst of 10 changes gave %d notifications, want 1-3", len(burst))
	}
	prof, _ := svc.Users.GetProfile("me").Do()
	if len(burst) > 0 && burst[len(burst)-1].HistoryID != prof.HistoryId {
		t.Errorf("last notification %d, mailbox at %d", burst[len(burst)-1].HistoryID, prof.HistoryId)
	}

	// Expired watches stop publishing.
	clk.Advance(7*24*time.Hour + time.Minute)
	svc = gmailFor(t, f, "ann@acme.test")
	before = len(recv.snapshot())
	insert(t, svc, "Subject: late\n\nx", "INBOX", trigger.Id)
	time.Sleep(800 * time.Millisecond)
	if n := len(recv.snapshot()); n != before {
		t.Errorf("expired watch published %d more", n-before)
	}

	// A renewed watch works again; stop ends it.
	if _, err := svc.Users.Watch("me", &gmail.WatchRequest{TopicName: topic, LabelIds: []string{trigger.Id}}).Do(); err != nil {
		t.Fatal(err)
	}
	insert(t, svc, "Subject: renewed\n\nx", "INBOX", trigger.Id)
	recv.waitFor(t, before+1)
	if err := svc.Users.Stop("me").Do(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond)
	before = len(recv.snapshot())
	insert(t, svc, "Subject: after stop\n\nx", "INBOX", trigger.Id)
	time.Sleep(800 * time.Millisecond)
	if n := len(recv.snapshot()); n != before {
		t.Errorf("stopped watch published %d more", n-before)
	}

	_, err = svc.Users.Watch("me", &gmail.WatchRequest{TopicName: "gmail-topic"}).Do()
	apiErr(t, err, 400, "")
}
