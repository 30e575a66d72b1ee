package fakegoogle_test

import (
	"net/http"
	"testing"

	"github.com/crmsync/crmsync/shared/fakegoogle"
)

// An add-on event's tokens, as Gmail hands them out: the add-on's OAuth
// token reads the open message's headers when the request carries that
// message's access token (X-Goog-Gmail-Access-Token), and nothing else —
// not another message, not the message's body (Gmail answers a
// metadata-only token asking for format full or raw with 403 "Metadata
// scope doesn't allow format FULL"), not the mailbox's listings.
func TestAnAddOnEventReadsOnlyTheOpenMessagesHeaders(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	open, err := f.InsertMessage("ann@acme.test", []byte("From: carol@client.test\r\nSubject: hi\r\n\r\nbody"), []string{"INBOX"})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := f.InsertMessage("ann@acme.test", []byte("From: dan@client.test\r\nSubject: other\r\n\r\nbody"), []string{"INBOX"})
	e, _, err := f.AddOnEvent("https://panel.example", "42", "ann@acme.test", open, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := gmailAs(t, f, e.Authorization["userOAuthToken"])
	get := func(id, format string) error {
		c := svc.Users.Messages.Get("me", id)
		if format != "" {
			c = c.Format(format)
		}
		h := c.Header()
		h.Set("X-Goog-Gmail-Access-Token", e.Gmail["accessToken"])
		_, err := c.Do()
		return err
	}
	if err := get(open, "metadata"); err != nil {
		t.Fatalf("the open message's headers: %v", err)
	}
	for _, format := range []string{"", "full", "raw"} {
		if err := get(open, format); err == nil {
			t.Errorf("format %q of the open message was read with a metadata-only token", format)
		} else if ge := apiErr(t, err, http.StatusForbidden, "forbidden"); format == "full" && ge.Message != "Metadata scope doesn't allow format FULL" {
			t.Errorf("message %q", ge.Message)
		}
	}
	apiErr(t, get(other, "metadata"), http.StatusForbidden, "forbidden")
	c := svc.Users.Messages.List("me")
	c.Header().Set("X-Goog-Gmail-Access-Token", e.Gmail["accessToken"])
	if _, err := c.Do(); err == nil {
		t.Error("the add-on's token listed the mailbox")
	}
	// The product's own grant is not bound to a message.
	if _, err := gmailFor(t, f, "ann@acme.test").Users.Messages.Get("me", other).Format("full").Do(); err != nil {
		t.Errorf("the product's own token: %v", err)
	}
}
