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
	"os"

	"github.com/crmsync/crmsync/shared/topology"
)

func main() {
	os.Exit(topology.ReplayCommand(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
