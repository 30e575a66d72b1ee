// Package jobstest has a jobs.Publisher for tests that records the jobs
// published instead of sending them to Pub/Sub.
package jobstest

import (
	"context"
	"sync"

	"github.com/crmsync/crmsync/shared/jobs"
)

// Recorder records each published job's data, in order. It is safe for
// concurrent use; read Jobs once the publishers are done.
type Recorder struct {
	mu   sync.Mutex
	Jobs []string
}

var _ jobs.Publisher = (*Recorder)(nil)

// Publish records data; the publish always succeeds.
func (r *Recorder) Publish(_ context.Context, data []byte, _ map[string]string) func() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Jobs = append(r.Jobs, string(data))
	return func() error { return nil }
}
