package fakegoogle_test

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gmail "google.golang.org/api/gmail/v1"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/fakegoogle"
)

// A message whose first line is not a header keeps its bytes exactly: the
// raw format returns what was inserted, and the whole text is the body.
func TestHeaderlessMessageKeepsItsBytes(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	svc := gmailFor(t, f, "ann@acme.test")
	in := "just text, no headers\r\nsecond line\r\n"
	m, err := svc.Users.Messages.Insert("me", &gmail.Message{Raw: base64.URLEncoding.EncodeToString([]byte(in))}).Do()
	if err != nil {
		t.Fatal(err)
	}
	got, err := svc.Users.Messages.Get("me", m.Id).Format("raw").Do()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := base64.URLEncoding.DecodeString(got.Raw); string(b) != in {
		t.Errorf("raw = %q, want %q", b, in)
	}
	full, _ := svc.Users.Messages.Get("me", m.Id).Do()
	if b, _ := base64.URLEncoding.DecodeString(full.Payload.Body.Data); string(b) != in {
		t.Errorf("body = %q, want %q", b, in)
	}
}

func TestLoadSeedFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "seed.json")
	os.WriteFile(good, []byte(`{"users":[{"email":"ann@demo.test","name":"Ann"}],
		"messages":[{"user":"ann@demo.test","raw":"Subject: welcome\r\n\r\nhi","labelIds":["INBOX"]}],
		"contacts":[{"user":"ann@demo.test","given":"Carol","family":"Client","emails":["carol@client.test"],"groups":["CRM"]}],
		"events":[{"user":"ann@demo.test","calendar":"CRM","summary":"Review","start":"2026-11-23T10:00:00Z","end":"2026-11-23T11:00:00Z"},
		          {"user":"ann@demo.test","summary":"Offsite","start":"2026-11-24","end":"2026-11-26"}]}`), 0o600)
	f := fakegoogle.New(fakegoogle.Options{})
	f.Start()
	defer f.Close()
	if err := f.LoadSeedFile(good); err != nil {
		t.Fatalf("LoadSeedFile: %v", err)
	}
	if r, err := gmailFor(t, f, "ann@demo.test").Users.Messages.List("me").Q("subject:welcome").Do(); err != nil || len(r.Messages) != 1 {
		t.Errorf("seeded mailbox: %v, %v", r, err)
	}
	if r, err := peopleFor(t, f, "ann@demo.test").People.Connections.List("people/me").PersonFields("names").Do(); err != nil || len(r.Connections) != 1 {
		t.Errorf("seeded contacts: %v, %v", r, err)
	}
	cal := calendarFor(t, f, "ann@demo.test")
	if r, err := cal.CalendarList.List().Do(); err != nil || len(r.Items) != 2 || r.Items[1].Summary != "CRM" {
		t.Fatalf("seeded calendars: %v, %v", r, err)
	}
	if r, err := cal.Events.List("primary").Do(); err != nil || len(r.Items) != 1 || r.Items[0].Start.Date != "2026-11-24" {
		t.Errorf("seeded all-day event: %v, %v", r, err)
	}
	badEvent := filepath.Join(dir, "bad-event.json")
	os.WriteFile(badEvent, []byte(`{"users":[],"events":[{"user":"ann@demo.test","summary":"x","start":"2026-11-24"}]}`), 0o600)
	if err := f.LoadSeedFile(badEvent); err == nil || !strings.Contains(err.Error(), "Missing end time") {
		t.Errorf("an event without an end: %v", err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"users":[{"email":"x@demo.test","mailbox":"?"}]}`), 0o600)
	if err := f.LoadSeedFile(bad); err == nil || !strings.Contains(err.Error(), `unknown field "mailbox"`) {
		t.Errorf("LoadSeedFile(unknown field) = %v", err)
	}
	if err := f.LoadSeedFile(filepath.Join(dir, "absent.json")); err == nil {
		t.Error("LoadSeedFile(absent) succeeded")
	}
}

type refusingPublisher struct{ calls chan struct{} }

func (p refusingPublisher) Publish(context.Context, string, []byte) error {
	p.calls <- struct{}{}
	return errors.New("topic not found")
}

// A notification the Publisher refuses is counted, not silently dropped.
func TestRefusedNotificationsAreCounted(t *testing.T) {
	pub := refusingPublisher{calls: make(chan struct{}, 4)}
	f := newFake(t, fakegoogle.Options{Publisher: pub})
	svc := gmailFor(t, f, "ann@acme.test")
	if _, err := svc.Users.Watch("me", &gmail.WatchRequest{TopicName: "projects/p/topics/missing"}).Do(); err != nil {
		t.Fatal(err)
	}
	insert(t, svc, "Subject: a change\n\nx", "INBOX") // the watch notifies of changes
	<-pub.calls
	deadline := time.Now().Add(5 * time.Second)
	for f.PublishErrors() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := f.PublishErrors(); got != 1 {
		t.Errorf("PublishErrors = %d, want 1", got)
	}
}

func TestTotalAndResetUsage(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	gmailFor(t, f, "ann@acme.test").Users.GetProfile("me").Do()
	gmailFor(t, f, "bob@acme.test").Users.GetProfile("me").Do()
	gmailFor(t, f, "bob@acme.test").Users.Labels.List("me").Do()
	total := f.TotalUsage()
	if got := total["gmail.users.getProfile"]; got.Calls != 2 || got.Units != 2 {
		t.Errorf("total getProfile = %+v", got)
	}
	if got := total["gmail.users.labels.list"]; got.Calls != 1 {
		t.Errorf("total labels.list = %+v", got)
	}
	f.ResetUsage()
	if n := len(f.TotalUsage()); n != 0 {
		t.Errorf("after ResetUsage %d methods have counts", n)
	}
}

// With a one-second burst, the budget is Gmail's moving average of 250
// units a second: a second's worth passes at once, the next call waits for
// the refill.
func TestQuotaBurst(t *testing.T) {
	clk := clock.NewFake(t0)
	f := newFake(t, fakegoogle.Options{Clock: clk, QuotaPerUserPerMinute: 15000, QuotaBurst: time.Second})
	svc := gmailFor(t, f, "ann@acme.test")
	ok := 0
	for range 300 {
		if _, err := svc.Users.GetProfile("me").Do(); err != nil {
			apiErr(t, err, 403, "userRateLimitExceeded")
			break
		}
		ok++
	}
	if ok != 250 {
		t.Errorf("%d calls of 1 unit in the first second, want 250", ok)
	}
	clk.Advance(100 * time.Millisecond)
	n := 0
	for range 50 {
		if _, err := svc.Users.GetProfile("me").Do(); err != nil {
			break
		}
		n++
	}
	if n != 25 {
		t.Errorf("%d calls after a tenth of a second, want 25", n)
	}
}
