package mailbox_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gmail "google.golang.org/api/gmail/v1"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/crm/restcrm"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/mailbox"
	"github.com/crmsync/crmsync/shared/workspace"
)

// unreliable fails a share of CRM API requests with 503: half before the
// CRM acts, half after it acted (the answer is lost), as a flaky network
// or a restarting server does.
type unreliable struct {
	next         http.Handler
	rate         float64
	mu           sync.Mutex
	rng          *rand.Rand
	before, lost atomic.Int64
}

func (u *unreliable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	x := u.rng.Float64()
	u.mu.Unlock()
	switch {
	case x < u.rate/2:
		u.before.Add(1)
		http.Error(w, `{"error":{"code":503,"status":"UNAVAILABLE","message":"flaky"}}`, http.StatusServiceUnavailable)
	case x < u.rate:
		u.lost.Add(1)
		u.next.ServeHTTP(httptest.NewRecorder(), r)
		http.Error(w, `{"error":{"code":503,"status":"UNAVAILABLE","message":"answer lost"}}`, http.StatusServiceUnavailable)
	default:
		u.next.ServeHTTP(w, r)
	}
}

func reliabilitySize(t *testing.T) int {
	if v := os.Getenv("CRMSYNC_RELIABILITY_MESSAGES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("CRMSYNC_RELIABILITY_MESSAGES=%q", v)
		}
		return n
	}
	if testing.Short() {
		return 200
	}
	return 2000
}

// Thousands of labeled messages; each notification delivered one to three
// times in random order to four workers; 10% of Gmail and CRM calls
// failing transiently; a fifth of the passes killed at a random moment.
// At the end every message is posted exactly once and carries exactly one
// status label.
func TestReliabilityUnderDuplicatesFaultsAndKills(t *testing.T) {
	n := reliabilitySize(t)
	w := newWorld(t, nil)
	ctx := w.ctx
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d messages", seed, n)
	rng := rand.New(rand.NewPCG(seed, 7))

	// The CRM, over HTTP with faults, through restcrm's retries.
	flaky := &unreliable{next: refcrm.Handler(w.crm, refcrm.Keys{Sync: "k"}, logging.Discard()), rate: 0.10, rng: rand.New(rand.NewPCG(seed, 11))}
	srv := httptest.NewServer(flaky)
	defer srv.Close()
	client := restcrm.New(srv.URL+"/", "k")
	client.Backoff = func(int) time.Duration { return time.Millisecond }

	// Mail from four contacts, labeled as a Gmail filter would.
	from := []string{"carol@client.test", "dan@client.test", "ann@firm.test", "stranger@else.test"}
	var ids []string
	for i := range n {
		sender := from[i%2] // the CRM contacts
		id := w.deliver(fmt.Sprintf("From: %s\nTo: ann@firm.test\nSubject: m%d\nMessage-ID: <m%d@x.test>\n\nbody %d", sender, i, i, i))
		ids = append(ids, id)
	}
	trigger := w.labelID("SmartOffice")
	for start := 0; start < n; start += 1000 {
		batch := ids[start:min(start+1000, n)]
		if err := w.gm.Users.Messages.BatchModify("me", &gmail.BatchModifyMessagesRequest{Ids: batch, AddLabelIds: []string{trigger}}).Do(); err != nil {
			t.Fatal(err)
		}
	}

	// Faults on every Gmail method the engine uses.
	for _, m := range []string{"gmail.users.history.list", "gmail.users.messages.get", "gmail.users.messages.batchModify", "gmail.users.messages.list", "gmail.users.getProfile"} {
		w.google.SetFault(m, &fakegoogle.Fault{Rate: 0.10, Codes: []int{429, 500, 503}})
	}
	engine := func(holder string) *mailbox.Engine {
		return &mailbox.Engine{Store: w.st, CRM: client, Google: w.engine.Google, Log: logging.Discard(), Clock: clock.Real{},
			Topic: w.engine.Topic, Holder: holder, LeaseTTL: 2 * time.Second, MaxAttempts: 50, UserUnitsPerMinute: 60e6,
			Retry: workspace.Retry{Attempts: 4, Base: time.Millisecond, Max: 5 * time.Millisecond}}
	}

	// Notifications: one per 20 messages, each delivered 1-3 times, shuffled.
	var queue []int
	for i := 0; i < n/20+1; i++ {
		for range 1 + rng.IntN(3) {
			queue = append(queue, i)
		}
	}
	rng.Shuffle(len(queue), func(i, j int) { queue[i], queue[j] = queue[j], queue[i] })
	work := make(chan int, len(queue)*4)
	for _, q := range queue {
		work <- q
	}
	var pending sync.WaitGroup
	pending.Add(len(queue))
	var kills, busy, passes atomic.Int64
	var rngMu sync.Mutex
	roll := func() float64 { rngMu.Lock(); defer rngMu.Unlock(); return rng.Float64() }
	var workers sync.WaitGroup
	for wk := range 4 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			e := engine(fmt.Sprintf("worker-%d", wk))
			for q := range work {
				pctx, cancel := context.WithCancel(ctx)
				if roll() < 0.2 {
					kills.Add(1)
					time.AfterFunc(time.Duration(roll()*float64(20*time.Millisecond)), cancel)
				}
				_, err := e.Process(pctx, ann)
				killed := pctx.Err() != nil
				cancel()
				passes.Add(1)
				if err != nil || killed {
					// Pub/Sub redelivers a notification that was not
					// acknowledged: the pass failed or its worker died.
					if errors.Is(err, mailbox.ErrBusy) {
						busy.Add(1)
					}
					pending.Add(1)
					go func() { time.Sleep(100 * time.Millisecond); work <- q }()
				}
				pending.Done()
			}
		}()
	}
	pending.Wait()
	close(work)
	workers.Wait()
	t.Logf("%d passes, %d killed, %d busy; CRM faults: %d before acting, %d answers lost", passes.Load(), kills.Load(), busy.Load(), flaky.before.Load(), flaky.lost.Load())

	// The scheduler's sweep (faults still on) finishes what killed passes
	// left; claims of killed passes run out after the lease TTL.
	sweeper := engine("sweeper")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		left, err := w.gm.Users.Messages.List("me").LabelIds(trigger).MaxResults(500).Do()
		if err == nil && len(left.Messages) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("messages still labeled after 3 minutes of sweeps")
		}
		if _, err := sweeper.Sweep(ctx, ann); err != nil {
			time.Sleep(200 * time.Millisecond)
		}
	}

	// Exactly once, exactly one label.
	w.google.SetFault("*", nil)
	posted := w.labelID("SmartOfficePosted")
	for _, id := range ids {
		labels, _ := w.google.MessageLabels(ann, id)
		var status []string
		for _, l := range labels {
			if l == trigger || l == posted || l == w.labelID("SmartOfficeFailed") || l == w.labelID("SmartOfficeUnmatched") {
				status = append(status, l)
			}
		}
		if !slices.Equal(status, []string{posted}) {
			t.Fatalf("message %s has status labels %v, want exactly Posted", id, status)
		}
	}
	perMessage := map[string]int{}
	for _, key := range []string{"carol", "dan"} {
		for _, note := range w.notes(key) {
			perMessage[note.GmailMessageID]++
		}
	}
	for _, id := range ids {
		if perMessage[id] != 1 {
			t.Fatalf("message %s was posted %d times", id, perMessage[id])
		}
	}
	if len(perMessage) != n {
		t.Errorf("%d messages posted, want %d", len(perMessage), n)
	}
}
