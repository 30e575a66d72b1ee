package matching

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// ClientCandidate is a client a message could belong to: how many of the
// message's addresses belong to the client's contacts, and when the user
// last had an e-mail activity with the client (zero: never).
type ClientCandidate struct {
	ClientID     string
	Addresses    int
	LastActivity time.Time
}

// ClientLink is where automatic mail sync files a message.
type ClientLink struct {
	// ClientID is the client the activity goes to; "" means no client
	// matched and nothing is created.
	ClientID string
	// NeedsReview marks an educated guess among several candidates.
	NeedsReview bool
	// Others are the other candidates, best first.
	Others []string
	// Reason says which signal decided the guess.
	Reason string
}

// Signals, in the order they decide among several candidate clients.
const (
	SignalAddresses = "most matched addresses"
	SignalRecent    = "most recent e-mail activity with the client"
	SignalOrder     = "no signal told them apart; the first client by ID"
)

// LinkClient decides the client of a message from its candidates. One
// candidate is the link. Several are an educated guess, marked for
// review, decided by the first signal that tells them apart: the most of
// the message's addresses matched among the client's contacts, then the
// most recent e-mail activity the user had with the client, then the
// client ID (so the guess is the same every time).
func LinkClient(cands []ClientCandidate) ClientLink {
	switch len(cands) {
	case 0:
		return ClientLink{}
	case 1:
		return ClientLink{ClientID: cands[0].ClientID}
	}
	c := slices.Clone(cands)
	slices.SortFunc(c, func(a, b ClientCandidate) int {
		if a.Addresses != b.Addresses {
			return b.Addresses - a.Addresses
		}
		if !a.LastActivity.Equal(b.LastActivity) {
			return b.LastActivity.Compare(a.LastActivity)
		}
		return strings.Compare(a.ClientID, b.ClientID)
	})
	best, next := c[0], c[1]
	reason := SignalOrder
	switch {
	case best.Addresses != next.Addresses:
		reason = fmt.Sprintf("%s (%d of the message's addresses, against %d)", SignalAddresses, best.Addresses, next.Addresses)
	case !best.LastActivity.Equal(next.LastActivity):
		reason = fmt.Sprintf("%s (%s)", SignalRecent, best.LastActivity.UTC().Format("2 Jan 2006"))
	}
	link := ClientLink{ClientID: best.ClientID, NeedsReview: true, Reason: reason}
	for _, o := range c[1:] {
		link.Others = append(link.Others, o.ClientID)
	}
	return link
}
