// Package topology is the product's Pub/Sub layout in one table: its topics
// and the push subscriptions that deliver them to functions.
//
// The sandbox applies it to the Pub/Sub emulator with Ensure, pushing to the
// locally served functions; infra/ declares the same topics and
// subscriptions for production (with OIDC push authentication and
// dead-letter topics, which the emulator does not need).
package topology

import (
	"context"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/crmsync/crmsync/shared/failure"
)

// Topic is one Pub/Sub topic of the product.
type Topic struct {
	Name string
	// Purpose says what is published there.
	Purpose string
}

// Push is one push subscription: messages of Topic are POSTed to the
// function named Function.
type Push struct {
	Name        string
	Topic       string
	Function    string
	AckDeadline time.Duration
	// Filter is a Pub/Sub subscription filter on attributes, or "".
	Filter string
}

// The product's topics.
const (
	// GmailTopic receives Gmail's users.watch notifications.
	GmailTopic = "gmail-notifications"
	// JobsTopic carries per-user jobs fanned out by the scheduler dispatch.
	JobsTopic = "jobs"
)

// Topics returns the product's topics.
func Topics() []Topic {
	return []Topic{
		{Name: GmailTopic, Purpose: "Gmail users.watch notifications ({emailAddress, historyId})"},
		{Name: JobsTopic, Purpose: "per-user jobs from the scheduler dispatch"},
	}
}

// Subscriptions returns the product's push subscriptions.
func Subscriptions() []Push {
	return []Push{
		{Name: "gmail-push", Topic: GmailTopic, Function: "GmailPush", AckDeadline: 5 * time.Minute},
		{Name: "jobs-push", Topic: JobsTopic, Function: "Jobs", AckDeadline: 10 * time.Minute},
	}
}

// Ensure creates the topics and push subscriptions in project that do not
// exist yet, pushing to baseURL + "/" + Function, and points existing
// subscriptions at that endpoint. Running it again changes nothing.
func Ensure(ctx context.Context, c *pubsub.Client, project, baseURL string, topics []Topic, subs []Push) error {
	for _, t := range topics {
		_, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: TopicPath(project, t.Name)})
		if err != nil && status.Code(err) != codes.AlreadyExists {
			return failure.E("topology: create topic "+t.Name, failure.Transient, err)
		}
	}
	for _, s := range subs {
		endpoint := strings.TrimRight(baseURL, "/") + "/" + s.Function
		ack := s.AckDeadline
		if ack == 0 {
			ack = 60 * time.Second
		}
		_, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
			Name:               SubscriptionPath(project, s.Name),
			Topic:              TopicPath(project, s.Topic),
			PushConfig:         &pubsubpb.PushConfig{PushEndpoint: endpoint},
			AckDeadlineSeconds: int32(ack / time.Second),
			Filter:             s.Filter,
			RetryPolicy: &pubsubpb.RetryPolicy{
				MinimumBackoff: durationpb.New(time.Second),
				MaximumBackoff: durationpb.New(60 * time.Second),
			},
		})
		switch status.Code(err) {
		case codes.OK:
		case codes.AlreadyExists:
			if err := c.SubscriptionAdminClient.ModifyPushConfig(ctx, &pubsubpb.ModifyPushConfigRequest{
				Subscription: SubscriptionPath(project, s.Name),
				PushConfig:   &pubsubpb.PushConfig{PushEndpoint: endpoint},
			}); err != nil {
				return failure.E("topology: modify push config "+s.Name, failure.Transient, err)
			}
		default:
			return failure.E("topology: create subscription "+s.Name, failure.Transient, err)
		}
	}
	return nil
}

// TopicPath is the full resource name of a topic.
func TopicPath(project, topic string) string {
	return fmt.Sprintf("projects/%s/topics/%s", project, topic)
}

// SubscriptionPath is the full resource name of a subscription.
func SubscriptionPath(project, sub string) string {
	return fmt.Sprintf("projects/%s/subscriptions/%s", project, sub)
}
