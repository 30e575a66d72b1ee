package mailparse

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/matching"
)

const multipart = "From: =?UTF-8?B?Q2Fyb2wgQ2zDrWVudGU=?= <carol@client.test>\r\n" +
	"To: Ann <ann@demo.test>\r\nCc: dan@client.test\r\nSubject: =?UTF-8?Q?Portfolio_r=C3=A9view?=\r\n" +
	"Date: Mon, 16 Nov 2026 09:30:00 -0500\r\nMessage-ID: <m1@client.test>\r\nMIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=b1\r\n\r\n" +
	"--b1\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n" +
	"--b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello Ann\r\n" +
	"--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <b>Ann</b></p>\r\n--b2--\r\n" +
	"--b1\r\nContent-Type: application/pdf; name=statement.pdf\r\nContent-Disposition: attachment; filename=statement.pdf\r\n" +
	"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n"

func TestParse(t *testing.T) {
	m, err := Parse([]byte(multipart))
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Portfolio réview" || !strings.Contains(m.From, "carol@client.test") || m.Cc != "dan@client.test" ||
		m.MessageID != "<m1@client.test>" || !m.Date.Equal(time.Date(2026, 11, 16, 14, 30, 0, 0, time.UTC)) {
		t.Errorf("headers: %+v", m)
	}
	if strings.TrimSpace(m.Text) != "Hello Ann" || !strings.Contains(m.HTML, "<b>Ann</b>") {
		t.Errorf("bodies: %q / %q", m.Text, m.HTML)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "statement.pdf" || string(m.Attachments[0].Data) != "%PDF-1.4\n" {
		t.Errorf("attachments: %+v", m.Attachments)
	}
	if got := matching.Addresses(m.From); len(got) != 1 || got[0] != "carol@client.test" {
		t.Errorf("From addresses %v", got)
	}
	if _, err := Parse(nil); err == nil {
		t.Error("an empty message parsed")
	}
}

// Every message of the real-world corpus parses, or is refused with a
// message, without panicking or hanging, and matching copes with its
// headers.
func TestRealWorldCorpus(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "testdata", "mime-corpus")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("the MIME corpus is not at %s (it lives beside the repository): %v", dir, err)
	}
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".eml") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 20 {
		t.Fatalf("only %d messages in %s", len(files), dir)
	}
	parsed, refused := 0, 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			m, err := Parse(raw)
			if err != nil {
				refused++
				if err.Error() == "" {
					t.Errorf("%s: refused without a reason", f)
				}
				return
			}
			parsed++
			out := matching.Decide(matching.Prepare(matching.Message{From: m.From, To: m.To, Cc: m.Cc, Bcc: m.Bcc},
				matching.User{Email: "ann@demo.test"}, matching.DefaultOptions()), nil, matching.User{Email: "ann@demo.test"}, matching.DefaultOptions())
			if out.Status == "" {
				t.Errorf("%s: no outcome", f)
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: parsing took over 10s", f)
		}
	}
	t.Logf("%d messages: %d parsed, %d refused with a reason", len(files), parsed, refused)
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(multipart))
	f.Add([]byte("Subject: x\r\n\r\nbody"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Parse(raw)
		if err == nil && m == nil {
			t.Error("no message and no error")
		}
	})
}

func TestMboxFromLineIsDropped(t *testing.T) {
	m, err := Parse([]byte("From carol@client.test Mon Nov 16 09:30:00 2026\r\nFrom: carol@client.test\r\nSubject: hi\r\n\r\nbody"))
	if err != nil || m.From != "carol@client.test" || m.Subject != "hi" || len(m.Problems) == 0 {
		t.Errorf("%+v, %v", m, err)
	}
}

// Two real messages of the corpus: a sender's name in ISO-8859-1 encoded
// words reads decoded in FromText (From keeps the header as written), and
// the original message inside a bounce (message/rfc822) is an attachment.
func TestCorpusFromTextAndAttachedMessages(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "testdata", "mime-corpus")
	read := func(name string) *Message {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Skipf("the MIME corpus is not beside the repository: %v", err)
		}
		m, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := read("error_emails/header_fields_with_empty_values.eml")
	if m.FromText != "Jørn Støylen <jorn@prikkprikkprikk.no>" || !strings.HasPrefix(m.From, "=?iso-8859-1?Q?") {
		t.Errorf("From %q, FromText %q", m.From, m.FromText)
	}
	m = read("mime_emails/raw_email_with_mimepart_without_content_type.eml")
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "forwarded message.eml" || m.Attachments[0].ContentType != "message/rfc822" ||
		!strings.Contains(string(m.Attachments[0].Data), "roor32@gmail.com") {
		t.Errorf("attachments of the bounce: %+v", m.Attachments)
	}
}
