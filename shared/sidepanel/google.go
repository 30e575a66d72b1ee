package sidepanel

import (
	"context"
	"net/http"
	"net/mail"
	"strings"

	"golang.org/x/oauth2"
	gmail "google.golang.org/api/gmail/v1"
	"google.golang.org/api/option"

	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/workspace"
)

// EventAccess reads the open message with the access the add-on's event
// carries, nothing broader: the user's add-on OAuth token (current
// message metadata) and the message's own access token in the
// X-Goog-Gmail-Access-Token header.
type EventAccess struct {
	// Endpoint is the Google APIs' base URL ("" for Google's own).
	Endpoint string
}

// Sender is the open message's From address.
func (a EventAccess) Sender(ctx context.Context, e Event) (*mail.Address, error) {
	const op = "sidepanel: read the open message"
	if e.Authorization.UserOAuthToken == "" || e.Gmail.AccessToken == "" {
		return nil, failure.Errorf(op, failure.Unauthenticated, "the event carries no access to the open message")
	}
	hc := &http.Client{Transport: &messageAccess{token: e.Gmail.AccessToken,
		next: &oauth2.Transport{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: e.Authorization.UserOAuthToken})}}}
	opts := []option.ClientOption{option.WithHTTPClient(hc)}
	if a.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(strings.TrimSuffix(a.Endpoint, "/")+"/"))
	}
	gm, err := gmail.NewService(ctx, opts...)
	if err != nil {
		return nil, failure.E(op, failure.Permanent, err)
	}
	m, err := gm.Users.Messages.Get("me", e.Gmail.MessageID).Format("metadata").MetadataHeaders("From").Context(ctx).Do()
	if err != nil {
		return nil, workspace.Classify("gmail: users.messages.get (the open message)", err)
	}
	for _, h := range m.Payload.Headers {
		if h.Name == "From" {
			addr, err := mail.ParseAddress(h.Value)
			if err != nil {
				return nil, failure.Errorf(op, failure.Invalid, "the sender %q is not an address", h.Value)
			}
			return addr, nil
		}
	}
	return nil, failure.Errorf(op, failure.Invalid, "the message has no sender")
}

// messageAccess adds the open message's access token to each request.
type messageAccess struct {
	token string
	next  http.RoundTripper
}

func (m *messageAccess) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Goog-Gmail-Access-Token", m.token)
	return m.next.RoundTrip(r)
}
