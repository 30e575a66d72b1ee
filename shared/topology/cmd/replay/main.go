// Command replay moves dead-lettered jobs or Gmail notifications back to
// their topic once the cause of their failures is fixed
// (docs/operations.md, "Dead-lettered messages"):
//
//	go run ./shared/topology/cmd/replay -project acme-crm-sync -topic jobs
//
// It uses Application Default Credentials (gcloud auth
// application-default login) and needs roles/pubsub.subscriber on the
// dead-letter subscription and roles/pubsub.publisher on the topic.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"cloud.google.com/go/pubsub/v2"

	"github.com/crmsync/crmsync/shared/topology"
)

func main() {
	project := flag.String("project", "", "the product's Google Cloud project")
	topic := flag.String("topic", "", "the topic to move its dead letters back to: jobs or gmail-notifications")
	max := flag.Int("max", 0, "move at most this many (0: all)")
	flag.Parse()
	from, ok := topology.DeadLetters()[*topic]
	if *project == "" || !ok {
		fmt.Fprintln(os.Stderr, "usage: replay -project PROJECT -topic jobs|gmail-notifications [-max N]")
		os.Exit(2)
	}
	ctx := context.Background()
	c, err := pubsub.NewClient(ctx, *project)
	if err != nil {
		fmt.Fprintln(os.Stderr, "replay:", err)
		os.Exit(1)
	}
	defer c.Close()
	n, err := topology.Replay(ctx, c, *project, from, *topic, *max)
	fmt.Printf("moved %d message(s) from %s back to %s\n", n, from, *topic)
	if err != nil {
		fmt.Fprintln(os.Stderr, "replay:", err)
		os.Exit(1)
	}
}
