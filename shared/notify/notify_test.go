package notify

import (
	"bytes"
	"context"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/jhillyerd/enmime"

	"github.com/crmsync/crmsync/shared/failure"
)

func TestComposeWritesBothPartsAndRefusesInjection(t *testing.T) {
	from := mail.Address{Name: "CRM Sync", Address: "crm-sync@firm.test"}
	raw, err := Compose(from, Message{To: "Cat <cat@firm.test>", Subject: "Grüße: your setup", Text: "plain ünïcode", HTML: "<p>html</p>", Key: "setup-cat@firm.test-3"},
		time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if env.GetHeader("Subject") != "Grüße: your setup" || env.Text != "plain ünïcode" || !strings.Contains(env.HTML, "<p>html</p>") {
		t.Errorf("read back: subject %q text %q html %q", env.GetHeader("Subject"), env.Text, env.HTML)
	}
	if env.GetHeader("Auto-Submitted") != "auto-generated" || env.GetHeader("Message-Id") != "<setup-cat.firm.test-3@firm.test>" {
		t.Errorf("headers: Auto-Submitted %q, Message-ID %q", env.GetHeader("Auto-Submitted"), env.GetHeader("Message-Id"))
	}
	for name, m := range map[string]Message{
		"subject injection":  {To: "cat@firm.test", Subject: "hi\r\nBcc: eve@evil.test"},
		"not an address":     {To: "cat at firm", Subject: "hi"},
		"recipient injected": {To: "cat@firm.test\r\nBcc: eve@evil.test", Subject: "hi"},
	} {
		if _, err := Compose(from, m, time.Now()); !failure.Is(err, failure.Invalid) {
			t.Errorf("%s: %v, want Invalid", name, err)
		}
	}
}

func TestUnavailableSaysWhy(t *testing.T) {
	err := Unavailable{Err: failure.Errorf("wiring", failure.Permanent, "SYSTEM_SENDER is not set")}.Send(context.Background(), Message{})
	if !failure.Is(err, failure.Transient) || !strings.Contains(err.Error(), "SYSTEM_SENDER") {
		t.Errorf("Send = %v", err)
	}
	if (&Gmail{}).Send(context.Background(), Message{To: "a@b.test"}) == nil {
		t.Error("a sender without a mailbox sent")
	}
}
