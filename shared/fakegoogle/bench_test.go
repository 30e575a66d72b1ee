package fakegoogle_test

import (
	"fmt"
	"testing"
	"time"

	gmail "google.golang.org/api/gmail/v1"

	"github.com/crmsync/crmsync/shared/fakegoogle"
)

// The fake must never be what limits the product's own benchmarks: these
// measure the requests per second it serves through the official client.

func benchMailbox(b *testing.B) (*fakegoogle.Server, *gmail.Service, []string, uint64) {
	f := fakegoogle.Started(b, fakegoogle.Options{})
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

func BenchmarkPeopleConnectionsList(b *testing.B) {
	f := fakegoogle.Started(b, fakegoogle.Options{})
	f.AddUser(fakegoogle.User{Email: "ann@acme.test"})
	for i := range 1000 {
		if _, err := f.AddContact(fakegoogle.SeedContact{User: "ann@acme.test", Given: "C", Family: fmt.Sprint(i), Emails: []string{fmt.Sprintf("c%d@client.test", i)}}); err != nil {
			b.Fatal(err)
		}
	}
	svc := peopleFor(b, f, "ann@acme.test")
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := svc.People.Connections.List("people/me").PersonFields("names,emailAddresses").PageSize(1000).Do(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func BenchmarkCalendarEventsListSingleEvents(b *testing.B) {
	f := fakegoogle.Started(b, fakegoogle.Options{})
	f.AddUser(fakegoogle.User{Email: "ann@acme.test"})
	svc := calendarFor(b, f, "ann@acme.test")
	start := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	for i := range 200 {
		e := timed(fmt.Sprint("E", i), start.Add(time.Duration(i)*time.Hour), time.Hour)
		if i%10 == 0 {
			e.Recurrence = []string{"RRULE:FREQ=WEEKLY;COUNT=52"}
		}
		if _, err := svc.Events.Insert("primary", e).Do(); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := svc.Events.List("primary").SingleEvents(true).TimeMin(start.Format(time.RFC3339)).
				TimeMax(start.AddDate(0, 1, 0).Format(time.RFC3339)).MaxResults(2500).Do(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
