// Package restcrm implements the crm port as a client of the CRM REST API
// (docs/crm-api.md), so any CRM serving that API plugs in without Go code.
//
// Transient failures (429, 500, 502, 503, 504, network errors) are
// retried with exponential backoff and jitter, at most Attempts times in
// all; a POST without an idempotency key is retried only when the CRM
// cannot have acted on it (429, or a connection that was refused), so a
// retry never makes a second record. HTTP statuses map to failure kinds:
// 400 Invalid, 401 Permanent, 403 Forbidden, 404 NotFound, 409 Conflict,
// 412 Conflict wrapping crm.ErrStaleVersion, 429 Quota, 5xx Transient.
package restcrm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/failure"
)

// Client talks to one CRM. It is safe for concurrent use.
type Client struct {
	base   string
	apiKey string
	// HTTP is the client requests go through (default: 30-second timeout).
	HTTP *http.Client
	// Attempts bounds tries per call, the first included (default 4).
	Attempts int
	// Backoff is the wait before retry n (1-based); default 200ms·2ⁿ⁻¹
	// with ±50% jitter.
	Backoff func(n int) time.Duration
	// AdminKey is the CRM's admin key, for creating users and giving or
	// withdrawing the integration right; only the Web function (the admin
	// page) has it. Without it those calls fail saying so.
	AdminKey string
}

var _ crm.CRM = (*Client)(nil)

// New returns a client of the CRM API at baseURL (e.g.
// "https://crm.example/") with this API key.
func New(baseURL, apiKey string) *Client {
	return &Client{base: baseURL, apiKey: apiKey, HTTP: &http.Client{Timeout: 30 * time.Second}, Attempts: 4}
}

func (c *Client) backoff(n int) time.Duration {
	if c.Backoff != nil {
		return c.Backoff(n)
	}
	d := 200 * time.Millisecond << (n - 1)
	return d/2 + time.Duration(rand.Int64N(int64(d)))
}

// call is one API request.
type call struct {
	op, method, path string
	query            url.Values
	w                *crm.Write
	ifMatch          int64 // sent as If-Match when match is set
	match            bool
	body, out        any
	asUser           string // X-CRM-User for reads
	admin            bool   // with the admin key
}

func (c *Client) do(ctx context.Context, k call) error {
	var payload []byte
	if k.body != nil {
		var err error
		if payload, err = json.Marshal(k.body); err != nil {
			return failure.E(k.op, failure.Invalid, err)
		}
	}
	u := c.base + k.path
	if len(k.query) > 0 {
		u += "?" + k.query.Encode()
	}
	attempts := max(c.Attempts, 1)
	var last error
	for n := 1; n <= attempts; n++ {
		if n > 1 {
			select {
			case <-ctx.Done():
				return failure.E(k.op, failure.Transient, errors.Join(ctx.Err(), last))
			case <-time.After(c.backoff(n - 1)):
			}
		}
		retry, err := c.once(ctx, k, u, payload)
		if err == nil || !retry {
			return err
		}
		last = err
	}
	return last
}

// once makes one request; retry says whether another try may help and
// cannot duplicate a write.
func (c *Client) once(ctx context.Context, k call, u string, payload []byte) (retry bool, _ error) {
	req, err := http.NewRequestWithContext(ctx, k.method, u, bytes.NewReader(payload))
	if err != nil {
		return false, failure.E(k.op, failure.Invalid, err)
	}
	key := c.apiKey
	if k.admin {
		if c.AdminKey == "" {
			return false, failure.Errorf(k.op, failure.Configuration, "this call needs the CRM's admin key (secret crm-admin-key), which this function does not have")
		}
		key = c.AdminKey
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	keyed := k.method != http.MethodPost
	if k.w != nil {
		setHeader(req, "X-CRM-User", k.w.AsUser)
		setHeader(req, "X-CRM-Origin", k.w.Origin)
		setHeader(req, "Idempotency-Key", k.w.IdempotencyKey)
		keyed = keyed || k.w.IdempotencyKey != ""
	} else {
		setHeader(req, "X-CRM-User", k.asUser)
	}
	if k.match {
		req.Header.Set("If-Match", strconv.Quote(strconv.FormatInt(k.ifMatch, 10)))
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return false, failure.E(k.op, failure.Transient, err)
		}
		return keyed || errors.Is(err, syscall.ECONNREFUSED), failure.E(k.op, failure.Transient, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 128<<20))
	if err != nil {
		return keyed, failure.E(k.op, failure.Transient, err)
	}
	if resp.StatusCode >= 300 {
		err := statusError(k.op, resp.StatusCode, body)
		switch resp.StatusCode {
		case 429:
			return true, err
		case 500, 502, 503, 504:
			return keyed, err
		}
		return false, err
	}
	if k.out != nil {
		if err := json.Unmarshal(body, k.out); err != nil {
			return false, failure.Errorf(k.op, failure.Permanent, "the CRM answered something that is not the API's JSON: %v", err)
		}
	}
	return false, nil
}

func setHeader(r *http.Request, k, v string) {
	if v != "" {
		r.Header.Set(k, v)
	}
}

func statusError(op string, code int, body []byte) error {
	var eb struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	msg := http.StatusText(code)
	if json.Unmarshal(body, &eb) == nil && eb.Error.Message != "" {
		msg = eb.Error.Message
	}
	err := fmt.Errorf("HTTP %d: %s", code, msg)
	switch {
	case code == 400:
		return failure.E(op, failure.Invalid, err)
	case code == 401:
		return failure.E(op, failure.Permanent, err)
	case code == 403:
		return failure.E(op, failure.Forbidden, err)
	case code == 404:
		return failure.E(op, failure.NotFound, err)
	case code == 409:
		return failure.E(op, failure.Conflict, err)
	case code == 412:
		return failure.E(op, failure.Conflict, fmt.Errorf("%w: %v", crm.ErrStaleVersion, err))
	case code == 429:
		return failure.E(op, failure.Quota, err)
	case code >= 500:
		return failure.E(op, failure.Transient, err)
	}
	return failure.E(op, failure.Permanent, err)
}

func esc(s string) string { return url.PathEscape(s) }

// ---- users ----

// CreateUser adds a CRM user (administration and seeding).
func (c *Client) CreateUser(ctx context.Context, u crm.User) (crm.User, error) {
	var out crm.User
	return out, c.do(ctx, call{op: "restcrm: create user", method: "POST", path: "v1/users", body: u, out: &out, w: &crm.Write{}, admin: true})
}

// SetIntegration grants or withdraws a user's integration right.
func (c *Client) SetIntegration(ctx context.Context, id string, enabled bool) (crm.User, error) {
	var out crm.User
	return out, c.do(ctx, call{op: "restcrm: set integration", method: "PATCH", path: "v1/users/" + esc(id),
		body: map[string]bool{"integrationEnabled": enabled}, out: &out, admin: true})
}

func (c *Client) Users(ctx context.Context) ([]crm.User, error) {
	var out struct{ Users []crm.User }
	return out.Users, c.do(ctx, call{op: "restcrm: users", method: "GET", path: "v1/users", out: &out})
}

func (c *Client) User(ctx context.Context, id string) (crm.User, error) {
	var out crm.User
	if id == "" {
		return out, failure.Errorf("restcrm: user", failure.NotFound, "no user id")
	}
	return out, c.do(ctx, call{op: "restcrm: user", method: "GET", path: "v1/users/" + esc(id), out: &out})
}

func (c *Client) UserByEmail(ctx context.Context, email string) (crm.User, error) {
	const op = "restcrm: user by email"
	var out struct{ Users []crm.User }
	if err := c.do(ctx, call{op: op, method: "GET", path: "v1/users", query: url.Values{"email": {email}}, out: &out}); err != nil {
		return crm.User{}, err
	}
	if len(out.Users) == 0 {
		return crm.User{}, failure.Errorf(op, failure.NotFound, "no user with address %s", email)
	}
	return out.Users[0], nil
}

// ---- contacts ----

func (c *Client) FindContacts(ctx context.Context, asUser, email string) ([]crm.Contact, error) {
	var out struct{ Contacts []crm.Contact }
	return out.Contacts, c.do(ctx, call{op: "restcrm: find contacts", method: "GET", path: "v1/contacts", query: url.Values{"email": {email}}, asUser: asUser, out: &out})
}

func (c *Client) Contact(ctx context.Context, asUser, id string) (crm.Contact, error) {
	var out crm.Contact
	return out, c.do(ctx, call{op: "restcrm: contact", method: "GET", path: "v1/contacts/" + esc(id), asUser: asUser, out: &out})
}

func (c *Client) ListContacts(ctx context.Context, asUser string, q crm.ContactQuery) ([]crm.Contact, error) {
	v := url.Values{}
	if q.SetID != "" {
		v.Set("set", q.SetID)
	}
	if q.ClientID != "" {
		v.Set("clientId", q.ClientID)
	}
	for _, t := range q.Types {
		v.Add("type", string(t))
	}
	var out struct{ Contacts []crm.Contact }
	return out.Contacts, c.do(ctx, call{op: "restcrm: list contacts", method: "GET", path: "v1/contacts", query: v, asUser: asUser, out: &out})
}

func (c *Client) CreateContact(ctx context.Context, w crm.Write, ct crm.Contact) (crm.Contact, error) {
	var out crm.Contact
	return out, c.do(ctx, call{op: "restcrm: create contact", method: "POST", path: "v1/contacts", w: &w, body: ct, out: &out})
}

// contactPatch names every field a contact update replaces, so an emptied
// list is sent as null (clear) rather than left out (keep).
type contactPatch struct {
	Type      crm.ContactType `json:"type"`
	FirstName string          `json:"firstName"`
	LastName  string          `json:"lastName"`
	Emails    []string        `json:"emails"`
	Phones    []string        `json:"phones"`
	BirthDate string          `json:"birthDate"`
	Sets      []string        `json:"sets"`
	ClientIDs []string        `json:"clientIds"`
	Offices   []string        `json:"offices"`
	Version   int64           `json:"version"`
}

func (c *Client) UpdateContact(ctx context.Context, w crm.Write, ct crm.Contact) (crm.Contact, error) {
	var out crm.Contact
	p := contactPatch{Type: ct.Type, FirstName: ct.FirstName, LastName: ct.LastName, Emails: ct.Emails, Phones: ct.Phones,
		BirthDate: ct.BirthDate, Sets: ct.Sets, ClientIDs: ct.ClientIDs, Offices: ct.Offices, Version: ct.Version}
	return out, c.do(ctx, call{op: "restcrm: update contact", method: "PATCH", path: "v1/contacts/" + esc(ct.ID), w: &w, body: p, out: &out})
}

func (c *Client) DeleteContact(ctx context.Context, w crm.Write, id string, version int64) (crm.Contact, error) {
	var out crm.Contact
	return out, c.do(ctx, call{op: "restcrm: delete contact", method: "DELETE", path: "v1/contacts/" + esc(id), w: &w, ifMatch: version, match: true, out: &out})
}

func (c *Client) RestoreContact(ctx context.Context, w crm.Write, id string) (crm.Contact, error) {
	var out crm.Contact
	w.IdempotencyKey = "restore:" + id // restoring twice is the same act
	return out, c.do(ctx, call{op: "restcrm: restore contact", method: "POST", path: "v1/contacts/" + esc(id) + "/restore", w: &w, out: &out})
}

func (c *Client) Sets(ctx context.Context) ([]crm.Set, error) {
	var out struct{ Sets []crm.Set }
	return out.Sets, c.do(ctx, call{op: "restcrm: sets", method: "GET", path: "v1/sets", out: &out})
}

func (c *Client) CreateSet(ctx context.Context, w crm.Write, name string) (crm.Set, error) {
	var out crm.Set
	return out, c.do(ctx, call{op: "restcrm: create set", method: "POST", path: "v1/sets", w: &w, body: crm.Set{Name: name}, out: &out})
}

func (c *Client) AddToSet(ctx context.Context, w crm.Write, setID, contactID string) (crm.Contact, error) {
	var out crm.Contact
	return out, c.do(ctx, call{op: "restcrm: add to set", method: "PUT", path: "v1/sets/" + esc(setID) + "/members/" + esc(contactID), w: &w, out: &out})
}

func (c *Client) RemoveFromSet(ctx context.Context, w crm.Write, setID, contactID string) (crm.Contact, error) {
	var out crm.Contact
	return out, c.do(ctx, call{op: "restcrm: remove from set", method: "DELETE", path: "v1/sets/" + esc(setID) + "/members/" + esc(contactID), w: &w, out: &out})
}

// ---- feed ----

func (c *Client) Changes(ctx context.Context, coll crm.Collection, scope crm.FeedScope, cursor string, limit int) (crm.ChangePage, error) {
	v := url.Values{"collection": {string(coll)}}
	if scope.Owner != "" {
		v.Set("owner", scope.Owner)
	}
	if scope.Set != "" {
		v.Set("set", scope.Set)
	}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(min(limit, 1000)))
	}
	var out crm.ChangePage
	return out, c.do(ctx, call{op: "restcrm: changes", method: "GET", path: "v1/changes", query: v, out: &out})
}

// ---- notes ----

func (c *Client) PostNote(ctx context.Context, w crm.Write, n crm.Note) (crm.Note, error) {
	var out crm.Note
	return out, c.do(ctx, call{op: "restcrm: post note", method: "POST", path: "v1/contacts/" + esc(n.ContactID) + "/notes", w: &w, body: n, out: &out})
}

func (c *Client) Notes(ctx context.Context, asUser, contactID string) ([]crm.Note, error) {
	var out struct{ Notes []crm.Note }
	return out.Notes, c.do(ctx, call{op: "restcrm: notes", method: "GET", path: "v1/contacts/" + esc(contactID) + "/notes", asUser: asUser, out: &out})
}

// MaxAttachment is the most an attachment download reads: the reference
// CRM takes no larger note (refcrm.MaxNoteBody, base64 included).
const MaxAttachment = 50 << 20

func (c *Client) Attachment(ctx context.Context, asUser, contactID, noteID string, index int) (crm.Attachment, error) {
	const op = "restcrm: attachment"
	var notes []crm.Note
	notes, err := c.Notes(ctx, asUser, contactID)
	if err != nil {
		return crm.Attachment{}, err
	}
	var meta *crm.Attachment
	for _, n := range notes {
		if n.ID == noteID && index >= 0 && index < len(n.Attachments) {
			meta = &n.Attachments[index]
		}
	}
	if meta == nil {
		return crm.Attachment{}, failure.Errorf(op, failure.NotFound, "note %s has no attachment %d", noteID, index)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%sv1/contacts/%s/notes/%s/attachments/%d", c.base, esc(contactID), esc(noteID), index), nil)
	if err != nil {
		return crm.Attachment{}, failure.E(op, failure.Invalid, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	setHeader(req, "X-CRM-User", asUser)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return crm.Attachment{}, failure.E(op, failure.Transient, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return crm.Attachment{}, statusError(op, resp.StatusCode, data)
	}
	if resp.ContentLength > MaxAttachment {
		return crm.Attachment{}, failure.Errorf(op, failure.Permanent, "the attachment has %d bytes, over the %d this client reads", resp.ContentLength, MaxAttachment)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxAttachment+1))
	if err != nil {
		return crm.Attachment{}, failure.E(op, failure.Transient, err)
	}
	if len(data) > MaxAttachment {
		return crm.Attachment{}, failure.Errorf(op, failure.Permanent, "the attachment is over the %d bytes this client reads", MaxAttachment)
	}
	out := *meta
	out.Data = data
	return out, nil
}

func (c *Client) Records(ctx context.Context, asUser, contactID string) ([]crm.Record, error) {
	var out struct{ Records []crm.Record }
	return out.Records, c.do(ctx, call{op: "restcrm: records", method: "GET", path: "v1/contacts/" + esc(contactID) + "/records", asUser: asUser, out: &out})
}

func (c *Client) CreateRecord(ctx context.Context, w crm.Write, r crm.Record) (crm.Record, error) {
	var out crm.Record
	return out, c.do(ctx, call{op: "restcrm: create record", method: "POST", path: "v1/records", w: &w, body: r, out: &out})
}

// ---- clients ----

func (c *Client) Client(ctx context.Context, id string) (crm.Client, error) {
	var out crm.Client
	return out, c.do(ctx, call{op: "restcrm: client", method: "GET", path: "v1/clients/" + esc(id), out: &out})
}

func (c *Client) ListClients(ctx context.Context) ([]crm.Client, error) {
	var out struct{ Clients []crm.Client }
	return out.Clients, c.do(ctx, call{op: "restcrm: clients", method: "GET", path: "v1/clients", out: &out})
}

func (c *Client) CreateClient(ctx context.Context, w crm.Write, cl crm.Client) (crm.Client, error) {
	var out crm.Client
	return out, c.do(ctx, call{op: "restcrm: create client", method: "POST", path: "v1/clients", w: &w, body: cl, out: &out})
}

func (c *Client) CreateEmailActivity(ctx context.Context, w crm.Write, a crm.EmailActivity) (crm.EmailActivity, error) {
	var out crm.EmailActivity
	return out, c.do(ctx, call{op: "restcrm: create email activity", method: "POST", path: "v1/emails", w: &w, body: a, out: &out})
}

func (c *Client) EmailActivity(ctx context.Context, id string) (crm.EmailActivity, error) {
	var out crm.EmailActivity
	return out, c.do(ctx, call{op: "restcrm: email activity", method: "GET", path: "v1/emails/" + esc(id), out: &out})
}

func (c *Client) EmailActivities(ctx context.Context, clientID, owner string, needsReview bool) ([]crm.EmailActivity, error) {
	v := url.Values{}
	if clientID != "" {
		v.Set("clientId", clientID)
	}
	if owner != "" {
		v.Set("owner", owner)
	}
	if needsReview {
		v.Set("needsReview", "true")
	}
	var out struct{ Emails []crm.EmailActivity }
	return out.Emails, c.do(ctx, call{op: "restcrm: email activities", method: "GET", path: "v1/emails", query: v, out: &out})
}

func (c *Client) ResolveEmailActivity(ctx context.Context, w crm.Write, id, clientID string, version int64) (crm.EmailActivity, error) {
	var out crm.EmailActivity
	w.IdempotencyKey = fmt.Sprintf("resolve:%s:%d", id, version) // one resolution per version
	return out, c.do(ctx, call{op: "restcrm: resolve email activity", method: "POST", path: "v1/emails/" + esc(id) + "/resolve", w: &w,
		body: map[string]any{"clientId": clientID, "version": version}, out: &out})
}

// ---- activities ----

func (c *Client) Activity(ctx context.Context, id string) (crm.Activity, error) {
	var out crm.Activity
	return out, c.do(ctx, call{op: "restcrm: activity", method: "GET", path: "v1/activities/" + esc(id), out: &out})
}

func (c *Client) ListActivities(ctx context.Context, owner string) ([]crm.Activity, error) {
	var out struct{ Activities []crm.Activity }
	return out.Activities, c.do(ctx, call{op: "restcrm: activities", method: "GET", path: "v1/users/" + esc(owner) + "/activities", out: &out})
}

func (c *Client) CreateActivity(ctx context.Context, w crm.Write, a crm.Activity) (crm.Activity, error) {
	var out crm.Activity
	return out, c.do(ctx, call{op: "restcrm: create activity", method: "POST", path: "v1/activities", w: &w, body: a, out: &out})
}

func (c *Client) UpdateActivity(ctx context.Context, w crm.Write, a crm.Activity) (crm.Activity, error) {
	var out crm.Activity
	return out, c.do(ctx, call{op: "restcrm: update activity", method: "PUT", path: "v1/activities/" + esc(a.ID), w: &w, body: a, out: &out})
}

func (c *Client) DeleteActivity(ctx context.Context, w crm.Write, id string, version int64) (crm.Activity, error) {
	var out crm.Activity
	return out, c.do(ctx, call{op: "restcrm: delete activity", method: "DELETE", path: "v1/activities/" + esc(id), w: &w, ifMatch: version, match: true, out: &out})
}
