package topology

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/crmsync/crmsync/shared/store/storetest"
)

// Ensure builds a working push path on the Pub/Sub emulator: a message
// published to the topic arrives at the function's URL in Pub/Sub's push
// envelope, and a second Ensure is harmless.
// emulator is a client of the Pub/Sub emulator for a project of the test.
func emulator(t *testing.T) (context.Context, string, *pubsub.Client) {
	storetest.RequireEmulator(t, "PUBSUB_EMULATOR_HOST")
	ctx := context.Background()
	project := storetest.ProjectID(t)
	c, err := pubsub.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return ctx, project, c
}

func TestEnsurePushesToTheFunction(t *testing.T) {
	ctx, project, c := emulator(t)

	got := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/GmailPush" {
			t.Errorf("push to %s, want /GmailPush", r.URL.Path)
		}
		b, _ := io.ReadAll(r.Body)
		select {
		case got <- b:
		default:
		}
		w.WriteHeader(http.StatusNoContent) // ack
	}))
	defer srv.Close()

	subs := []Push{{Name: "gmail-push", Topic: GmailTopic, Function: "GmailPush"}}
	for range 2 {
		if err := Ensure(ctx, c, project, srv.URL, Topics(), subs); err != nil {
			t.Fatalf("Ensure: %v", err)
		}
	}
	sub, err := c.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: SubscriptionPath(project, "gmail-push")})
	if err != nil || sub.GetPushConfig().GetPushEndpoint() != srv.URL+"/GmailPush" {
		t.Fatalf("subscription = %v, %v", sub, err)
	}

	pub := c.Publisher(GmailTopic)
	defer pub.Stop()
	if _, err := pub.Publish(ctx, &pubsub.Message{Data: []byte(`{"emailAddress":"ann@acme.test","historyId":9876}`)}).Get(ctx); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	select {
	case b := <-got:
		var env struct {
			Message struct {
				Data      []byte `json:"data"`
				MessageID string `json:"messageId"`
			} `json:"message"`
			Subscription string `json:"subscription"`
		}
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatalf("push body %s: %v", b, err)
		}
		if string(env.Message.Data) != `{"emailAddress":"ann@acme.test","historyId":9876}` || env.Subscription != SubscriptionPath(project, "gmail-push") || env.Message.MessageID == "" {
			t.Errorf("push envelope = %s", b)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no push arrived within 20s")
	}
}

// Dead-lettered jobs go back to their topic with their data and
// attributes, and leave the dead-letter subscription, on the Pub/Sub
// emulator.
func TestReplayMovesDeadLettersBack(t *testing.T) {
	ctx, project, c := emulator(t)
	from := DeadLetters()[JobsTopic]
	for _, name := range []string{JobsTopic, from} {
		if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: TopicPath(project, name)}); err != nil {
			t.Fatal(err)
		}
	}
	for sub, topic := range map[string]string{"check": JobsTopic, from: from} {
		if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: SubscriptionPath(project, sub), Topic: TopicPath(project, topic), AckDeadlineSeconds: 10}); err != nil {
			t.Fatal(err)
		}
	}
	var sent []*pubsubpb.PubsubMessage
	for i := range 3 {
		sent = append(sent, &pubsubpb.PubsubMessage{Data: []byte(fmt.Sprintf(`{"kind":"contact-sync","user":"u%d@firm.test"}`, i)), Attributes: map[string]string{"kind": "contact-sync"}})
	}
	if _, err := c.TopicAdminClient.Publish(ctx, &pubsubpb.PublishRequest{Topic: TopicPath(project, from), Messages: sent}); err != nil {
		t.Fatal(err)
	}
	// The runbook's two commands (docs/operations.md), on the emulator.
	var out, errs bytes.Buffer
	if code := ReplayCommand(ctx, []string{"-project", project, "-topic", "jobs", "-max", "2"}, &out, &errs); code != 0 || !strings.Contains(out.String(), "moved 2 message(s)") {
		t.Fatalf("replay -max 2: %d %s%s", code, out.String(), errs.String())
	}
	out.Reset()
	if code := ReplayCommand(ctx, []string{"-project", project, "-topic", "jobs"}, &out, &errs); code != 0 || !strings.Contains(out.String(), "moved 1 message(s)") {
		t.Fatalf("replay of the rest: %d %s%s", code, out.String(), errs.String())
	}
	if code := ReplayCommand(ctx, []string{"-project", project, "-topic", "nowhere"}, &out, &errs); code != 2 {
		t.Errorf("an unknown topic: %d", code)
	}
	got := map[string]string{}
	for deadline := time.Now().Add(10 * time.Second); len(got) < 3 && time.Now().Before(deadline); {
		resp, err := c.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: SubscriptionPath(project, "check"), MaxMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range resp.ReceivedMessages {
			got[string(m.GetMessage().GetData())] = m.GetMessage().GetAttributes()["kind"]
		}
	}
	for _, m := range sent {
		if got[string(m.Data)] != "contact-sync" {
			t.Errorf("%s did not come back to the topic with its attributes: %v", m.Data, got)
		}
	}
	if n, err := Replay(ctx, c, project, from, JobsTopic, 0); err != nil || n != 0 {
		t.Errorf("the dead-letter subscription still held %d message(s): %v", n, err)
	}
}
