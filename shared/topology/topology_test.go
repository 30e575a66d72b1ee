package topology

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/crmsync/crmsync/shared/store/storetest"
)

// Ensure builds a working push path on the Pub/Sub emulator: a message
// published to the topic arrives at the function's URL in Pub/Sub's push
// envelope, and a second Ensure is harmless.
func TestEnsurePushesToTheFunction(t *testing.T) {
	storetest.RequireEmulator(t, "PUBSUB_EMULATOR_HOST")
	ctx := context.Background()
	project := storetest.ProjectID(t)
	c, err := pubsub.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

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
