package fakegoogle_test

import (
	"fmt"
	"testing"

	gmail "google.golang.org/api/gmail/v1"

	"github.com/crmsync/crmsync/shared/fakegoogle"
)

// The fake must never be what limits the product's own benchmarks: these
// measure the requests per second it serves through the official client.

func benchMailbox(b *testing.B) (*fakegoogle.Server, *gmail.Service, []string, uint64) {
	f := fakegoogle.New(fakegoogle.Options{})
	f.Start()
	b.Cleanup(f.Close)
	f.AddUser(fakegoogle.User{Email: "ann@acme.test"})
	svc := gmailFor(b, f, "ann@acme.test")
	p, _ := svc.Users.GetProfile("me").Do()
	var ids []string
	for i := range 1000 {
		m, err := svc.Users.Messages.Insert("me", &gmail.Message{Raw: raw(fmt.Sprintf("From: c%d@client.test\nTo: ann@acme.test\nSubject: %d\n\nbody", i, i)), LabelIds: []string{"INBOX"}}).Do()
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, m.Id)
	}
	return f, svc, ids, p.HistoryId
}

func BenchmarkGmailMessagesGet(b *testing.B) {
	_, svc, ids, _ := benchMailbox(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := svc.Users.Messages.Get("me", ids[i%len(ids)]).Format("raw").Do(); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func BenchmarkGmailHistoryList(b *testing.B) {
	_, svc, _, start := benchMailbox(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := svc.Users.History.List("me").StartHistoryId(start).MaxResults(500).Do(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
