package refcrm

import (
	"context"
	"fmt"
	"strings"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/failure"
)

// Dataset is a bulk import (POST /v1/import, and the sandbox's demo
// data). Records refer to each other by Key, the importer's own name for
// them; importing the same dataset again changes nothing, so it is safe to
// re-run.
type Dataset struct {
	Users    []ImportUser    `json:"users,omitempty"`
	Sets     []string        `json:"sets,omitempty"`
	Clients  []ImportClient  `json:"clients,omitempty"`
	Contacts []ImportContact `json:"contacts,omitempty"`
	Records  []ImportRecord  `json:"records,omitempty"`
}

// ImportUser is a user; Key becomes the user's id.
type ImportUser struct {
	Key                string   `json:"key"`
	Email              string   `json:"email"`
	Name               string   `json:"name,omitempty"`
	Domains            []string `json:"domains,omitempty"`
	Offices            []string `json:"offices,omitempty"`
	IntegrationEnabled bool     `json:"integrationEnabled"`
	// Contact is the key of the user's own contact record.
	Contact string `json:"contact,omitempty"`
}

// ImportClient is a client.
type ImportClient struct {
	Key  string `json:"key"`
	Name string `json:"name"`
}

// ImportContact is a contact; Sets are set names, Clients client keys.
type ImportContact struct {
	Key       string          `json:"key"`
	Type      crm.ContactType `json:"type,omitempty"`
	FirstName string          `json:"firstName,omitempty"`
	LastName  string          `json:"lastName,omitempty"`
	Emails    []string        `json:"emails,omitempty"`
	Phones    []string        `json:"phones,omitempty"`
	BirthDate string          `json:"birthDate,omitempty"`
	Offices   []string        `json:"offices,omitempty"`
	Sets      []string        `json:"sets,omitempty"`
	Clients   []string        `json:"clients,omitempty"`
}

// ImportRecord is a policy or pending case of a contact (by key).
type ImportRecord struct {
	Key     string `json:"key"`
	Type    string `json:"type"`
	Contact string `json:"contact"`
	Title   string `json:"title"`
}

// Imported maps each key of a dataset to the id it has in the CRM.
type Imported struct {
	Users    map[string]string `json:"users"`
	Sets     map[string]string `json:"sets"`
	Clients  map[string]string `json:"clients"`
	Contacts map[string]string `json:"contacts"`
	Records  map[string]string `json:"records"`
}

// Import adds what d describes and is not there yet. It checks every
// reference before writing anything; a failure part-way (the store
// unavailable) leaves what was written, and re-running finishes the job.
func (s *Store) Import(ctx context.Context, d Dataset) (Imported, error) {
	const op = "refcrm: import"
	out := Imported{Users: map[string]string{}, Sets: map[string]string{}, Clients: map[string]string{}, Contacts: map[string]string{}, Records: map[string]string{}}
	if err := d.check(op); err != nil {
		return out, err
	}
	w := crm.Write{Origin: "import"}
	existing, err := s.Sets(ctx)
	if err != nil {
		return out, err
	}
	for _, name := range d.Sets {
		for _, e := range existing {
			if strings.EqualFold(e.Name, name) {
				out.Sets[name] = e.ID
			}
		}
		if out.Sets[name] == "" {
			set, err := s.CreateSet(ctx, w, name)
			if err != nil {
				return out, err
			}
			out.Sets[name] = set.ID
		}
	}
	for _, c := range d.Clients {
		w.IdempotencyKey = "import:client:" + c.Key
		cl, err := s.CreateClient(ctx, w, crm.Client{Name: c.Name})
		if err != nil {
			return out, err
		}
		out.Clients[c.Key] = cl.ID
	}
	for _, c := range d.Contacts {
		ct := crm.Contact{Type: c.Type, FirstName: c.FirstName, LastName: c.LastName, Emails: c.Emails, Phones: c.Phones, BirthDate: c.BirthDate, Offices: c.Offices}
		for _, name := range c.Sets {
			ct.Sets = append(ct.Sets, out.Sets[name])
		}
		for _, k := range c.Clients {
			ct.ClientIDs = append(ct.ClientIDs, out.Clients[k])
		}
		w.IdempotencyKey = "import:contact:" + c.Key
		made, err := s.CreateContact(ctx, w, ct)
		if err != nil {
			return out, fmt.Errorf("%s: contact %s: %w", op, c.Key, err)
		}
		out.Contacts[c.Key] = made.ID
	}
	for _, r := range d.Records {
		w.IdempotencyKey = "import:record:" + r.Key
		rec, err := s.CreateRecord(ctx, w, crm.Record{Type: r.Type, ContactID: out.Contacts[r.Contact], Title: r.Title})
		if err != nil {
			return out, fmt.Errorf("%s: record %s: %w", op, r.Key, err)
		}
		out.Records[r.Key] = rec.ID
	}
	for _, u := range d.Users {
		_, err := s.CreateUser(ctx, crm.User{ID: u.Key, Email: u.Email, Name: u.Name, Domains: u.Domains, Offices: u.Offices,
			IntegrationEnabled: u.IntegrationEnabled, ContactID: out.Contacts[u.Contact]})
		if err != nil && !failure.Is(err, failure.Conflict) {
			return out, fmt.Errorf("%s: user %s: %w", op, u.Key, err)
		}
		out.Users[u.Key] = u.Key
	}
	return out, nil
}

// check validates the dataset's keys and references.
func (d Dataset) check(op string) error {
	bad := func(field, format string, args ...any) error {
		return failure.Errorf(op, failure.Invalid, "%s: %s", field, fmt.Sprintf(format, args...))
	}
	keys := func(kind string, n int, key func(int) string) (map[string]bool, error) {
		seen := map[string]bool{}
		for i := range n {
			k := key(i)
			if k == "" || seen[k] {
				return nil, bad(fmt.Sprintf("%s[%d].key", kind, i), "missing or repeated key %q", k)
			}
			seen[k] = true
		}
		return seen, nil
	}
	clients, err := keys("clients", len(d.Clients), func(i int) string { return d.Clients[i].Key })
	if err != nil {
		return err
	}
	contacts, err := keys("contacts", len(d.Contacts), func(i int) string { return d.Contacts[i].Key })
	if err != nil {
		return err
	}
	if _, err := keys("users", len(d.Users), func(i int) string { return d.Users[i].Key }); err != nil {
		return err
	}
	if _, err := keys("records", len(d.Records), func(i int) string { return d.Records[i].Key }); err != nil {
		return err
	}
	sets := map[string]bool{}
	for _, s := range d.Sets {
		sets[s] = true
	}
	for i, c := range d.Contacts {
		for j, s := range c.Sets {
			if !sets[s] {
				return bad(fmt.Sprintf("contacts[%d].sets[%d]", i, j), "no set %q in the dataset", s)
			}
		}
		for j, k := range c.Clients {
			if !clients[k] {
				return bad(fmt.Sprintf("contacts[%d].clients[%d]", i, j), "no client %q in the dataset", k)
			}
		}
		ct := crm.Contact{Type: c.Type, FirstName: c.FirstName, LastName: c.LastName, Emails: c.Emails, BirthDate: c.BirthDate}
		if err := crm.CheckContact(op, &ct); err != nil {
			return fmt.Errorf("contacts[%d]: %w", i, err)
		}
	}
	for i, r := range d.Records {
		if !contacts[r.Contact] {
			return bad(fmt.Sprintf("records[%d].contact", i), "no contact %q in the dataset", r.Contact)
		}
	}
	for i, u := range d.Users {
		if u.Contact != "" && !contacts[u.Contact] {
			return bad(fmt.Sprintf("users[%d].contact", i), "no contact %q in the dataset", u.Contact)
		}
		if _, err := crm.NormalizeEmail(op, fmt.Sprintf("users[%d].email", i), u.Email); err != nil {
			return err
		}
	}
	return nil
}
