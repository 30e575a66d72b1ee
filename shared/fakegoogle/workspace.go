package fakegoogle

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	calendar "google.golang.org/api/calendar/v3"
)

// account is one user of the fake Workspace.
type account struct {
	// suspended accounts cannot be acted for (SuspendUser).
	suspended bool
	email     string
	name      string
	domain    string
	mailbox   *mailbox
	book      *contactBook
	cals      *calendars
}

// normalizeEmail is the form addresses are compared in.
func normalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// User describes a user to add.
type User struct {
	Email string `json:"email"`
	Name  string `json:"name"`
	// TimeZone is the primary calendar's IANA time zone; default UTC.
	TimeZone string `json:"timeZone,omitempty"`
	// Consumer makes a personal Google account that uses this address
	// (anyone can make one for an address they receive mail at): its
	// id_tokens carry no hd claim, as a Workspace account's do.
	Consumer bool `json:"consumer,omitempty"`
}

// AddUser adds a user with an empty mailbox (system labels only). Adding an
// existing address is an error.
func (s *Server) AddUser(u User) error {
	email := normalizeEmail(u.Email)
	at := strings.LastIndexByte(email, '@')
	if at < 1 || at == len(email)-1 {
		return fmt.Errorf("fakegoogle: %q is not an address", u.Email)
	}
	if u.TimeZone != "" {
		if _, err := time.LoadLocation(u.TimeZone); err != nil {
			return fmt.Errorf("fakegoogle: user %s: time zone: %w", email, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[email] != nil {
		return fmt.Errorf("fakegoogle: user %s exists", email)
	}
	domain := email[at+1:]
	if u.Consumer {
		domain = ""
	}
	s.users[email] = &account{email: email, name: u.Name, domain: domain, mailbox: newMailbox(s, email),
		book: newContactBook(s.opts.Clock.Now()), cals: newCalendars(email, u.TimeZone, s.opts.Clock.Now())}
	return nil
}

// Seed is the JSON form of a fake Workspace, for the sandbox:
//
//	{"users":[{"email":"ann@demo.test","name":"Ann Archer"}],
//	 "messages":[{"user":"ann@demo.test","raw":"From: …\r\n\r\nHello","labelIds":["INBOX","UNREAD"]}],
//	 "contacts":[{"user":"ann@demo.test","given":"Carol","family":"Client","emails":["carol@client.test"]}],
//	 "events":[{"user":"ann@demo.test","summary":"Review","start":"2026-11-23T10:00:00Z","end":"2026-11-23T11:00:00Z"}]}
type Seed struct {
	Users    []User        `json:"users"`
	Messages []SeedMessage `json:"messages,omitempty"`
	Contacts []SeedContact `json:"contacts,omitempty"`
	Events   []SeedEvent   `json:"events,omitempty"`
}

// SeedEvent is an event to put in a user's calendar. Start and End are
// RFC 3339 times, or dates (2026-11-23) for all-day events with an
// exclusive end, as the Calendar API has them.
type SeedEvent struct {
	User string `json:"user"`
	// Calendar is the calendar's name; empty means the primary calendar.
	// A calendar of that name is created when the user has none.
	Calendar   string   `json:"calendar,omitempty"`
	Summary    string   `json:"summary"`
	Start      string   `json:"start"`
	End        string   `json:"end"`
	TimeZone   string   `json:"timeZone,omitempty"`
	Recurrence []string `json:"recurrence,omitempty"`
	Attendees  []string `json:"attendees,omitempty"`
}

func (se SeedEvent) event() *calendar.Event {
	at := func(v string) *calendar.EventDateTime {
		if len(v) == len("2006-01-02") {
			return &calendar.EventDateTime{Date: v}
		}
		return &calendar.EventDateTime{DateTime: v, TimeZone: se.TimeZone}
	}
	e := &calendar.Event{Summary: se.Summary, Start: at(se.Start), End: at(se.End), Recurrence: se.Recurrence}
	for _, a := range se.Attendees {
		e.Attendees = append(e.Attendees, &calendar.EventAttendee{Email: a})
	}
	return e
}

// calendarNamed returns the id of the user's calendar with this name,
// creating it when missing ("" is the primary calendar).
func (s *Server) calendarNamed(email, name string) (string, error) {
	if name == "" {
		return "primary", nil
	}
	s.mu.Lock()
	acct := s.users[normalizeEmail(email)]
	if acct != nil {
		for _, id := range acct.cals.order {
			if acct.cals.byID[id].summary == name {
				s.mu.Unlock()
				return id, nil
			}
		}
	}
	s.mu.Unlock()
	return s.AddCalendar(email, name)
}

// SeedMessage is a message to put in a user's mailbox.
type SeedMessage struct {
	User     string   `json:"user"`
	Raw      string   `json:"raw"` // the RFC 822 message as text
	LabelIDs []string `json:"labelIds"`
}

// LoadSeed adds what seed describes.
func (s *Server) LoadSeed(seed Seed) error {
	for _, u := range seed.Users {
		if err := s.AddUser(u); err != nil {
			return err
		}
	}
	for i, m := range seed.Messages {
		if _, err := s.InsertMessage(m.User, []byte(m.Raw), m.LabelIDs); err != nil {
			return fmt.Errorf("fakegoogle: seed message %d: %w", i, err)
		}
	}
	for i, c := range seed.Contacts {
		if _, err := s.AddContact(c); err != nil {
			return fmt.Errorf("fakegoogle: seed contact %d: %w", i, err)
		}
	}
	for i, e := range seed.Events {
		cal, err := s.calendarNamed(e.User, e.Calendar)
		if err == nil {
			_, err = s.AddEvent(e.User, cal, e.event())
		}
		if err != nil {
			return fmt.Errorf("fakegoogle: seed event %d (%s): %w", i, e.Summary, err)
		}
	}
	return nil
}

// LoadSeedFile reads a Seed from a JSON file; unknown fields are an error.
func (s *Server) LoadSeedFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("fakegoogle: seed: %w", err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	var seed Seed
	if err := dec.Decode(&seed); err != nil {
		return fmt.Errorf("fakegoogle: seed %s: %w", path, err)
	}
	return s.LoadSeed(seed)
}
