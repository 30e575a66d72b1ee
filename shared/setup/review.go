package setup

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/store"
)

// ReviewItem is an e-mail activity automatic mail sync filed on a guess,
// waiting for the user.
type ReviewItem struct {
	ID      string    `json:"id"`
	Subject string    `json:"subject"`
	From    string    `json:"from"`
	Date    time.Time `json:"date"`
	// Suggested is the client it was filed on; Candidates the others.
	Suggested  crm.Client   `json:"suggested"`
	Candidates []crm.Client `json:"candidates"`
	Reason     string       `json:"reason"`
	Version    int64        `json:"version"`
	// Message is Gmail's id of the message it was filed from.
	Message string `json:"message,omitempty"`
}

// Review is a user's review queue and every client to reassign to.
type Review struct {
	Items   []ReviewItem `json:"items"`
	Clients []crm.Client `json:"clients"`
}

// crmUser is the CRM user behind a user, for ownership checks.
func (s *Service) crmUser(ctx context.Context, u store.User) (crm.User, error) {
	cu, err := s.CRM.UserByEmail(ctx, u.Email)
	if failure.Is(err, failure.NotFound) {
		return crm.User{}, failure.Errorf("setup: review", failure.Forbidden, "%s is not a CRM user", u.Email)
	}
	return cu, err
}

// ReviewQueue lists the user's own items that need review, newest first.
func (s *Service) ReviewQueue(ctx context.Context, u store.User) (Review, error) {
	cu, err := s.crmUser(ctx, u)
	if err != nil {
		return Review{}, err
	}
	acts, err := s.CRM.EmailActivities(ctx, "", cu.ID, true)
	if err != nil {
		return Review{}, err
	}
	clients, err := s.CRM.ListClients(ctx)
	if err != nil {
		return Review{}, err
	}
	byID := map[string]crm.Client{}
	for _, c := range clients {
		byID[c.ID] = c
	}
	name := func(id string) crm.Client {
		if c, ok := byID[id]; ok {
			return c
		}
		return crm.Client{ID: id, Name: id}
	}
	r := Review{Clients: clients}
	for _, a := range acts {
		item := ReviewItem{ID: a.ID, Subject: a.Subject, From: a.From, Date: a.Date, Suggested: name(a.ClientID), Reason: a.Reason, Version: a.Version,
			Message: a.GmailMessageID}
		for _, c := range a.Candidates {
			item.Candidates = append(item.Candidates, name(c))
		}
		r.Items = append(r.Items, item)
	}
	slices.SortFunc(r.Items, func(a, b ReviewItem) int { return b.Date.Compare(a.Date) })
	slices.SortFunc(r.Clients, func(a, b crm.Client) int { return strings.Compare(a.Name, b.Name) })
	return r, nil
}

// Resolve approves an item (clientID = its suggestion) or reassigns it to
// another client; either way it leaves the queue. Only the user whose
// mailbox the message came from may resolve it.
func (s *Service) Resolve(ctx context.Context, u store.User, id, clientID string) (crm.EmailActivity, error) {
	const op = "setup: resolve review"
	cu, err := s.crmUser(ctx, u)
	if err != nil {
		return crm.EmailActivity{}, err
	}
	a, err := s.CRM.EmailActivity(ctx, id)
	if err != nil {
		return crm.EmailActivity{}, err
	}
	if a.Owner != cu.ID {
		return crm.EmailActivity{}, failure.Errorf(op, failure.Forbidden, "this e-mail is not in your review queue")
	}
	if !a.NeedsReview {
		return crm.EmailActivity{}, failure.Errorf(op, failure.Conflict, "this e-mail was already reviewed")
	}
	if clientID == "" {
		clientID = a.ClientID
	}
	done, err := s.CRM.ResolveEmailActivity(ctx, crm.Write{AsUser: cu.ID, Origin: crm.Origin, IdempotencyKey: "review:" + id + ":" + clientID}, id, clientID, a.Version)
	if err != nil {
		return crm.EmailActivity{}, err
	}
	s.Log.Info("setup: review resolved", "user", u.ID, "activity", id, "client", clientID, "moved", clientID != a.ClientID)
	return done, nil
}
