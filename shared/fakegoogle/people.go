package fakegoogle

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	people "google.golang.org/api/people/v1"
)

const peopleService = "people.googleapis.com"

// googleScopes expands short scope names to their URLs.
func googleScopes(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "https://www.googleapis.com/auth/" + n
	}
	return out
}

var (
	peopleWrite = googleScopes("contacts")
	peopleRead  = googleScopes("contacts", "contacts.readonly")
	peopleGet   = googleScopes("contacts", "contacts.other.readonly", "contacts.readonly", "directory.readonly",
		"user.addresses.read", "user.birthday.read", "user.emails.read", "user.gender.read", "user.organization.read",
		"user.phonenumbers.read", "userinfo.email", "userinfo.profile")
)

func (s *Server) routePeople() {
	p := func(method, pattern, docPath, suffix, id string, scopes []string, h func(*call) (any, error)) {
		s.handle(&route{httpMethod: method, pattern: pattern, docPath: docPath, suffix: suffix, id: "people." + id,
			service: peopleService, units: 1, scopes: scopes, handle: h})
	}
	p("GET", "/v1/people/{person}/connections", "/v1/{+resourceName}/connections", "", "people.connections.list", peopleRead, peopleConnectionsList)
	p("GET", "/v1/people/{person}", "/v1/{+resourceName}", "", "people.get", peopleGet, peopleGetPerson)
	p("POST", "/v1/people:createContact", "", "", "people.createContact", peopleWrite, peopleCreateContact)
	p("PATCH", "/v1/people/{person}", "/v1/{+resourceName}:updateContact", ":updateContact", "people.updateContact", peopleWrite, peopleUpdateContact)
	p("DELETE", "/v1/people/{person}", "/v1/{+resourceName}:deleteContact", ":deleteContact", "people.deleteContact", peopleWrite, peopleDeleteContact)
	p("POST", "/v1/people:batchCreateContacts", "", "", "people.batchCreateContacts", peopleWrite, peopleBatchCreate)
	p("POST", "/v1/people:batchUpdateContacts", "", "", "people.batchUpdateContacts", peopleWrite, peopleBatchUpdate)
	p("POST", "/v1/people:batchDeleteContacts", "", "", "people.batchDeleteContacts", peopleWrite, peopleBatchDelete)
	p("GET", "/v1/contactGroups", "", "", "contactGroups.list", peopleRead, contactGroupsList)
	p("GET", "/v1/contactGroups/{group}", "/v1/{+resourceName}", "", "contactGroups.get", peopleRead, contactGroupsGet)
	p("POST", "/v1/contactGroups", "", "", "contactGroups.create", peopleWrite, contactGroupsCreate)
	p("POST", "/v1/contactGroups/{group}/members:modify", "/v1/{+resourceName}/members:modify", "", "contactGroups.members.modify", peopleWrite, contactGroupsMembersModify)
}

// personFieldNames are the field mask paths People accepts for a person.
var personFieldNames = []string{"addresses", "ageRanges", "biographies", "birthdays", "calendarUrls", "clientData",
	"coverPhotos", "emailAddresses", "events", "externalIds", "genders", "imClients", "interests", "locales",
	"locations", "memberships", "metadata", "miscKeywords", "names", "nicknames", "occupations", "organizations",
	"phoneNumbers", "photos", "relations", "sipAddresses", "skills", "urls", "userDefined"}

// storedFields are the person fields the fake keeps, with how to copy each.
var storedFields = map[string]func(dst, src *people.Person){
	"names":          func(d, s *people.Person) { d.Names = s.Names },
	"emailAddresses": func(d, s *people.Person) { d.EmailAddresses = s.EmailAddresses },
	"phoneNumbers":   func(d, s *people.Person) { d.PhoneNumbers = s.PhoneNumbers },
	"birthdays":      func(d, s *people.Person) { d.Birthdays = s.Birthdays },
	"memberships":    func(d, s *people.Person) { d.Memberships = s.Memberships },
	"organizations":  func(d, s *people.Person) { d.Organizations = s.Organizations },
	"biographies":    func(d, s *people.Person) { d.Biographies = s.Biographies },
	"metadata":       func(d, s *people.Person) { d.Metadata = s.Metadata },
}

// contact is one stored contact. Deleted contacts stay as tombstones so
// incremental syncs can report them.
type contact struct {
	p         *people.Person
	seq       int64     // the change that last touched it
	visibleAt time.Time // when that change shows up in sync results
	deleted   bool
}

// System contact groups; only myContacts and starred take members.
var systemGroups = []string{"myContacts", "starred", "friends", "family", "coworkers", "chatBuddies", "all", "blocked"}

type contactGroup struct {
	id, name string
	system   bool
	updated  time.Time
}

// contactBook is one user's Google Contacts.
type contactBook struct {
	contacts map[string]*contact // by id ("c…")
	order    []string            // ids in creation order
	groups   map[string]*contactGroup
	seq      int64
}

func newContactBook(now time.Time) *contactBook {
	b := &contactBook{contacts: map[string]*contact{}, groups: map[string]*contactGroup{}}
	for _, g := range systemGroups {
		b.groups[g] = &contactGroup{id: g, name: g, system: true, updated: now}
	}
	return b
}

// fieldMask parses a comma-separated mask against the allowed names.
func fieldMask(param, v string, allowed []string) ([]string, *apiError) {
	var out []string
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(f), "person."))
		if f == "" {
			continue
		}
		if !slices.Contains(allowed, f) {
			return nil, errInvalidParam(param, "Invalid %s path: \"%s\". Valid paths are documented at https://developers.google.com/people/api/rest/v1/people.", param, f)
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, errInvalidParam(param, "%s mask is required. Please specify one or more valid paths. Valid paths are documented at https://developers.google.com/people/api/rest/v1/people.", param)
	}
	return out, nil
}

// masked is a copy of p with resourceName, etag and the mask's fields.
func masked(p *people.Person, fields []string) *people.Person {
	src := clonePerson(p)
	out := &people.Person{ResourceName: src.ResourceName, Etag: src.Etag}
	for _, f := range fields {
		if cp := storedFields[f]; cp != nil {
			cp(out, src)
		}
	}
	if src.Metadata != nil && src.Metadata.Deleted {
		out.Metadata = &people.PersonMetadata{Deleted: true, Sources: src.Metadata.Sources}
	}
	return out
}

func clonePerson(p *people.Person) *people.Person { return cloneJSON(p) }

// cloneJSON deep-copies an API resource through its JSON form.
func cloneJSON[T any](v *T) *T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		panic(err)
	}
	return out
}

func (b *contactBook) lookup(resourceName string) (*contact, *apiError) {
	id, ok := strings.CutPrefix(resourceName, "people/")
	if !ok {
		id = resourceName
	}
	ct := b.contacts[id]
	if ct == nil || ct.deleted {
		return nil, errNotFound()
	}
	return ct, nil
}

// touch records a change of ct: a new etag, update time and sequence.
func (s *Server) touch(b *contactBook, ct *contact) {
	now := s.opts.Clock.Now()
	b.seq++
	ct.seq = b.seq
	ct.visibleAt = now.Add(s.opts.PeopleSyncDelay)
	id := strings.TrimPrefix(ct.p.ResourceName, "people/")
	etag := "%" + base64.RawStdEncoding.EncodeToString([]byte(fmt.Sprintf("%s/%d/%d", id, ct.seq, now.UnixNano())))
	ct.p.Etag = etag
	src := &people.Source{Type: "CONTACT", Id: id, Etag: etag, UpdateTime: now.UTC().Format(time.RFC3339Nano)}
	ct.p.Metadata = &people.PersonMetadata{Sources: []*people.Source{src}, Deleted: ct.deleted}
	stampFieldMetadata(ct.p, &people.Source{Type: "CONTACT", Id: id})
}

// stampFieldMetadata sets each stored field's metadata as Google does (the
// first of each kind primary) and fills derived names and types.
func stampFieldMetadata(p *people.Person, src *people.Source) {
	meta := func(i int) *people.FieldMetadata {
		return &people.FieldMetadata{Primary: i == 0, SourcePrimary: i == 0, Source: src}
	}
	for i, n := range p.Names {
		n.Metadata = meta(i)
		if n.DisplayName == "" {
			n.DisplayName = strings.TrimSpace(strings.Join(nonEmpty(n.HonorificPrefix, n.GivenName, n.MiddleName, n.FamilyName, n.HonorificSuffix), " "))
		}
		if n.DisplayNameLastFirst == "" {
			last := strings.Join(nonEmpty(n.GivenName, n.MiddleName), " ")
			n.DisplayNameLastFirst = strings.Join(nonEmpty(n.FamilyName, last), ", ")
		}
		if n.UnstructuredName == "" {
			n.UnstructuredName = n.DisplayName
		}
	}
	for i, e := range p.EmailAddresses {
		e.Metadata, e.FormattedType = meta(i), formattedType(e.Type)
	}
	for i, ph := range p.PhoneNumbers {
		ph.Metadata, ph.FormattedType = meta(i), formattedType(ph.Type)
	}
	for i, bd := range p.Birthdays {
		bd.Metadata = meta(i)
	}
	for i, o := range p.Organizations {
		o.Metadata = meta(i)
	}
	for i, bio := range p.Biographies {
		bio.Metadata = meta(i)
		if bio.ContentType == "" {
			bio.ContentType = "TEXT_PLAIN"
		}
	}
	for _, m := range p.Memberships {
		m.Metadata = &people.FieldMetadata{Source: &people.Source{Type: "CONTACT", Id: src.Id}}
		if g := m.ContactGroupMembership; g != nil {
			g.ContactGroupId = strings.TrimPrefix(g.ContactGroupResourceName, "contactGroups/")
		}
	}
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func formattedType(t string) string {
	if t == "" {
		return ""
	}
	return strings.ToUpper(t[:1]) + t[1:]
}

// checkMemberships refuses groups that do not exist or take no members,
// and adds myContacts when a contact would otherwise be in no group.
func (b *contactBook) checkMemberships(p *people.Person) *apiError {
	for _, m := range p.Memberships {
		g := m.ContactGroupMembership
		if g == nil {
			return errBadRequest("Only contactGroupMembership can be set on a contact.")
		}
		id := strings.TrimPrefix(g.ContactGroupResourceName, "contactGroups/")
		grp := b.groups[id]
		if grp == nil {
			return errBadRequest("Contact group %q does not exist.", g.ContactGroupResourceName)
		}
		if grp.system && id != "myContacts" && id != "starred" {
			return errBadRequest("Cannot add a contact to system contact group %q.", g.ContactGroupResourceName)
		}
	}
	if len(p.Memberships) == 0 {
		p.Memberships = []*people.Membership{{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: "contactGroups/myContacts"}}}
	}
	return nil
}

// checkSingletons refuses more than one value of the fields the Person
// resource documents as "a singleton for contact sources" (names,
// birthdays: https://developers.google.com/people/api/rest/v1/people).
func checkSingletons(p *people.Person) *apiError {
	if len(p.Names) > 1 {
		return errInvalidParam("person.names", "person.names is a singleton for contact sources: at most one name is allowed.")
	}
	if len(p.Birthdays) > 1 {
		return errInvalidParam("person.birthdays", "person.birthdays is a singleton for contact sources: at most one birthday is allowed.")
	}
	return nil
}

// create stores a new contact made from in.
func (s *Server) createContact(b *contactBook, in *people.Person) (*contact, *apiError) {
	p := &people.Person{}
	for _, cp := range storedFields {
		cp(p, in)
	}
	p.Metadata = nil
	if err := checkSingletons(p); err != nil {
		return nil, err
	}
	if err := b.checkMemberships(p); err != nil {
		return nil, err
	}
	id := "c" + strconv.FormatUint(s.rng.Uint64()>>1, 10)
	p.ResourceName = "people/" + id
	ct := &contact{p: p}
	b.contacts[id] = ct
	b.order = append(b.order, id)
	s.touch(b, ct)
	return ct, nil
}

// updateFields parses updatePersonFields: only the fields the fake keeps
// can be updated; others are refused rather than dropped.
func updateFields(v string) ([]string, *apiError) {
	fields, err := fieldMask("updatePersonFields", v, personFieldNames)
	if err != nil {
		return nil, err
	}
	for _, f := range fields {
		if storedFields[f] == nil || f == "metadata" {
			return nil, errInvalidParam("updatePersonFields", "The fake does not store %q; it cannot be updated.", f)
		}
	}
	return fields, nil
}

// updateContact applies in's fields to ct after checking them (prepareUpdate).
func (s *Server) updateContact(b *contactBook, ct *contact, in *people.Person, fields []string) *apiError {
	next, err := b.prepareUpdate(ct, in, fields)
	if err != nil {
		return err
	}
	ct.p = next
	s.touch(b, ct)
	return nil
}

// prepareUpdate checks an update of ct and returns the contact it makes.
// The etag is the person's, or the contact source's in metadata.sources,
// which people.updateContact documents ("a 400 error with reason
// failedPrecondition if person.metadata.sources.etag is different than the
// contact's etag").
func (b *contactBook) prepareUpdate(ct *contact, in *people.Person, fields []string) (*people.Person, *apiError) {
	etag := in.Etag
	if etag == "" && in.Metadata != nil {
		for _, src := range in.Metadata.Sources {
			if src.Type == "CONTACT" {
				etag = src.Etag
			}
		}
	}
	if etag == "" {
		return nil, errBadRequest("Request person.etag (or person.metadata.sources.etag of the contact source) must be set to the etag of the person to update.")
	}
	if etag != ct.p.Etag {
		return nil, errFailedPrecondition("person.etag of %s is different than the current person etag. Clear local cache and get the latest person.", ct.p.ResourceName)
	}
	if slices.Contains(fields, "memberships") && len(in.Memberships) == 0 {
		return nil, errInvalidParam("person.memberships", "updatePersonFields names memberships, but the person has none: a contact keeps at least one membership.")
	}
	next := clonePerson(ct.p)
	for _, f := range fields {
		storedFields[f](next, in)
	}
	if err := checkSingletons(next); err != nil {
		return nil, err
	}
	if err := b.checkMemberships(next); err != nil {
		return nil, err
	}
	return clonePerson(next), nil
}

func (s *Server) deleteContact(b *contactBook, ct *contact) {
	ct.deleted = true
	keep := &people.Person{ResourceName: ct.p.ResourceName}
	ct.p = keep
	s.touch(b, ct)
}

func (c *call) book() *contactBook { return c.user.book }

// personFieldsParam reads the required personFields (or readMask) mask.
func (c *call) personFields(param string) ([]string, *apiError) {
	return fieldMask(param, c.query(param), personFieldNames)
}

func peopleConnectionsList(c *call) (any, error) {
	if c.param("person") != "me" {
		return nil, errInvalidParam("resourceName", "resourceName must be \"people/me\".")
	}
	fields, aerr := c.personFields("personFields")
	if aerr != nil {
		return nil, aerr
	}
	size, err := c.pageSize("pageSize", 100, 1000)
	if err != nil {
		return nil, err
	}
	sortOrder := c.query("sortOrder")
	if !slices.Contains([]string{"", "LAST_MODIFIED_ASCENDING", "LAST_MODIFIED_DESCENDING", "FIRST_NAME_ASCENDING", "LAST_NAME_ASCENDING"}, sortOrder) {
		return nil, errInvalidParam("sortOrder", "Invalid sortOrder %q.", sortOrder)
	}
	q := c.r.URL.Query()
	q.Del("pageToken")
	q.Del("syncToken")
	params := q.Encode()
	syncTok, pageTok := c.query("syncToken"), c.query("pageToken")
	requestSync := c.query("requestSyncToken") == "true"

	c.s.mu.Lock()
	if requestSync && syncTok == "" && pageTok == "" {
		if aerr := c.s.fullSyncFirstPageLocked(c.user.email); aerr != nil {
			c.s.mu.Unlock()
			return nil, aerr
		}
	}
	defer c.s.mu.Unlock()
	b, now := c.book(), c.s.opts.Clock.Now()
	var since *syncToken
	if syncTok != "" {
		since = c.s.syncTokenLocked(syncTok, c.user.email, "people", c.s.opts.PeopleSyncTokenLifetime)
		if since == nil {
			return nil, &apiError{Code: 400, Status: "FAILED_PRECONDITION", Reason: "failedPrecondition",
				Message:    "Sync token is expired. Clear local cache and retry call without the sync token.",
				InfoReason: "EXPIRED_SYNC_TOKEN", InfoDomain: peopleService}
		}
		if since.params != params {
			return nil, errInvalidParam("syncToken", "Parameters provided with a sync token must match the request that returned it.")
		}
	}
	pg, aerr := c.s.pageLocked(c.user.email, "people", params+"&sync="+syncTok, pageTok, size, func() ([]string, int64) {
		return b.connections(since, now, sortOrder)
	})
	if aerr != nil {
		return nil, aerr
	}
	resp := &people.ListConnectionsResponse{NextPageToken: pg.nextToken}
	for _, id := range pg.ids {
		resp.Connections = append(resp.Connections, masked(b.contacts[id].p, fields))
	}
	live := int64(0)
	for _, ct := range b.contacts {
		if !ct.deleted {
			live++
		}
	}
	resp.TotalPeople, resp.TotalItems = live, live
	if pg.nextToken == "" && (requestSync || since != nil) {
		resp.NextSyncToken = c.s.issueSyncTokenLocked(c.user.email, "people", params, pg.syncSeq)
	}
	return resp, nil
}

// connections lists the ids a connections.list returns and the sequence
// its sync token stands for. Without since: every live contact, all
// changes seen. With since: the contacts changed after it whose changes
// are visible now (deleted ones included); the token stops before the
// first change still propagating, so that change is reported next time.
func (b *contactBook) connections(since *syncToken, now time.Time, sortOrder string) ([]string, int64) {
	var ids []string
	upTo := b.seq
	for _, id := range b.order {
		ct := b.contacts[id]
		switch {
		case since == nil:
			if !ct.deleted {
				ids = append(ids, id)
			}
		case ct.seq <= since.seq:
		case ct.visibleAt.After(now):
			upTo = min(upTo, ct.seq-1)
		default:
			ids = append(ids, id)
		}
	}
	if since != nil {
		upTo = max(upTo, since.seq)
	}
	name := func(id string, family bool) string {
		p := b.contacts[id].p
		if len(p.Names) == 0 {
			return "\uffff"
		}
		if family {
			return strings.ToLower(p.Names[0].FamilyName)
		}
		return strings.ToLower(p.Names[0].GivenName)
	}
	switch sortOrder {
	case "LAST_MODIFIED_ASCENDING":
		sort.SliceStable(ids, func(i, j int) bool { return b.contacts[ids[i]].seq < b.contacts[ids[j]].seq })
	case "LAST_MODIFIED_DESCENDING":
		sort.SliceStable(ids, func(i, j int) bool { return b.contacts[ids[i]].seq > b.contacts[ids[j]].seq })
	case "FIRST_NAME_ASCENDING", "LAST_NAME_ASCENDING":
		family := sortOrder == "LAST_NAME_ASCENDING"
		sort.SliceStable(ids, func(i, j int) bool { return name(ids[i], family) < name(ids[j], family) })
	}
	return ids, upTo
}

func peopleGetPerson(c *call) (any, error) {
	fields, aerr := c.personFields("personFields")
	if aerr != nil {
		return nil, aerr
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.param("person") == "me" {
		me := &people.Person{ResourceName: "people/me", Etag: "%me",
			Names:          []*people.Name{{DisplayName: c.user.name}},
			EmailAddresses: []*people.EmailAddress{{Value: c.user.email}}}
		stampFieldMetadata(me, &people.Source{Type: "PROFILE", Id: "me"})
		return masked(me, fields), nil
	}
	ct, aerr := c.book().lookup(c.param("person"))
	if aerr != nil {
		return nil, aerr
	}
	return masked(ct.p, fields), nil
}

// readMask is the optional personFields of write methods (default: the
// fields the fake keeps, as Google defaults to all).
func (c *call) readMask(param string) ([]string, *apiError) {
	if c.query(param) == "" {
		return slices.Collect(func(yield func(string) bool) {
			for f := range storedFields {
				if !yield(f) {
					return
				}
			}
		}), nil
	}
	return c.personFields(param)
}

// personRequest reads a write's person body and its response mask.
func (c *call) personRequest() ([]string, *people.Person, error) {
	fields, aerr := c.readMask("personFields")
	if aerr != nil {
		return nil, nil, aerr
	}
	var in people.Person
	if err := c.decode(&in); err != nil {
		return nil, nil, err
	}
	return fields, &in, nil
}

func peopleCreateContact(c *call) (any, error) {
	fields, in, err := c.personRequest()
	if err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	ct, aerr := c.s.createContact(c.book(), in)
	if aerr != nil {
		return nil, aerr
	}
	return masked(ct.p, fields), nil
}

func peopleUpdateContact(c *call) (any, error) {
	upd, aerr := updateFields(c.query("updatePersonFields"))
	if aerr != nil {
		return nil, aerr
	}
	fields, in, err := c.personRequest()
	if err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	ct, aerr := c.book().lookup(c.param("person"))
	if aerr != nil {
		return nil, aerr
	}
	if in.ResourceName != "" && in.ResourceName != ct.p.ResourceName {
		return nil, errBadRequest("person.resourceName %q does not match the resource name in the request URL.", in.ResourceName)
	}
	if aerr := c.s.updateContact(c.book(), ct, in, upd); aerr != nil {
		return nil, aerr
	}
	return masked(ct.p, fields), nil
}

func peopleDeleteContact(c *call) (any, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	ct, aerr := c.book().lookup(c.param("person"))
	if aerr != nil {
		return nil, aerr
	}
	c.s.deleteContact(c.book(), ct)
	return struct{}{}, nil
}

func peopleBatchCreate(c *call) (any, error) {
	var req people.BatchCreateContactsRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	fields, aerr := fieldMask("readMask", req.ReadMask, personFieldNames)
	if aerr != nil {
		return nil, aerr
	}
	if len(req.Contacts) == 0 || len(req.Contacts) > 200 {
		return nil, errInvalidParam("contacts", "Between 1 and 200 contacts can be created in one request; got %d.", len(req.Contacts))
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	// Validate all first: the batch applies entirely or not at all.
	for i, tc := range req.Contacts {
		if tc.ContactPerson == nil {
			return nil, errInvalidParam("contacts", "contacts[%d].contactPerson is required.", i)
		}
		if err := c.book().checkMemberships(clonePerson(tc.ContactPerson)); err != nil {
			return nil, err
		}
		if err := checkSingletons(tc.ContactPerson); err != nil {
			return nil, err
		}
	}
	resp := &people.BatchCreateContactsResponse{}
	for _, tc := range req.Contacts {
		ct, _ := c.s.createContact(c.book(), tc.ContactPerson)
		resp.CreatedPeople = append(resp.CreatedPeople, &people.PersonResponse{
			HttpStatusCode: 200, Person: masked(ct.p, fields), RequestedResourceName: ct.p.ResourceName, Status: &people.Status{}})
	}
	return resp, nil
}

func peopleBatchUpdate(c *call) (any, error) {
	var req people.BatchUpdateContactsRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	fields, aerr := fieldMask("readMask", req.ReadMask, personFieldNames)
	if aerr != nil {
		return nil, aerr
	}
	upd, aerr := updateFields(req.UpdateMask)
	if aerr != nil {
		return nil, aerr
	}
	if len(req.Contacts) == 0 || len(req.Contacts) > 200 {
		return nil, errInvalidParam("contacts", "Between 1 and 200 contacts can be updated in one request; got %d.", len(req.Contacts))
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	b := c.book()
	// Google validates the whole batch first: one bad contact fails it all.
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range req.Contacts {
			if !yield(n) {
				return
			}
		}
	})
	for _, name := range names {
		in := req.Contacts[name]
		ct, aerr := b.lookup(name)
		if aerr != nil {
			return nil, aerr
		}
		if _, aerr := b.prepareUpdate(ct, &in, upd); aerr != nil {
			return nil, aerr
		}
	}
	resp := &people.BatchUpdateContactsResponse{UpdateResult: map[string]people.PersonResponse{}}
	for _, name := range names {
		in := req.Contacts[name]
		ct, _ := b.lookup(name)
		if aerr := c.s.updateContact(b, ct, &in, upd); aerr != nil {
			return nil, aerr
		}
		resp.UpdateResult[name] = people.PersonResponse{HttpStatusCode: 200, Person: masked(ct.p, fields), RequestedResourceName: name, Status: &people.Status{}}
	}
	return resp, nil
}

func peopleBatchDelete(c *call) (any, error) {
	var req people.BatchDeleteContactsRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if len(req.ResourceNames) == 0 || len(req.ResourceNames) > 500 {
		return nil, errInvalidParam("resourceNames", "Between 1 and 500 contacts can be deleted in one request; got %d.", len(req.ResourceNames))
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	var cts []*contact
	for _, name := range req.ResourceNames {
		ct, aerr := c.book().lookup(name)
		if aerr != nil {
			return nil, aerr
		}
		cts = append(cts, ct)
	}
	for _, ct := range cts {
		if !ct.deleted {
			c.s.deleteContact(c.book(), ct)
		}
	}
	return struct{}{}, nil
}

// members lists the live contacts in group id.
func (b *contactBook) members(id string) []string {
	var out []string
	for _, cid := range b.order {
		ct := b.contacts[cid]
		if !ct.deleted && inGroup(ct.p, id) {
			out = append(out, ct.p.ResourceName)
		}
	}
	return out
}

func inGroup(p *people.Person, id string) bool {
	for _, m := range p.Memberships {
		if g := m.ContactGroupMembership; g != nil && g.ContactGroupResourceName == "contactGroups/"+id {
			return true
		}
	}
	return false
}

func (b *contactBook) renderGroup(g *contactGroup, maxMembers int) *people.ContactGroup {
	members := b.members(g.id)
	out := &people.ContactGroup{
		ResourceName: "contactGroups/" + g.id, Name: g.name, FormattedName: g.name, GroupType: "USER_CONTACT_GROUP",
		MemberCount: int64(len(members)), Metadata: &people.ContactGroupMetadata{UpdateTime: g.updated.UTC().Format(time.RFC3339Nano)},
	}
	if g.system {
		out.GroupType = "SYSTEM_CONTACT_GROUP"
		out.FormattedName = formattedType(g.name)
	}
	out.Etag = base64.RawStdEncoding.EncodeToString([]byte(fmt.Sprintf("%s/%s/%d/%d", g.id, g.name, len(members), g.updated.UnixNano())))
	if maxMembers > 0 {
		out.MemberResourceNames = members[:min(maxMembers, len(members))]
	}
	return out
}

func contactGroupsList(c *call) (any, error) {
	size, err := c.pageSize("pageSize", 30, 1000)
	if err != nil {
		return nil, err
	}
	q := c.r.URL.Query()
	q.Del("pageToken")
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	b := c.book()
	pg, aerr := c.s.pageLocked(c.user.email, "contactGroups", q.Encode(), c.query("pageToken"), size, func() ([]string, int64) {
		ids := make([]string, 0, len(b.groups))
		for id := range b.groups {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		return ids, 0
	})
	if aerr != nil {
		return nil, aerr
	}
	resp := &people.ListContactGroupsResponse{NextPageToken: pg.nextToken, TotalItems: int64(len(b.groups))}
	for _, id := range pg.ids {
		resp.ContactGroups = append(resp.ContactGroups, b.renderGroup(b.groups[id], 0))
	}
	return resp, nil
}

func contactGroupsGet(c *call) (any, error) {
	maxMembers := 0
	if v := c.query("maxMembers"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, errInvalidParam("maxMembers", "Invalid maxMembers %q.", v)
		}
		maxMembers = n
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	g := c.book().groups[c.param("group")]
	if g == nil {
		return nil, errNotFound()
	}
	return c.book().renderGroup(g, maxMembers), nil
}

func contactGroupsCreate(c *call) (any, error) {
	var req people.CreateContactGroupRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if req.ContactGroup == nil || strings.TrimSpace(req.ContactGroup.Name) == "" {
		return nil, errInvalidParam("contactGroup.name", "contactGroup.name is required.")
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	b := c.book()
	for _, g := range b.groups {
		if strings.EqualFold(g.name, req.ContactGroup.Name) {
			return nil, &apiError{Code: 409, Status: "ALREADY_EXISTS", Reason: "duplicate", Message: "Contact group name already exists."}
		}
	}
	g := &contactGroup{id: c.s.newID(), name: req.ContactGroup.Name, updated: c.s.opts.Clock.Now()}
	b.groups[g.id] = g
	return b.renderGroup(g, 0), nil
}

func contactGroupsMembersModify(c *call) (any, error) {
	var req people.ModifyContactGroupMembersRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if n := len(req.ResourceNamesToAdd) + len(req.ResourceNamesToRemove); n == 0 || n > 1000 {
		return nil, errInvalidParam("resourceNamesToAdd", "Between 1 and 1000 resource names can be modified in one request; got %d.", n)
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	b := c.book()
	id := c.param("group")
	g := b.groups[id]
	if g == nil {
		return nil, errNotFound()
	}
	if g.system && id != "myContacts" && id != "starred" && len(req.ResourceNamesToAdd) > 0 {
		return nil, errBadRequest("Cannot add contacts to system contact group %q.", "contactGroups/"+id)
	}
	resp := &people.ModifyContactGroupMembersResponse{}
	groupName := "contactGroups/" + id
	for _, name := range req.ResourceNamesToAdd {
		ct, aerr := b.lookup(name)
		if aerr != nil {
			resp.NotFoundResourceNames = append(resp.NotFoundResourceNames, name)
			continue
		}
		if !inGroup(ct.p, id) {
			ct.p.Memberships = append(ct.p.Memberships, &people.Membership{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: groupName}})
			c.s.touch(b, ct)
		}
	}
	for _, name := range req.ResourceNamesToRemove {
		ct, aerr := b.lookup(name)
		if aerr != nil {
			resp.NotFoundResourceNames = append(resp.NotFoundResourceNames, name)
			continue
		}
		if !inGroup(ct.p, id) {
			continue
		}
		kept := slices.DeleteFunc(slices.Clone(ct.p.Memberships), func(m *people.Membership) bool {
			return m.ContactGroupMembership != nil && m.ContactGroupMembership.ContactGroupResourceName == groupName
		})
		if len(kept) == 0 {
			resp.CanNotRemoveLastContactGroupResourceNames = append(resp.CanNotRemoveLastContactGroupResourceNames, name)
			continue
		}
		ct.p.Memberships = kept
		c.s.touch(b, ct)
	}
	g.updated = c.s.opts.Clock.Now()
	return resp, nil
}

// SeedContact is a contact to put in a user's Google Contacts.
type SeedContact struct {
	User   string   `json:"user"`
	Given  string   `json:"given"`
	Family string   `json:"family"`
	Emails []string `json:"emails"`
	Phones []string `json:"phones"`
	Groups []string `json:"groups"` // contact group names, created when missing
}

// AddContact adds a contact to the user's Google Contacts and returns its
// resource name.
func (s *Server) AddContact(sc SeedContact) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	acct := s.users[normalizeEmail(sc.User)]
	if acct == nil {
		return "", fmt.Errorf("fakegoogle: no user %s", sc.User)
	}
	b := acct.book
	p := &people.Person{Names: []*people.Name{{GivenName: sc.Given, FamilyName: sc.Family}}}
	for _, e := range sc.Emails {
		p.EmailAddresses = append(p.EmailAddresses, &people.EmailAddress{Value: e})
	}
	for _, ph := range sc.Phones {
		p.PhoneNumbers = append(p.PhoneNumbers, &people.PhoneNumber{Value: ph})
	}
	for _, name := range sc.Groups {
		var g *contactGroup
		for _, cand := range b.groups {
			if cand.name == name {
				g = cand
			}
		}
		if g == nil {
			g = &contactGroup{id: s.newID(), name: name, updated: s.opts.Clock.Now()}
			b.groups[g.id] = g
		}
		p.Memberships = append(p.Memberships, &people.Membership{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: "contactGroups/" + g.id}})
	}
	ct, aerr := s.createContact(b, p)
	if aerr != nil {
		return "", aerr
	}
	return ct.p.ResourceName, nil
}

// fullSyncFirstPageLocked counts the first page of a user's full sync
// against its own quota (Options.FullSyncFirstPagesPerMinute):
// people.connections.list documents that "the first page of a full sync
// request has an additional quota. If the quota is exceeded, a 429 error
// will be returned" (https://developers.google.com/people/api/rest/v1/people.connections/list).
// s.mu must be held.
func (s *Server) fullSyncFirstPageLocked(email string) *apiError {
	limit := s.opts.FullSyncFirstPagesPerMinute
	if limit <= 0 {
		return nil
	}
	now := s.opts.Clock.Now()
	recent := slices.DeleteFunc(s.fullSyncs[email], func(t time.Time) bool { return now.Sub(t) >= time.Minute })
	if len(recent) >= limit {
		s.fullSyncs[email] = recent
		return &apiError{Code: 429, Status: "RESOURCE_EXHAUSTED", Reason: "rateLimitExceeded", Domain: "usageLimits",
			Message:    "Quota exceeded for quota metric 'Full Sync Read Requests' and limit 'Full Sync Read Requests per minute per user' of service 'people.googleapis.com'.",
			InfoReason: "RATE_LIMIT_EXCEEDED", Metadata: map[string]string{"service": "people.googleapis.com", "quota_metric": "people.googleapis.com/full_sync_read_requests"}}
	}
	s.fullSyncs[email] = append(recent, now)
	return nil
}
