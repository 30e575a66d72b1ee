package setup

import (
	"context"
	"slices"

	calendar "google.golang.org/api/calendar/v3"
	people "google.golang.org/api/people/v1"

	"github.com/crmsync/crmsync/shared/connect"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/workspace"
)

// Google gives the clients the settings form reads the user's Google
// with.
type Google interface {
	People(ctx context.Context, email string) (*people.Service, error)
	Calendar(ctx context.Context, email string) (*calendar.Service, error)
}

// Granted lists the features the user's Google access covers: none when
// not connected, all under domain-wide delegation, else those whose
// scopes the user granted on Google's consent screen.
func Granted(t store.Tenant, u store.User) []connect.Feature {
	if u.Connection.State != store.Connected {
		return nil
	}
	all := []connect.Feature{connect.Mail, connect.Contacts, connect.Calendar}
	if t.AuthMode == store.AuthDelegation {
		return all
	}
	return slices.DeleteFunc(all, func(f connect.Feature) bool {
		return len(connect.Lacking(u.Grant.Scopes, []connect.Feature{f})) > 0
	})
}

// GoogleLabels are the names of the user's own Google contact labels
// (not Google's system groups), for the form to offer.
func GoogleLabels(ctx context.Context, g Google, user string) ([]string, error) {
	ppl, err := g.People(ctx, user)
	if err != nil {
		return nil, err
	}
	gs, err := ppl.ContactGroups.List().PageSize(1000).Context(ctx).Do()
	if err != nil {
		return nil, workspace.Classify("people: contactGroups.list", err)
	}
	var out []string
	for _, g := range gs.ContactGroups {
		if g.GroupType == "USER_CONTACT_GROUP" {
			out = append(out, g.Name)
		}
	}
	return out, nil
}

// GoogleCalendars are the names of the user's Google calendars, for the
// form to offer.
func GoogleCalendars(ctx context.Context, g Google, user string) ([]string, error) {
	cal, err := g.Calendar(ctx, user)
	if err != nil {
		return nil, err
	}
	var out []string
	err = workspace.EachPage(func(page string) (string, error) {
		cl, err := workspace.AtPage(cal.CalendarList.List().Context(ctx), page).Do()
		if err != nil {
			return "", workspace.Classify("calendar: calendarList.list", err)
		}
		for _, c := range cl.Items {
			out = append(out, c.Summary)
		}
		return cl.NextPageToken, nil
	})
	return out, err
}
