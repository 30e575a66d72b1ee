package fakegoogle

import (
	"context"
	"sync"

	"cloud.google.com/go/pubsub/v2"
)

// PubSubPublisher publishes watch notifications with the Pub/Sub client,
// which talks to the emulator when PUBSUB_EMULATOR_HOST is set.
type PubSubPublisher struct {
	Client *pubsub.Client

	mu   sync.Mutex
	pubs map[string]*pubsub.Publisher
}

// Publish sends data to topic ("projects/P/topics/T") and waits for the
// server's acknowledgement.
func (p *PubSubPublisher) Publish(ctx context.Context, topic string, data []byte) error {
	p.mu.Lock()
	if p.pubs == nil {
		p.pubs = map[string]*pubsub.Publisher{}
	}
	pub := p.pubs[topic]
	if pub == nil {
		pub = p.Client.Publisher(topic)
		p.pubs[topic] = pub
	}
	p.mu.Unlock()
	_, err := pub.Publish(ctx, &pubsub.Message{Data: data}).Get(ctx)
	return err
}

// Stop flushes and stops every publisher.
func (p *PubSubPublisher) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pub := range p.pubs {
		pub.Stop()
	}
}

var _ Publisher = (*PubSubPublisher)(nil)
