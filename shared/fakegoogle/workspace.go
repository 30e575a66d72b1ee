package fakegoogle

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// account is one user of the fake Workspace.
type account struct {
	email   string
	name    string
	domain  string
	mailbox *mailbox
	book    *contactBook
	cals    *calendars
}

// normalizeEmail is the form addresses are compared in.
func normalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// User describes a user to add.
type User struct {
	Email string `json:"email"`
	Name  string `json:"name"`
	// TimeZone is the primary calendar's IANA time zone; default UTC.
	TimeZone string `json:"timeZone,omitempty"`
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
	s.users[email] = &account{email: email, name: u.Name, domain: email[at+1:], mailbox: newMailbox(s, email),
		book: newContactBook(s.opts.Clock.Now()), cals: newCalendars(email, u.TimeZone, s.opts.Clock.Now())}
	return nil
}

// Seed is the JSON form of a fake Workspace, for the sandbox:
//
//	{"users":[{"email":"ann@demo.test","name":"Ann Archer"}],
//	 "messages":[{"user":"ann@demo.test","raw":"From: …\r\n\r\nHello","labelIds":["INBOX","UNREAD"]}]}
type Seed struct {
	Users    []User        `json:"users"`
	Messages []SeedMessage `json:"messages"`
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
