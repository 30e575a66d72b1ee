package mailbox_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/matching"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/workspace"
)

// Oversized and malformed messages get a clear outcome (Failed with the
// reason, or posted when nothing is wrong with them), memory stays
// bounded, and nothing crashes: a 40 MB message, 10,000 recipients,
// multiparts nested 2,000 deep, a header line of 1 MB.
func TestHostileMessagesGetAClearOutcome(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40 MB message")
	}
	w := newWorld(t, nil)
	big := strings.Repeat("A", 30<<20) // 30 MB of data: 40 MB as base64
	var many strings.Builder
	for i := range 10_000 {
		if i > 0 {
			many.WriteString(", ")
		}
		fmt.Fprintf(&many, "r%d@list%d.test", i, i%50)
	}
	const depth = 2000
	var nested strings.Builder
	for i := range depth {
		fmt.Fprintf(&nested, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i)
	}
	nested.WriteString("Content-Type: text/plain\n\ndeep inside\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&nested, "--b%d--\n", i)
	}
	cases := []struct {
		name, raw string
		labels    []string
		status    string
		reason    string
	}{
		{"a 40 MB message", "From: \"Carol Client\" <carol@client.test>\nTo: ann@firm.test\nSubject: Scans\nMIME-Version: 1.0\n" +
			"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\nThe scans.\n--x\n" +
			"Content-Type: application/octet-stream; name=scans.bin\nContent-Disposition: attachment; filename=scans.bin\nContent-Transfer-Encoding: base64\n\n" +
			base64.StdEncoding.EncodeToString([]byte(big)) + "\n--x--\n", []string{"INBOX"}, "SmartOfficeFailed", "over the firm's limit"},
		{"10,000 recipients", "From: ann@firm.test\nTo: " + many.String() + "\nSubject: Newsletter\n\nHello all.\n", []string{"SENT"},
			"SmartOfficeFailed", fmt.Sprintf("more than the %d looked up", matching.MaxLookups)},
		{"multiparts nested 2,000 deep", "From: \"Carol Client\" <carol@client.test>\nTo: ann@firm.test\nSubject: Deep\nMIME-Version: 1.0\n" +
			nested.String(), []string{"INBOX"}, "SmartOfficePosted", ""},
		{"a header line of 1 MB", "From: \"Carol Client\" <carol@client.test>\nTo: ann@firm.test\nSubject: " + strings.Repeat("long ", 200_000) +
			"\n\nBody.\n", []string{"INBOX"}, "SmartOfficePosted", ""},
	}
	var peak atomic.Uint64
	stop := make(chan struct{})
	sample := func() {
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}
	ids := make([]string, len(cases))
	for i, c := range cases {
		ids[i] = w.deliver(c.raw, c.labels...)
		w.label(ids[i])
	}
	big, cases[0].raw = "", ""
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak.Store(before.HeapInuse)
	go sample()
	w.process()
	close(stop)
	for i, c := range cases {
		got := w.statusOf(ids[i])
		if len(got) != 1 || got[0] != c.status {
			t.Errorf("%s: labels %v, want %s", c.name, got, c.status)
		}
		if c.reason != "" {
			e, err := w.st.Ledger().Get(w.ctx, "mail:"+ann, ids[i])
			if err != nil || !strings.Contains(e.Detail["reason"], c.reason) {
				t.Errorf("%s: reason %q (%v), want it to say %q", c.name, e.Detail["reason"], err, c.reason)
			}
		}
	}
	// The pass's growth of the heap (the fake Gmail serving the messages
	// is in this process too) stays within a bounded multiple of the
	// largest message.
	grew := (peak.Load() - before.HeapInuse) >> 20
	if grew > 512 {
		t.Errorf("the heap grew by %d MB during the pass", grew)
	}
	t.Logf("the heap grew by %d MB during the pass (the largest message is 40 MB; the fake Gmail's JSON answer is in this process too)", grew)
}

// The instance's memory budget bounds the messages in hand at once: eight
// 2.7 MB messages under a 40 MB budget are handled a few at a time (each
// reserves six times its size as its download arrives; one that finds the
// budget taken stops, reads its size and waits for room), and a message
// that could never fit is labeled Failed with the reason once its download
// passes the budget, without reading the rest.
func TestMemoryBudgetBoundsTheMessagesInHand(t *testing.T) {
	// Attachments are not posted here: the firm's attachment limit is
	// another test's.
	w := newWorld(t, func(m *store.MailSetup) { m.IncludeAttachments = false })
	const budget = 40 << 20
	w.engine.MemoryBudget = budget
	attachment := func(size int) string {
		return "From: \"Carol Client\" <carol@client.test>\nTo: ann@firm.test\nSubject: Scans\nMIME-Version: 1.0\n" +
			"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\nThe scans.\n--x\n" +
			"Content-Type: application/octet-stream; name=scans.bin\nContent-Disposition: attachment; filename=scans.bin\nContent-Transfer-Encoding: base64\n\n" +
			base64.StdEncoding.EncodeToString([]byte(strings.Repeat("A", size))) + "\n--x--\n"
	}
	var ids []string
	for range 8 {
		ids = append(ids, w.deliver(attachment(2<<20)))
		w.label(ids[len(ids)-1])
	}
	huge := w.deliver(attachment(6 << 20)) // 8 MB: 48 MB in hand, over the whole budget
	w.label(huge)
	w.process()
	for _, id := range ids {
		if got := w.statusOf(id); len(got) != 1 {
			t.Errorf("message %s: status labels %v, want one", id, got)
		}
	}
	if got := w.statusOf(huge); len(got) != 1 || got[0] != "SmartOfficeFailed" {
		t.Errorf("the message over the budget: labels %v, want SmartOfficeFailed", got)
	}
	e, err := w.st.Ledger().Get(w.ctx, "mail:"+ann, huge)
	if err != nil || !strings.Contains(e.Detail["reason"], "more than this service handles in memory") {
		t.Errorf("reason %q (%v), want it to say the message does not fit in memory", e.Detail["reason"], err)
	}
	one := int64(len(attachment(2<<20))) * 6
	peak := w.engine.MemoryPeak()
	if peak > budget || peak < 2*one {
		t.Errorf("peak in hand %d MB; want at least two messages' %d MB and at most the %d MB budget", peak>>20, 2*one>>20, budget>>20)
	}
	t.Logf("peak in hand %.1f MB of a %d MB budget (one message: %.1f MB)", float64(peak)/(1<<20), budget>>20, float64(one)/(1<<20))
}

// A message larger than the firm's attachment limit, with an attachment
// over it, is failed with the posting rule's reason without downloading
// all of it: its raw download stops at the limit, and its structure
// (format full, without attachment data) shows the attachment's size.
func TestAnAttachmentOverTheLimitIsNotDownloaded(t *testing.T) {
	w := newWorld(t, nil) // the firm's limit is 50,000 bytes; attachments are posted
	var read atomic.Int64
	w.engine.Google.(*workspace.Factory).HTTP = &http.Client{Transport: countingTransport{&read}}
	msg := "From: \"Carol Client\" <carol@client.test>\nTo: ann@firm.test\nSubject: Scans\nMIME-Version: 1.0\n" +
		"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\nThe scans.\n--x\n" +
		"Content-Type: application/octet-stream; name=scans.bin\nContent-Disposition: attachment; filename=scans.bin\nContent-Transfer-Encoding: base64\n\n" +
		base64.StdEncoding.EncodeToString([]byte(strings.Repeat("A", 4<<20))) + "\n--x--\n"
	id := w.deliver(msg)
	w.label(id)
	w.google.ResetUsage()
	if r := w.process(); r.Failed != 1 {
		t.Fatalf("result %+v", r)
	}
	if r := w.ledger(id).Detail["reason"]; !strings.Contains(r, `attachment "scans.bin" is 4194304 bytes, over the firm's limit of 50000`) {
		t.Errorf("reason %q", r)
	}
	if got := read.Load(); got > 1<<20 {
		t.Errorf("read %d bytes of Gmail's answers for a 5.6 MB message; the download should stop near the limit", got)
	}
	if got := w.google.Usage(ann)["gmail.users.messages.get"]; got.Units != 10 {
		t.Errorf("messages.get: %+v, want the stopped download and the structure (10 units)", got)
	}
	// Under the limit, the same shape is posted whole.
	small := strings.Replace(msg, base64.StdEncoding.EncodeToString([]byte(strings.Repeat("A", 4<<20))), base64.StdEncoding.EncodeToString([]byte("A small scan")), 1)
	id2 := w.deliver(small)
	w.label(id2)
	if r := w.process(); r.Posted != 1 {
		t.Errorf("a small attachment: %+v", r)
	}
}

// countingTransport counts the bytes of the answers read through it.
type countingTransport struct{ n *atomic.Int64 }

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		resp.Body = &countingBody{resp.Body, c.n}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
