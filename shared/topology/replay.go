package topology

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/crmsync/crmsync/shared/failure"
)

// PullWait is how long Replay waits for a pull to bring messages before it
// takes the dead-letter subscription as empty.
var PullWait = 5 * time.Second

// DeadLetters maps each push subscription of the product to its
// dead-letter subscription, as infra/modules/pubsub makes them.
func DeadLetters() map[string]string {
	out := map[string]string{}
	for _, s := range Subscriptions() {
		out[s.Topic] = s.Name + "-dead-letter"
	}
	return out
}

// Replay moves up to max messages (0: all) from the dead-letter
// subscription from back to topic, once their cause is fixed: each is
// published again with its data and attributes, then acknowledged on the
// dead-letter subscription. A message published but not acknowledged
// (the command stopped in between) is published again next time: every
// job and notification of the product may arrive twice. It returns how
// many it moved.
func Replay(ctx context.Context, c *pubsub.Client, project, from, topic string, max int) (int, error) {
	sub, dest := SubscriptionPath(project, from), TopicPath(project, topic)
	moved := 0
	for max == 0 || moved < max {
		want := int32(100)
		if max > 0 {
			want = int32(min(100, max-moved))
		}
		// A pull waits for messages; one that finds none within a few
		// seconds means the subscription is empty.
		pctx, cancel := context.WithTimeout(ctx, PullWait)
		resp, err := c.SubscriptionAdminClient.Pull(pctx, &pubsubpb.PullRequest{Subscription: sub, MaxMessages: want})
		cancel()
		if status.Code(err) == codes.DeadlineExceeded && ctx.Err() == nil {
			return moved, nil
		}
		if err != nil {
			return moved, failure.E("topology: pull "+from, failure.Transient, err)
		}
		if len(resp.ReceivedMessages) == 0 {
			return moved, nil
		}
		var msgs []*pubsubpb.PubsubMessage
		var acks []string
		for _, m := range resp.ReceivedMessages {
			msgs = append(msgs, &pubsubpb.PubsubMessage{Data: m.GetMessage().GetData(), Attributes: m.GetMessage().GetAttributes()})
			acks = append(acks, m.AckId)
		}
		if _, err := c.TopicAdminClient.Publish(ctx, &pubsubpb.PublishRequest{Topic: dest, Messages: msgs}); err != nil {
			return moved, failure.E("topology: publish to "+topic, failure.Transient, err)
		}
		if err := c.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: sub, AckIds: acks}); err != nil {
			return moved, failure.E("topology: acknowledge on "+from, failure.Transient, err)
		}
		moved += len(msgs)
	}
	return moved, nil
}

// ReplayCommand is the replay command (cmd/replay) with its arguments:
// -project, -topic (jobs or gmail-notifications) and -max. It moves the
// topic's dead letters back and says how many; it returns the exit
// status.
func ReplayCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("replay", flag.ContinueOnError)
	flags.SetOutput(stderr)
	project := flags.String("project", "", "the product's Google Cloud project")
	topic := flags.String("topic", "", "the topic to move its dead letters back to: jobs or gmail-notifications")
	most := flags.Int("max", 0, "move at most this many (0: all)")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	from, ok := DeadLetters()[*topic]
	if *project == "" || !ok {
		fmt.Fprintln(stderr, "usage: replay -project PROJECT -topic jobs|gmail-notifications [-max N]")
		return 2
	}
	c, err := pubsub.NewClient(ctx, *project)
	if err != nil {
		fmt.Fprintln(stderr, "replay:", err)
		return 1
	}
	defer c.Close()
	n, err := Replay(ctx, c, *project, from, *topic, *most)
	fmt.Fprintf(stdout, "moved %d message(s) from %s back to %s\n", n, from, *topic)
	if err != nil {
		fmt.Fprintln(stderr, "replay:", err)
		return 1
	}
	return 0
}
