package refcrm

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/failure"
)

// The CRM REST API (docs/crm-api.md, docs/crm-api.yaml). Every request
// carries "Authorization: Bearer <API key>"; X-CRM-User names the acting
// CRM user (office security applies), X-CRM-Origin tags writes in the
// change feed and Idempotency-Key makes creates safe to retry. Errors are
// {"error":{"code","status","message"}}.

// Keys are the API's credentials. Sync is the product's: it reads and
// writes contacts, notes and records only for a named CRM user
// (X-CRM-User; office security applies). Admin is the firm's
// administrator's: it alone imports data, creates users and gives or
// withdraws the integration right, and it may act as the system user (no
// X-CRM-User), who sees every contact.
type Keys struct{ Sync, Admin string }

type role int

const (
	syncRole role = iota + 1
	adminRole
)

// Handler serves the CRM REST API over s. Requests without one of the keys
// get 401; an empty key matches nothing.
func Handler(s *Store, keys Keys, log *slog.Logger) http.Handler {
	a := &api{s: s, log: log}
	mux := http.NewServeMux()
	for _, rt := range a.routes() {
		mux.HandleFunc(rt.pattern, func(w http.ResponseWriter, r *http.Request) { a.serve(w, r, rt) })
	}
	mux.HandleFunc(attachmentRoute, a.attachment)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		var who role
		switch {
		case !ok:
		case keys.Admin != "" && subtle.ConstantTimeCompare([]byte(got), []byte(keys.Admin)) == 1:
			who = adminRole
		case keys.Sync != "" && subtle.ConstantTimeCompare([]byte(got), []byte(keys.Sync)) == 1:
			who = syncRole
		}
		if who == 0 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="crm"`)
			writeError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "a valid API key is required (Authorization: Bearer <key>)")
			return
		}
		// Every request answers within RequestTimeout, whatever the store
		// does (a Firestore out of reach is otherwise retried forever).
		ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), roleKey{}, who), RequestTimeout)
		defer cancel()
		mux.ServeHTTP(w, r.WithContext(ctx))
	})
}

type roleKey struct{}

func roleOf(r *http.Request) role { v, _ := r.Context().Value(roleKey{}).(role); return v }

// The largest request bodies the API reads: a note or an e-mail carries
// its attachments (base64), an import a firm's data; the rest are small.
const (
	MaxBody       = 1 << 20
	MaxNoteBody   = 50 << 20
	MaxImportBody = 64 << 20
)

// needs says what a route asks of its caller beyond a valid key.
type needs int

const (
	anyKey needs = iota
	// actor: the request names the CRM user it acts for (X-CRM-User),
	// unless it comes with the admin key.
	actor
	// admin: only the admin key.
	admin
)

// RequestTimeout bounds each API request.
var RequestTimeout = 30 * time.Second

// MinAPIKeyLength is the shortest API key the reference CRM's function
// accepts: a guessable key would open every contact of the firm.
const MinAPIKeyLength = 32

// CheckAPIKey refuses an API key too short to be secret.
func CheckAPIKey(key string) error {
	if len(strings.TrimSpace(key)) < MinAPIKeyLength {
		return failure.Errorf("crm api: key", failure.Permanent, "the API key has %d characters; it needs at least %d random ones (for example: openssl rand -base64 32)", len(strings.TrimSpace(key)), MinAPIKeyLength)
	}
	return nil
}

type api struct {
	s   *Store
	log *slog.Logger
}

type apiRoute struct {
	pattern string
	fn      func(r *http.Request) (int, any, error)
	needs   needs
	// limit is the largest body the route reads (MaxBody when 0).
	limit int64
}

// attachmentRoute answers raw bytes rather than JSON.
const attachmentRoute = "GET /v1/contacts/{id}/notes/{note}/attachments/{index}"

func (a *api) routes() []apiRoute {
	return []apiRoute{
		{"GET /v1/users", a.listUsers, anyKey, 0},
		{"POST /v1/users", a.createUser, admin, 0},
		{"GET /v1/users/{id}", a.getUser, anyKey, 0},
		{"PATCH /v1/users/{id}", a.patchUser, admin, 0},
		{"GET /v1/users/{id}/activities", a.listActivities, anyKey, 0},
		{"GET /v1/contacts", a.listContacts, actor, 0},
		{"POST /v1/contacts", a.createContact, actor, 0},
		{"GET /v1/contacts/{id}", a.getContact, actor, 0},
		{"PATCH /v1/contacts/{id}", a.patchContact, actor, 0},
		{"DELETE /v1/contacts/{id}", a.deleteContact, actor, 0},
		{"POST /v1/contacts/{id}/restore", a.restoreContact, actor, 0},
		{"GET /v1/contacts/{id}/notes", a.listNotes, actor, 0},
		{"POST /v1/contacts/{id}/notes", a.postNote, actor, MaxNoteBody},
		{"GET /v1/contacts/{id}/records", a.listRecords, actor, 0},
		{"POST /v1/records", a.createRecord, actor, 0},
		{"GET /v1/sets", a.listSets, anyKey, 0},
		{"POST /v1/sets", a.createSet, anyKey, 0},
		{"PUT /v1/sets/{id}/members/{contact}", a.addMember, actor, 0},
		{"DELETE /v1/sets/{id}/members/{contact}", a.removeMember, actor, 0},
		{"GET /v1/changes", a.changes, anyKey, 0},
		{"GET /v1/clients", a.listClients, anyKey, 0},
		{"POST /v1/clients", a.createClient, anyKey, 0},
		{"GET /v1/clients/{id}", a.getClient, anyKey, 0},
		{"GET /v1/emails", a.listEmails, anyKey, 0},
		{"POST /v1/emails", a.createEmail, actor, MaxNoteBody},
		{"GET /v1/emails/{id}", a.getEmail, anyKey, 0},
		{"POST /v1/emails/{id}/resolve", a.resolveEmail, actor, 0},
		{"POST /v1/activities", a.createActivity, actor, 0},
		{"GET /v1/activities/{id}", a.getActivity, anyKey, 0},
		{"PUT /v1/activities/{id}", a.putActivity, actor, 0},
		{"DELETE /v1/activities/{id}", a.deleteActivity, actor, 0},
		{"POST /v1/import", a.importData, admin, MaxImportBody},
	}
}

// Routes lists the API's methods and paths ("GET /v1/users"), for the
// check that docs/crm-api.yaml documents every one.
func Routes() []string {
	var out []string
	for _, rt := range (&api{}).routes() {
		out = append(out, rt.pattern)
	}
	return append(out, attachmentRoute)
}

// ErrorBody is the API's error shape.
type ErrorBody struct {
	Error struct {
		Code    int    `json:"code"`
		Status  string `json:"status"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, code int, status, msg string) {
	var b ErrorBody
	b.Error.Code, b.Error.Status, b.Error.Message = code, status, msg
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(b)
}

// statusOf maps an error's kind to the API's HTTP status.
func statusOf(err error) (int, string) {
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE"
	}
	switch failure.KindOf(err) {
	case failure.Invalid:
		return 400, "INVALID_ARGUMENT"
	case failure.NotFound:
		return 404, "NOT_FOUND"
	case failure.Conflict:
		if errors.Is(err, crm.ErrStaleVersion) {
			return 412, "FAILED_PRECONDITION"
		}
		return 409, "ALREADY_EXISTS"
	case failure.Forbidden:
		return 403, "PERMISSION_DENIED"
	case failure.Quota:
		return 429, "RESOURCE_EXHAUSTED"
	case failure.Transient:
		return 503, "UNAVAILABLE"
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return 503, "UNAVAILABLE"
	}
	return 500, "INTERNAL"
}

// allowed refuses a request its key or its acting user does not allow.
func allowed(r *http.Request, n needs) error {
	const op = "crm api"
	switch {
	case n == admin && roleOf(r) != adminRole:
		return failure.Errorf(op, failure.Forbidden, "this route needs the CRM's admin key (import, users and the integration right are the administrator's)")
	case n == actor && roleOf(r) != adminRole && strings.TrimSpace(r.Header.Get("X-CRM-User")) == "":
		return failure.Errorf(op, failure.Invalid, "X-CRM-User: name the CRM user this request acts for (office security applies to contacts)")
	}
	return nil
}

func (a *api) serve(w http.ResponseWriter, r *http.Request, rt apiRoute) {
	limit := rt.limit
	if limit == 0 {
		limit = MaxBody
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	err := allowed(r, rt.needs)
	var code int
	var out any
	if err == nil {
		code, out, err = rt.fn(r)
	}
	if err != nil {
		code, status := statusOf(err)
		msg := err.Error()
		if code >= 500 {
			a.log.Error("crm api", "method", r.Method, "path", r.URL.Path, "err", err)
			msg = "the CRM could not complete the request; retry later"
		}
		writeError(w, code, status, msg)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(out)
}

// decode reads a JSON body strictly: unknown fields and trailing data are
// refused, naming the problem.
func decode(r *http.Request, v any) error {
	const op = "crm api: request body"
	dec := json.NewDecoder(r.Body) // bounded by serve
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return failure.E(op, failure.Invalid, fmt.Errorf("body: larger than this route's limit of %d bytes: %w", mbe.Limit, err))
		}
		return failure.Errorf(op, failure.Invalid, "body: %v", err)
	}
	if dec.More() {
		return failure.Errorf(op, failure.Invalid, "body: unexpected data after the JSON object")
	}
	return nil
}

func writeOf(r *http.Request) crm.Write {
	return crm.Write{AsUser: r.Header.Get("X-CRM-User"), Origin: r.Header.Get("X-CRM-Origin"), IdempotencyKey: r.Header.Get("Idempotency-Key")}
}

// version reads the If-Match precondition ("3" or 3).
func version(r *http.Request) (int64, error) {
	v := strings.Trim(r.Header.Get("If-Match"), `"`)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, failure.Errorf("crm api", failure.Invalid, "If-Match: the record's version is required (got %q)", r.Header.Get("If-Match"))
	}
	return n, nil
}

func ok(v any, err error) (int, any, error)      { return http.StatusOK, v, err }
func created(v any, err error) (int, any, error) { return http.StatusCreated, v, err }

// ---- users ----

func (a *api) listUsers(r *http.Request) (int, any, error) {
	if email := r.URL.Query().Get("email"); email != "" {
		u, err := a.s.UserByEmail(r.Context(), email)
		if failure.Is(err, failure.NotFound) {
			return ok(map[string]any{"users": []crm.User{}}, nil)
		}
		return ok(map[string]any{"users": []crm.User{u}}, err)
	}
	us, err := a.s.Users(r.Context())
	return ok(map[string]any{"users": nonNil(us)}, err)
}

func (a *api) createUser(r *http.Request) (int, any, error) {
	var u crm.User
	if err := decode(r, &u); err != nil {
		return 0, nil, err
	}
	return created(a.s.CreateUser(r.Context(), u))
}

func (a *api) getUser(r *http.Request) (int, any, error) {
	return ok(a.s.User(r.Context(), r.PathValue("id")))
}

func (a *api) patchUser(r *http.Request) (int, any, error) {
	var p struct {
		IntegrationEnabled *bool `json:"integrationEnabled"`
	}
	if err := decode(r, &p); err != nil {
		return 0, nil, err
	}
	if p.IntegrationEnabled == nil {
		return 0, nil, failure.Errorf("crm api", failure.Invalid, "integrationEnabled: required")
	}
	return ok(a.s.SetIntegration(r.Context(), r.PathValue("id"), *p.IntegrationEnabled))
}

// ---- contacts ----

func (a *api) listContacts(r *http.Request) (int, any, error) {
	q := r.URL.Query()
	as := r.Header.Get("X-CRM-User")
	if email := q.Get("email"); email != "" {
		cs, err := a.s.FindContacts(r.Context(), as, email)
		return ok(map[string]any{"contacts": nonNil(cs)}, err)
	}
	cq := crm.ContactQuery{SetID: q.Get("set"), ClientID: q.Get("clientId")}
	for _, t := range q["type"] {
		if !crm.ContactType(t).Valid() {
			return 0, nil, failure.Errorf("crm api", failure.Invalid, "type: %q is not one of contact, advisor, dependent", t)
		}
		cq.Types = append(cq.Types, crm.ContactType(t))
	}
	cs, err := a.s.ListContacts(r.Context(), as, cq)
	return ok(map[string]any{"contacts": nonNil(cs)}, err)
}

func (a *api) createContact(r *http.Request) (int, any, error) {
	var c crm.Contact
	if err := decode(r, &c); err != nil {
		return 0, nil, err
	}
	return created(a.s.CreateContact(r.Context(), writeOf(r), c))
}

func (a *api) getContact(r *http.Request) (int, any, error) {
	return ok(a.s.Contact(r.Context(), r.Header.Get("X-CRM-User"), r.PathValue("id")))
}

// patchContact merges the body into the contact: fields present replace
// (null clears), the rest stay. The body's version, or If-Match, is the
// precondition.
func (a *api) patchContact(r *http.Request) (int, any, error) {
	const op = "crm api: patch contact"
	var patch map[string]json.RawMessage
	if err := decode(r, &patch); err != nil {
		return 0, nil, err
	}
	cur, err := a.s.Contact(r.Context(), r.Header.Get("X-CRM-User"), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	var base map[string]json.RawMessage
	b, _ := json.Marshal(cur)
	json.Unmarshal(b, &base)
	if _, has := patch["version"]; !has {
		v, err := version(r)
		if err != nil {
			return 0, nil, failure.Errorf(op, failure.Invalid, "version: required in the body or as If-Match")
		}
		patch["version"] = json.RawMessage(strconv.FormatInt(v, 10))
	}
	for _, f := range []string{"id", "deleted", "updated"} {
		delete(patch, f)
	}
	for k, v := range patch {
		if string(v) == "null" {
			delete(base, k)
		} else {
			base[k] = v
		}
	}
	merged, _ := json.Marshal(base)
	var next crm.Contact
	dec := json.NewDecoder(bytes.NewReader(merged))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&next); err != nil {
		return 0, nil, failure.Errorf(op, failure.Invalid, "body: %v", err)
	}
	next.ID = cur.ID
	return ok(a.s.UpdateContact(r.Context(), writeOf(r), next))
}

func (a *api) deleteContact(r *http.Request) (int, any, error) {
	v, err := version(r)
	if err != nil {
		return 0, nil, err
	}
	return ok(a.s.DeleteContact(r.Context(), writeOf(r), r.PathValue("id"), v))
}

func (a *api) restoreContact(r *http.Request) (int, any, error) {
	return ok(a.s.RestoreContact(r.Context(), writeOf(r), r.PathValue("id")))
}

// ---- notes and records ----

func (a *api) listNotes(r *http.Request) (int, any, error) {
	ns, err := a.s.Notes(r.Context(), r.Header.Get("X-CRM-User"), r.PathValue("id"))
	return ok(map[string]any{"notes": nonNil(ns)}, err)
}

func (a *api) postNote(r *http.Request) (int, any, error) {
	var n crm.Note
	if err := decode(r, &n); err != nil {
		return 0, nil, err
	}
	if n.ContactID != "" && n.ContactID != r.PathValue("id") {
		return 0, nil, failure.Errorf("crm api", failure.Invalid, "contactId: %q differs from the contact in the path", n.ContactID)
	}
	n.ContactID = r.PathValue("id")
	return created(a.s.PostNote(r.Context(), writeOf(r), n))
}

func (a *api) attachment(w http.ResponseWriter, r *http.Request) {
	if err := allowed(r, actor); err != nil {
		code, status := statusOf(err)
		writeError(w, code, status, err.Error())
		return
	}
	i, err := strconv.Atoi(r.PathValue("index"))
	if err != nil {
		writeError(w, 400, "INVALID_ARGUMENT", "index: not a number")
		return
	}
	att, err := a.s.Attachment(r.Context(), r.Header.Get("X-CRM-User"), r.PathValue("id"), r.PathValue("note"), i)
	if err != nil {
		code, status := statusOf(err)
		writeError(w, code, status, err.Error())
		return
	}
	w.Header().Set("Content-Type", att.ContentType)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", att.Filename))
	w.Header().Set("Content-Length", strconv.Itoa(len(att.Data)))
	w.Write(att.Data)
}

func (a *api) listRecords(r *http.Request) (int, any, error) {
	rs, err := a.s.Records(r.Context(), r.Header.Get("X-CRM-User"), r.PathValue("id"))
	return ok(map[string]any{"records": nonNil(rs)}, err)
}

func (a *api) createRecord(r *http.Request) (int, any, error) {
	var rec crm.Record
	if err := decode(r, &rec); err != nil {
		return 0, nil, err
	}
	return created(a.s.CreateRecord(r.Context(), writeOf(r), rec))
}

// ---- sets ----

func (a *api) listSets(r *http.Request) (int, any, error) {
	ss, err := a.s.Sets(r.Context())
	return ok(map[string]any{"sets": nonNil(ss)}, err)
}

func (a *api) createSet(r *http.Request) (int, any, error) {
	var s crm.Set
	if err := decode(r, &s); err != nil {
		return 0, nil, err
	}
	return created(a.s.CreateSet(r.Context(), writeOf(r), s.Name))
}

func (a *api) addMember(r *http.Request) (int, any, error) {
	return ok(a.s.AddToSet(r.Context(), writeOf(r), r.PathValue("id"), r.PathValue("contact")))
}

func (a *api) removeMember(r *http.Request) (int, any, error) {
	return ok(a.s.RemoveFromSet(r.Context(), writeOf(r), r.PathValue("id"), r.PathValue("contact")))
}

// ---- change feed ----

func (a *api) changes(r *http.Request) (int, any, error) {
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return 0, nil, failure.Errorf("crm api", failure.Invalid, "limit: %q is not a number from 1 to 1000", v)
		}
		limit = n
	}
	return ok(a.s.Changes(r.Context(), crm.Collection(q.Get("collection")), crm.FeedScope{Owner: q.Get("owner"), Set: q.Get("set")}, q.Get("cursor"), limit))
}

// ---- clients and e-mail activities ----

func (a *api) listClients(r *http.Request) (int, any, error) {
	cs, err := a.s.ListClients(r.Context())
	return ok(map[string]any{"clients": nonNil(cs)}, err)
}

func (a *api) createClient(r *http.Request) (int, any, error) {
	var c crm.Client
	if err := decode(r, &c); err != nil {
		return 0, nil, err
	}
	return created(a.s.CreateClient(r.Context(), writeOf(r), c))
}

func (a *api) getClient(r *http.Request) (int, any, error) {
	return ok(a.s.Client(r.Context(), r.PathValue("id")))
}

func (a *api) listEmails(r *http.Request) (int, any, error) {
	q := r.URL.Query()
	es, err := a.s.EmailActivities(r.Context(), q.Get("clientId"), q.Get("owner"), q.Get("needsReview") == "true")
	return ok(map[string]any{"emails": nonNil(es)}, err)
}

func (a *api) createEmail(r *http.Request) (int, any, error) {
	var e crm.EmailActivity
	if err := decode(r, &e); err != nil {
		return 0, nil, err
	}
	return created(a.s.CreateEmailActivity(r.Context(), writeOf(r), e))
}

func (a *api) getEmail(r *http.Request) (int, any, error) {
	return ok(a.s.EmailActivity(r.Context(), r.PathValue("id")))
}

func (a *api) resolveEmail(r *http.Request) (int, any, error) {
	var req struct {
		ClientID string `json:"clientId"`
		Version  int64  `json:"version"`
	}
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	return ok(a.s.ResolveEmailActivity(r.Context(), writeOf(r), r.PathValue("id"), req.ClientID, req.Version))
}

// ---- calendar activities ----

func (a *api) listActivities(r *http.Request) (int, any, error) {
	as, err := a.s.ListActivities(r.Context(), r.PathValue("id"))
	return ok(map[string]any{"activities": nonNil(as)}, err)
}

func (a *api) createActivity(r *http.Request) (int, any, error) {
	var act crm.Activity
	if err := decode(r, &act); err != nil {
		return 0, nil, err
	}
	return created(a.s.CreateActivity(r.Context(), writeOf(r), act))
}

func (a *api) getActivity(r *http.Request) (int, any, error) {
	return ok(a.s.Activity(r.Context(), r.PathValue("id")))
}

func (a *api) putActivity(r *http.Request) (int, any, error) {
	var act crm.Activity
	if err := decode(r, &act); err != nil {
		return 0, nil, err
	}
	if act.ID != "" && act.ID != r.PathValue("id") {
		return 0, nil, failure.Errorf("crm api", failure.Invalid, "id: %q differs from the activity in the path", act.ID)
	}
	act.ID = r.PathValue("id")
	return ok(a.s.UpdateActivity(r.Context(), writeOf(r), act))
}

func (a *api) deleteActivity(r *http.Request) (int, any, error) {
	v, err := version(r)
	if err != nil {
		return 0, nil, err
	}
	return ok(a.s.DeleteActivity(r.Context(), writeOf(r), r.PathValue("id"), v))
}

func (a *api) importData(r *http.Request) (int, any, error) {
	var d Dataset
	if err := decode(r, &d); err != nil {
		return 0, nil, err
	}
	return ok(a.s.Import(r.Context(), d))
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
