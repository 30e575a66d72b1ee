package setup

import (
	"context"
	"slices"
	"strings"

	"github.com/crmsync/crmsync/shared/store"
)

// Roster is the firm's users as the admin page lists them.
type Roster struct {
	Users []Status `json:"users"`
	// Counts sum the users up: all, syncing (active and connected),
	// notConnected, pending (waiting for approval), attention, noRight
	// (without the CRM's integration right).
	Counts map[string]int `json:"counts"`
	// Query is the search the list is filtered by (name or address).
	Query string `json:"query,omitempty"`
}

// Roster lists every user of the firm: those set up here, and the CRM
// users of the firm's domains who are not, each with the CRM's
// integration right; sorted by address, summed up, then filtered to those
// whose name or address contains query (the counts are the whole firm's).
func (s *Service) Roster(ctx context.Context, t store.Tenant, query string) (Roster, error) {
	var r Roster
	users, err := s.Store.Users().ListByTenant(ctx, t.ID)
	if err != nil {
		return r, err
	}
	byEmail := map[string]int{}
	now := s.Clock.Now()
	for _, u := range users {
		byEmail[u.ID] = len(r.Users)
		st := StatusOf(t, u)
		st.Today = u.Passes["mail"].MailToday(now)
		r.Users = append(r.Users, st)
	}
	crmUsers, err := s.CRM.Users(ctx)
	if err != nil {
		return r, err
	}
	for _, cu := range crmUsers {
		id := strings.ToLower(cu.Email)
		if !slices.Contains(t.Domains, id[strings.LastIndexByte(id, '@')+1:]) {
			continue
		}
		right := cu.IntegrationEnabled
		if i, ok := byEmail[id]; ok {
			r.Users[i].Integration = &right
			if r.Users[i].Name == "" {
				r.Users[i].Name = cu.Name // signed in before the product kept names
			}
			continue
		}
		r.Users = append(r.Users, Status{Email: id, Name: cu.Name, Admin: IsAdmin(t, id), Connection: store.NotConnected, Setup: store.NotConfigured, Integration: &right})
	}
	slices.SortFunc(r.Users, func(a, b Status) int { return strings.Compare(a.Email, b.Email) })
	r.Counts = countUsers(r.Users)
	if q := strings.ToLower(strings.TrimSpace(query)); q != "" {
		r.Query = q
		r.Users = slices.DeleteFunc(r.Users, func(s Status) bool {
			return !strings.Contains(strings.ToLower(s.Email), q) && !strings.Contains(strings.ToLower(s.Name), q)
		})
	}
	return r, nil
}

// countUsers sums users up for the roster: each user counts once among
// noRight, syncing, pending and notConnected (in that order), and again
// under attention when something waits for them.
func countUsers(users []Status) map[string]int {
	c := map[string]int{}
	for _, s := range users {
		c["all"]++
		switch {
		case s.Integration != nil && !*s.Integration:
			c["noRight"]++
		case s.Setup == store.Active && s.Connection == store.Connected:
			c["syncing"]++
		case s.Setup == store.PendingApproval:
			c["pending"]++
		case s.Stored && s.Connection != store.Connected:
			c["notConnected"]++
		}
		if s.Attention != "" || len(s.NeedsAccess) > 0 {
			c["attention"]++
		}
	}
	return c
}
