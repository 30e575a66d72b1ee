package refcrm

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/store/storetest"
)

// Benchmarks of the reference CRM on the Firestore emulator. The figures
// are the emulator's; docs/performance.md says what they mean for
// production Firestore.

// benchContacts is how many contacts the lookup benchmark searches
// (CRMSYNC_BENCH_CONTACTS, default 100,000).
func benchContacts(b *testing.B) int {
	if v := os.Getenv("CRMSYNC_BENCH_CONTACTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("CRMSYNC_BENCH_CONTACTS=%q is not a count", v)
		}
		return n
	}
	return 100_000
}

// loadContacts writes n contacts and their address index entries straight
// to their collections (no change feed: seeding speed is not what is
// measured), each with two addresses.
func loadContacts(b *testing.B, s *Store, n int) {
	ctx := context.Background()
	bw := s.fs.BulkWriter(ctx)
	for i := range n {
		c := crm.Contact{ID: fmt.Sprintf("c%07d", i), Type: crm.TypeContact, FirstName: "Client", LastName: strconv.Itoa(i),
			Emails: []string{fmt.Sprintf("client%d@example.test", i), fmt.Sprintf("Work.%d@Corp.test", i)}, Version: 1}
		if _, err := bw.Set(s.col("contacts").Doc(c.ID), toDoc(c)); err != nil {
			b.Fatal(err)
		}
		for _, e := range c.Emails {
			if _, err := bw.Set(s.addressRef(e), addressEntry{Address: strings.ToLower(e), IDs: []string{c.ID}}); err != nil {
				b.Fatal(err)
			}
		}
	}
	bw.End()
}

// latencies collects per-operation durations and reports p50 and p99.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) time(fn func()) {
	t := time.Now()
	fn()
	l.mu.Lock()
	l.d = append(l.d, time.Since(t))
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B) {
	slices.Sort(l.d)
	if len(l.d) == 0 {
		return
	}
	at := func(p float64) float64 { return float64(l.d[int(p*float64(len(l.d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(float64(len(l.d))/b.Elapsed().Seconds(), "ops/s")
}

// lookupCRM is loaded once per process: the benchmark function runs
// several times while the framework calibrates b.N.
var (
	lookupOnce sync.Once
	lookupCRM  *Store
)

func BenchmarkFindContactsByEmail(b *testing.B) {
	n := benchContacts(b)
	ctx := context.Background()
	lookupOnce.Do(func() {
		storetest.RequireEmulator(b, "FIRESTORE_EMULATOR_HOST")
		fs, err := firestore.NewClient(ctx, storetest.ProjectID(b))
		if err != nil {
			b.Fatal(err)
		}
		lookupCRM = New(fs, "bench", nil)
		t0 := time.Now()
		loadContacts(b, lookupCRM, n)
		b.Logf("loaded %d contacts in %v", n, time.Since(t0).Round(time.Millisecond))
	})
	s := lookupCRM
	var lat latencies
	var i int
	var mu sync.Mutex
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			i++
			k := (i * 7919) % n
			mu.Unlock()
			lat.time(func() {
				got, err := s.FindContacts(ctx, "", fmt.Sprintf("work.%d@corp.test", k))
				if err != nil || len(got) != 1 {
					b.Errorf("lookup %d: %d contacts, %v", k, len(got), err)
				}
			})
		}
	})
	lat.report(b)
}

func BenchmarkPostNoteWithAttachments(b *testing.B) {
	s := New(storetest.Client(b), "bench", nil)
	ctx := context.Background()
	c, err := s.CreateContact(ctx, crm.Write{}, crm.Contact{FirstName: "Carol", Emails: []string{"carol@client.test"}})
	if err != nil {
		b.Fatal(err)
	}
	pdf, img := make([]byte, 1<<20), make([]byte, 100<<10)
	var lat latencies
	var seq sync.Mutex
	k := 0
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			seq.Lock()
			k++
			key := fmt.Sprintf("bench:%d", k)
			seq.Unlock()
			lat.time(func() {
				_, err := s.PostNote(ctx, crm.Write{Origin: crm.Origin, IdempotencyKey: key}, crm.Note{ContactID: c.ID, Email: crm.Email{
					Subject: "Statement", From: "carol@client.test", Date: time.Now(), Text: "See attached.", HTML: "<p>See attached.</p>",
					Attachments: []crm.Attachment{{Filename: "statement.pdf", ContentType: "application/pdf", Data: pdf}, {Filename: "chart.png", ContentType: "image/png", Data: img}}}})
				if err != nil {
					b.Error(err)
				}
			})
		}
	})
	lat.report(b)
	b.SetBytes(int64(len(pdf) + len(img)))
}
