package fakegoogle

import (
	"encoding/base64"
	"net/mail"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

const gmailService = "gmail.googleapis.com"

// Scope sets of Gmail methods, as the discovery document lists them.
var (
	gmailReadScopes   = []string{ScopeMailFull, ScopeGmailMetadata, ScopeGmailModify, ScopeGmailReadonly}
	gmailProfileScope = []string{ScopeMailFull, ScopeGmailCompose, ScopeGmailMetadata, ScopeGmailModify, ScopeGmailReadonly}
	gmailLabelRead    = []string{ScopeMailFull, ScopeGmailLabels, ScopeGmailMetadata, ScopeGmailModify, ScopeGmailReadonly}
	gmailLabelWrite   = []string{ScopeMailFull, ScopeGmailLabels, ScopeGmailModify}
	gmailModify       = []string{ScopeMailFull, ScopeGmailModify}
	gmailInsert       = []string{ScopeMailFull, ScopeGmailInsert, ScopeGmailModify}
	gmailGet          = []string{ScopeMailFull, "https://www.googleapis.com/auth/gmail.addons.current.message.action",
		"https://www.googleapis.com/auth/gmail.addons.current.message.metadata", ScopeGmailAddOns,
		ScopeGmailMetadata, ScopeGmailModify, ScopeGmailReadonly}
	gmailAttachment = []string{ScopeMailFull, "https://www.googleapis.com/auth/gmail.addons.current.message.action",
		ScopeGmailAddOns, ScopeGmailModify, ScopeGmailReadonly}
	gmailSend = []string{ScopeMailFull, "https://www.googleapis.com/auth/gmail.addons.current.action.compose",
		ScopeGmailCompose, ScopeGmailModify, ScopeGmailSend}
)

func (s *Server) routeGmail() {
	g := func(method, path, id string, units int, scopes []string, h func(*call) (any, error)) {
		s.handle(&route{httpMethod: method, pattern: "/gmail/v1/users/{userId}" + path, id: "gmail.users." + id,
			service: gmailService, units: units, scopes: scopes, userParam: "userId", handle: h})
	}
	g("GET", "/profile", "getProfile", 1, gmailProfileScope, gmailGetProfile)
	g("GET", "/labels", "labels.list", 1, gmailLabelRead, gmailLabelsList)
	g("GET", "/labels/{id}", "labels.get", 1, gmailLabelRead, gmailLabelsGet)
	g("POST", "/labels", "labels.create", 5, gmailLabelWrite, gmailLabelsCreate)
	g("PATCH", "/labels/{id}", "labels.patch", 5, gmailLabelWrite, gmailLabelsPatch)
	g("PUT", "/labels/{id}", "labels.update", 5, gmailLabelWrite, gmailLabelsPatch)
	g("DELETE", "/labels/{id}", "labels.delete", 5, gmailLabelWrite, gmailLabelsDelete)
	g("GET", "/messages", "messages.list", 5, gmailReadScopes, gmailMessagesList)
	g("GET", "/messages/{id}", "messages.get", 5, gmailGet, gmailMessagesGet)
	g("POST", "/messages", "messages.insert", 25, gmailInsert, gmailMessagesInsert)
	g("POST", "/messages/import", "messages.import", 25, gmailInsert, gmailMessagesInsert)
	g("POST", "/messages/send", "messages.send", 100, gmailSend, gmailMessagesSend)
	g("POST", "/messages/{id}/modify", "messages.modify", 5, gmailModify, gmailMessagesModify)
	g("POST", "/messages/batchModify", "messages.batchModify", 50, gmailModify, gmailMessagesBatchModify)
	g("POST", "/messages/{id}/trash", "messages.trash", 5, gmailModify, gmailMessagesTrash)
	g("POST", "/messages/{id}/untrash", "messages.untrash", 5, gmailModify, gmailMessagesUntrash)
	g("DELETE", "/messages/{id}", "messages.delete", 10, []string{ScopeMailFull}, gmailMessagesDelete)
	g("GET", "/messages/{messageId}/attachments/{id}", "messages.attachments.get", 5, gmailAttachment, gmailAttachmentsGet)
	g("GET", "/history", "history.list", 2, gmailReadScopes, gmailHistoryList)
	g("POST", "/watch", "watch", 100, gmailReadScopes, gmailWatch)
	g("POST", "/stop", "stop", 50, gmailReadScopes, gmailStop)
}

// Gmail resources, with the JSON names and formats of the discovery document.

type gmailMessage struct {
	ID           string       `json:"id"`
	ThreadID     string       `json:"threadId"`
	LabelIDs     []string     `json:"labelIds,omitempty"`
	Snippet      string       `json:"snippet,omitempty"`
	HistoryID    uint64       `json:"historyId,string,omitempty"`
	InternalDate int64        `json:"internalDate,string,omitempty"`
	Payload      *messagePart `json:"payload,omitempty"`
	SizeEstimate int          `json:"sizeEstimate,omitempty"`
	Raw          string       `json:"raw,omitempty"`
}

type gmailMessageRef struct {
	ID       string   `json:"id"`
	ThreadID string   `json:"threadId"`
	LabelIDs []string `json:"labelIds,omitempty"`
}

func (c *call) mailbox() *mailbox { return c.user.mailbox }

// ref is the short form of a message that writes return.
func (m *message) ref() gmailMessageRef {
	return gmailMessageRef{ID: m.id, ThreadID: m.threadID, LabelIDs: m.labelIDs()}
}

// message finds a message of the caller's mailbox by id.
func (c *call) message(id string) (*message, error) {
	m := c.mailbox().messages[id]
	if m == nil {
		return nil, errNotFound()
	}
	return m, nil
}

func gmailGetProfile(c *call) (any, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	mb := c.mailbox()
	threads := map[string]bool{}
	for _, m := range mb.messages {
		threads[m.threadID] = true
	}
	return map[string]any{"emailAddress": c.user.email, "messagesTotal": len(mb.messages), "threadsTotal": len(threads),
		"historyId": strconv.FormatUint(mb.historyID, 10)}, nil
}

func gmailLabelsList(c *call) (any, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	var out []label
	for _, l := range c.mailbox().labels {
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return map[string]any{"labels": out}, nil
}

// labelWithCounts is a label as labels.get returns it, with counts.
type labelWithCounts struct {
	label
	MessagesTotal  int `json:"messagesTotal"`
	MessagesUnread int `json:"messagesUnread"`
	ThreadsTotal   int `json:"threadsTotal"`
	ThreadsUnread  int `json:"threadsUnread"`
}

func gmailLabelsGet(c *call) (any, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	mb := c.mailbox()
	l := mb.labels[c.param("id")]
	if l == nil {
		return nil, errNotFound()
	}
	out := labelWithCounts{label: *l}
	threads, unread := map[string]bool{}, map[string]bool{}
	for _, m := range mb.messages {
		if m.labels[l.ID] {
			out.MessagesTotal++
			threads[m.threadID] = true
			if m.labels["UNREAD"] {
				out.MessagesUnread++
				unread[m.threadID] = true
			}
		}
	}
	out.ThreadsTotal, out.ThreadsUnread = len(threads), len(unread)
	return out, nil
}

type labelRequest struct {
	ID                    string `json:"id"`
	Name                  string `json:"name"`
	Type                  string `json:"type"`
	MessageListVisibility string `json:"messageListVisibility"`
	LabelListVisibility   string `json:"labelListVisibility"`
	Color                 *struct {
		TextColor       string `json:"textColor"`
		BackgroundColor string `json:"backgroundColor"`
	} `json:"color"`
}

func (mb *mailbox) labelNameTaken(name, except string) bool {
	for _, l := range mb.labels {
		if l.ID != except && strings.EqualFold(l.Name, name) {
			return true
		}
	}
	return false
}

func gmailLabelsCreate(c *call) (any, error) {
	var req labelRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	name := strings.TrimSpace(req.Name)
	if name == "" {
		return nil, errInvalidParam("name", "Invalid label name")
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	mb := c.mailbox()
	if mb.labelNameTaken(name, "") {
		return nil, errConflict("Label name exists or conflicts")
	}
	mb.labelSeq++
	l := &label{ID: "Label_" + strconv.Itoa(mb.labelSeq), Name: name, Type: "user",
		MessageListVisibility: req.MessageListVisibility, LabelListVisibility: req.LabelListVisibility}
	mb.labels[l.ID] = l
	return l, nil
}

func gmailLabelsPatch(c *call) (any, error) {
	var req labelRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	mb := c.mailbox()
	l := mb.labels[c.param("id")]
	if l == nil {
		return nil, errNotFound()
	}
	if l.Type == "system" {
		return nil, errInvalidParam("id", "Invalid label: %s", l.ID)
	}
	if name := strings.TrimSpace(req.Name); name != "" {
		if mb.labelNameTaken(name, l.ID) {
			return nil, errConflict("Label name exists or conflicts")
		}
		l.Name = name
	}
	if req.MessageListVisibility != "" {
		l.MessageListVisibility = req.MessageListVisibility
	}
	if req.LabelListVisibility != "" {
		l.LabelListVisibility = req.LabelListVisibility
	}
	return l, nil
}

func gmailLabelsDelete(c *call) (any, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	mb := c.mailbox()
	l := mb.labels[c.param("id")]
	if l == nil {
		return nil, errNotFound()
	}
	if l.Type == "system" {
		return nil, errInvalidParam("id", "Invalid label: %s", l.ID)
	}
	for _, m := range mb.messages {
		if m.labels[l.ID] {
			mb.modify(m, nil, []string{l.ID})
		}
	}
	delete(mb.labels, l.ID)
	return nil, nil
}

func gmailMessagesGet(c *call) (any, error) {
	format := c.query("format")
	if format == "" {
		format = "full"
	}
	if !slices.Contains([]string{"minimal", "metadata", "full", "raw"}, format) {
		return nil, errInvalidParam("format", "Invalid value at 'format' (%s)", format)
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	m, err := c.message(c.param("id"))
	if err != nil {
		return nil, err
	}
	return renderMessage(m, format, c.r.URL.Query()["metadataHeaders"]), nil
}

func renderMessage(m *message, format string, metadataHeaders []string) gmailMessage {
	out := gmailMessage{ID: m.id, ThreadID: m.threadID, LabelIDs: m.labelIDs(), Snippet: m.snippet,
		HistoryID: m.historyID, InternalDate: m.internalDate, SizeEstimate: len(m.raw)}
	switch format {
	case "raw":
		out.Raw = base64.URLEncoding.EncodeToString(m.raw)
	case "metadata":
		hs := m.payload.Headers
		if len(metadataHeaders) > 0 {
			hs = nil
			for _, h := range m.payload.Headers {
				for _, want := range metadataHeaders {
					if strings.EqualFold(h.Name, want) {
						hs = append(hs, h)
					}
				}
			}
			if hs == nil {
				hs = []header{}
			}
		}
		out.Payload = &messagePart{PartID: "", MimeType: m.payload.MimeType, Filename: "", Headers: hs}
	case "full":
		out.Payload = m.payload
	}
	return out
}

// insertRequest is the Message body of insert, import and send.
type insertRequest struct {
	Raw      string   `json:"raw"`
	LabelIDs []string `json:"labelIds"`
	ThreadID string   `json:"threadId"`
}

func decodeRaw(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		if b2, err2 := base64.RawStdEncoding.DecodeString(s); err2 == nil {
			return b2, nil
		}
		return nil, errInvalidParam("raw", "Invalid value for ByteString: %s", truncate(s, 40))
	}
	return b, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func gmailMessagesInsert(c *call) (any, error) {
	var req insertRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	raw, err := decodeRaw(req.Raw)
	if err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	date := c.s.opts.Clock.Now()
	if c.query("internalDateSource") == "dateHeader" {
		hs, _ := splitHeader(raw)
		if t, err := mail.ParseDate(headerValue(hs, "Date")); err == nil {
			date = t
		}
	}
	m, err := c.mailbox().insert(raw, req.LabelIDs, date, req.ThreadID)
	if err != nil {
		return nil, err
	}
	return m.ref(), nil
}

// gmailMessagesSend delivers a message: a copy with SENT in the sender's
// mailbox and one with INBOX and UNREAD in each local recipient's (Bcc
// removed from their copies). Mail to addresses outside the fake is dropped.
func gmailMessagesSend(c *call) (any, error) {
	var req insertRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	raw, err := decodeRaw(req.Raw)
	if err != nil {
		return nil, err
	}
	hs, body := splitHeader(raw)
	var rcpts []string
	for _, name := range []string{"To", "Cc", "Bcc"} {
		if v := headerValue(hs, name); v != "" {
			list, err := mail.ParseAddressList(v)
			if err != nil {
				return nil, errInvalidParam("raw", "Invalid %s header", name)
			}
			for _, a := range list {
				rcpts = append(rcpts, strings.ToLower(a.Address))
			}
		}
	}
	if len(rcpts) == 0 {
		return nil, errInvalidParam("raw", "Recipient address required")
	}
	if headerValue(hs, "From") == "" {
		hs = append([]header{{Name: "From", Value: c.user.email}}, hs...)
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if err := c.s.sendLimitLocked(c.user.email, len(rcpts)); err != nil {
		return nil, err
	}
	if headerValue(hs, "Message-ID") == "" {
		hs = append(hs, header{Name: "Message-ID", Value: "<" + c.s.newID() + "@mail.fake.google>"})
	}
	sent, err := c.mailbox().insert(joinMessage(hs, body), []string{"SENT"}, c.s.opts.Clock.Now(), req.ThreadID)
	if err != nil {
		return nil, err
	}
	var delivered []header
	for _, h := range hs {
		if !strings.EqualFold(h.Name, "Bcc") {
			delivered = append(delivered, h)
		}
	}
	copyRaw := joinMessage(delivered, body)
	seen := map[string]bool{}
	for _, r := range rcpts {
		acct := c.s.users[r]
		if acct == nil || seen[r] {
			continue
		}
		seen[r] = true
		if acct == c.user {
			sent.labels["INBOX"] = true
			continue
		}
		acct.mailbox.insert(copyRaw, []string{"INBOX", "UNREAD"}, c.s.opts.Clock.Now(), "")
	}
	return sent.ref(), nil
}

func joinMessage(hs []header, body []byte) []byte {
	var b strings.Builder
	for _, h := range hs {
		b.WriteString(h.Name + ": " + h.Value + "\r\n")
	}
	b.WriteString("\r\n")
	return append([]byte(b.String()), body...)
}

type modifyRequest struct {
	IDs            []string `json:"ids"`
	AddLabelIDs    []string `json:"addLabelIds"`
	RemoveLabelIDs []string `json:"removeLabelIds"`
}

func gmailMessagesModify(c *call) (any, error) {
	var req modifyRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	m, err := c.message(c.param("id"))
	if err != nil {
		return nil, err
	}
	if err := c.mailbox().modify(m, req.AddLabelIDs, req.RemoveLabelIDs); err != nil {
		return nil, err
	}
	return m.ref(), nil
}

// gmailMessagesBatchModify changes up to 1,000 messages. Unknown ids are
// skipped, as Gmail does.
func gmailMessagesBatchModify(c *call) (any, error) {
	var req modifyRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if len(req.IDs) == 0 {
		return nil, errInvalidParam("ids", "No message ids specified.")
	}
	if len(req.IDs) > 1000 {
		return nil, errInvalidParam("ids", "Too many ids specified: %d (at most 1000).", len(req.IDs))
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	mb := c.mailbox()
	if err := mb.checkLabels(append(slices.Clone(req.AddLabelIDs), req.RemoveLabelIDs...)); err != nil {
		return nil, err
	}
	for _, id := range req.IDs {
		if m := mb.messages[id]; m != nil {
			mb.modify(m, req.AddLabelIDs, req.RemoveLabelIDs)
		}
	}
	return nil, nil
}

// onMessage adapts fn to a route over the message named by the id path
// parameter, run under the server lock.
func onMessage(fn func(mb *mailbox, m *message) (any, error)) func(*call) (any, error) {
	return func(c *call) (any, error) {
		c.s.mu.Lock()
		defer c.s.mu.Unlock()
		m, err := c.message(c.param("id"))
		if err != nil {
			return nil, err
		}
		return fn(c.mailbox(), m)
	}
}

var (
	gmailMessagesTrash = onMessage(func(mb *mailbox, m *message) (any, error) {
		mb.modify(m, []string{"TRASH"}, []string{"INBOX"})
		return renderMessage(m, "minimal", nil), nil
	})
	gmailMessagesUntrash = onMessage(func(mb *mailbox, m *message) (any, error) {
		mb.modify(m, []string{"INBOX"}, []string{"TRASH"})
		return renderMessage(m, "minimal", nil), nil
	})
	gmailMessagesDelete = onMessage(func(mb *mailbox, m *message) (any, error) {
		mb.remove(m)
		return nil, nil
	})
)

func gmailAttachmentsGet(c *call) (any, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	m, err := c.message(c.param("messageId"))
	if err != nil {
		return nil, err
	}
	data, ok := m.attachments[c.param("id")]
	if !ok {
		return nil, errInvalidParam("id", "Invalid attachment token")
	}
	return map[string]any{"attachmentId": c.param("id"), "size": len(data), "data": base64.URLEncoding.EncodeToString(data)}, nil
}

// pageSize reads the page size parameter (maxResults, pageSize): def when
// absent, at most max.
func (c *call) pageSize(param string, def, max int) (int, error) {
	v := c.query(param)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, errInvalidParam(param, "Invalid value at '%s' (%s)", param, v)
	}
	return min(n, max), nil
}

// offsetToken encodes a list position as an opaque page token.
func offsetToken(prefix string, n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(prefix + ":" + strconv.Itoa(n)))
}

func parseOffsetToken(prefix, tok string) (int, bool) {
	p, n, ok := decodeOffsetToken(tok)
	return n, ok && p == prefix
}

// decodeOffsetToken splits a token of offsetToken into prefix and offset.
func decodeOffsetToken(tok string) (prefix string, offset int, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", 0, false
	}
	p, n, found := strings.Cut(string(b), ":")
	i, err := strconv.Atoi(n)
	return p, i, found && err == nil && i >= 0
}

func gmailMessagesList(c *call) (any, error) {
	size, err := c.pageSize("maxResults", 100, 500)
	if err != nil {
		return nil, err
	}
	q, err := parseQuery(c.query("q"), c.s.opts.Clock.Now())
	if err != nil {
		return nil, err
	}
	wantLabels := c.r.URL.Query()["labelIds"]
	includeSpamTrash := c.query("includeSpamTrash") == "true"
	offset := 0
	if tok := c.query("pageToken"); tok != "" {
		var ok bool
		if offset, ok = parseOffsetToken("messages", tok); !ok {
			return nil, errInvalidParam("pageToken", "Invalid pageToken")
		}
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	mb := c.mailbox()
	var hits []*message
	for _, m := range mb.messages {
		if !includeSpamTrash && !q.anywhere && (m.labels["SPAM"] || m.labels["TRASH"]) {
			continue
		}
		ok := true
		for _, l := range wantLabels {
			if !m.labels[l] {
				ok = false
				break
			}
		}
		if ok && q.match(m, mb) {
			hits = append(hits, m)
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].internalDate != hits[j].internalDate {
			return hits[i].internalDate > hits[j].internalDate
		}
		return hits[i].id > hits[j].id
	})
	out := map[string]any{"resultSizeEstimate": len(hits)}
	if offset < len(hits) {
		end := min(offset+size, len(hits))
		refs := make([]gmailMessageRef, 0, end-offset)
		for _, m := range hits[offset:end] {
			refs = append(refs, gmailMessageRef{ID: m.id, ThreadID: m.threadID})
		}
		out["messages"] = refs
		if end < len(hits) {
			out["nextPageToken"] = offsetToken("messages", end)
		}
	}
	return out, nil
}

type historyMessage struct {
	Message  gmailMessageRef `json:"message"`
	LabelIDs []string        `json:"labelIds,omitempty"`
}

type historyOut struct {
	ID              uint64            `json:"id,string"`
	Messages        []gmailMessageRef `json:"messages"`
	MessagesAdded   []historyMessage  `json:"messagesAdded,omitempty"`
	MessagesDeleted []historyMessage  `json:"messagesDeleted,omitempty"`
	LabelsAdded     []historyMessage  `json:"labelsAdded,omitempty"`
	LabelsRemoved   []historyMessage  `json:"labelsRemoved,omitempty"`
}

// gmailHistoryList returns the records after startHistoryId, oldest first.
// A startHistoryId from before the retained history answers 404.
func gmailHistoryList(c *call) (any, error) {
	startStr := c.query("startHistoryId")
	if startStr == "" {
		return nil, errInvalidParam("startHistoryId", "Missing required parameter: startHistoryId")
	}
	start, err := strconv.ParseUint(startStr, 10, 64)
	if err != nil {
		return nil, errInvalidParam("startHistoryId", "Invalid value at 'start_history_id' (TYPE_UINT64), %q", startStr)
	}
	size, err := c.pageSize("maxResults", 100, 500)
	if err != nil {
		return nil, err
	}
	types := c.r.URL.Query()["historyTypes"]
	for _, t := range types {
		if !slices.Contains([]string{histMessageAdded, histMessageDeleted, histLabelAdded, histLabelRemoved}, t) {
			return nil, errInvalidParam("historyTypes", "Invalid value at 'history_types' (%s)", t)
		}
	}
	labelID := c.query("labelId")
	after := start
	if tok := c.query("pageToken"); tok != "" {
		pos, ok := parseOffsetToken("history", tok)
		if !ok {
			return nil, errInvalidParam("pageToken", "Invalid pageToken")
		}
		after = uint64(pos)
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	mb := c.mailbox()
	if start < mb.floor {
		return nil, errNotFound()
	}
	var out []historyOut
	next := ""
	for _, rec := range mb.history {
		if rec.id <= after {
			continue
		}
		if len(types) > 0 && !slices.Contains(types, rec.kind) {
			continue
		}
		if labelID != "" && !slices.Contains(rec.msgLabels, labelID) && !slices.Contains(rec.changed, labelID) {
			continue
		}
		if len(out) == size {
			next = offsetToken("history", int(out[len(out)-1].ID))
			break
		}
		ref := gmailMessageRef{ID: rec.msgID, ThreadID: rec.threadID}
		withLabels := historyMessage{Message: gmailMessageRef{ID: rec.msgID, ThreadID: rec.threadID, LabelIDs: rec.msgLabels}}
		h := historyOut{ID: rec.id, Messages: []gmailMessageRef{ref}}
		switch rec.kind {
		case histMessageAdded:
			h.MessagesAdded = []historyMessage{withLabels}
		case histMessageDeleted:
			h.MessagesDeleted = []historyMessage{withLabels}
		case histLabelAdded:
			withLabels.LabelIDs = rec.changed
			h.LabelsAdded = []historyMessage{withLabels}
		case histLabelRemoved:
			withLabels.LabelIDs = rec.changed
			h.LabelsRemoved = []historyMessage{withLabels}
		}
		out = append(out, h)
	}
	resp := map[string]any{"historyId": strconv.FormatUint(mb.historyID, 10)}
	if len(out) > 0 {
		resp["history"] = out
	}
	if next != "" {
		resp["nextPageToken"] = next
	}
	return resp, nil
}

type watchRequest struct {
	TopicName           string   `json:"topicName"`
	LabelIDs            []string `json:"labelIds"`
	LabelFilterBehavior string   `json:"labelFilterBehavior"`
	LabelFilterAction   string   `json:"labelFilterAction"`
}

// watchLifetime is how long a Gmail watch lasts: 7 days.
const watchLifetime = 7 * 24 * time.Hour

func gmailWatch(c *call) (any, error) {
	var req watchRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	parts := strings.Split(req.TopicName, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "topics" || parts[1] == "" || parts[3] == "" {
		return nil, errInvalidParam("topicName", "Invalid topicName does not match projects/SOME_ANDROID_APP/topics/*")
	}
	behavior := strings.ToLower(req.LabelFilterBehavior)
	if behavior == "" {
		behavior = strings.ToLower(req.LabelFilterAction)
	}
	if behavior != "" && behavior != "include" && behavior != "exclude" {
		return nil, errInvalidParam("labelFilterBehavior", "Invalid labelFilterBehavior: %s", req.LabelFilterBehavior)
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	mb := c.mailbox()
	if err := mb.checkLabels(req.LabelIDs); err != nil {
		return nil, err
	}
	exp := c.s.opts.Clock.Now().Add(watchLifetime)
	mb.watch = &watchState{topic: req.TopicName, labelIDs: slices.Clone(req.LabelIDs), exclude: behavior == "exclude", expiration: exp}
	// No notification now: Gmail notifies of mailbox changes after the
	// watch (the push guide); the watch's answer carries the historyId to
	// start from.
	return map[string]any{"historyId": strconv.FormatUint(mb.historyID, 10), "expiration": strconv.FormatInt(exp.UnixMilli(), 10)}, nil
}

func gmailStop(c *call) (any, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.mailbox().watch = nil
	return nil, nil
}

// SetSendLimitPerDay changes Options.SendLimitPerDay (0: no limit).
func (s *Server) SetSendLimitPerDay(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.SendLimitPerDay = n
}

// sendLimitLocked counts recipients against the user's daily sending
// limit (Options.SendLimitPerDay over a rolling day) and answers what
// Gmail answers when it is spent: 429 usageLimits rateLimitExceeded,
// "User-rate limit exceeded", with the time sending works again ("Resolve
// errors", mail sending limits:
// https://developers.google.com/workspace/gmail/api/guides/handle-errors;
// Workspace's limits: https://support.google.com/a/answer/166852). s.mu
// must be held.
func (s *Server) sendLimitLocked(email string, recipients int) error {
	limit := s.opts.SendLimitPerDay
	if limit <= 0 {
		return nil
	}
	now := s.opts.Clock.Now()
	sent := slices.DeleteFunc(s.sent[email], func(t time.Time) bool { return now.Sub(t) >= 24*time.Hour })
	if len(sent)+recipients > limit {
		s.sent[email] = sent
		again := now.Add(24 * time.Hour)
		if len(sent) > 0 {
			again = sent[0].Add(24 * time.Hour)
		}
		return &apiError{Code: 429, Status: "RESOURCE_EXHAUSTED", Reason: "rateLimitExceeded", Domain: "usageLimits",
			Message: "User-rate limit exceeded.  Retry after " + again.UTC().Format("2006-01-02T15:04:05.000Z") + " (Mail sending)"}
	}
	for range recipients {
		sent = append(sent, now)
	}
	s.sent[email] = sent
	return nil
}
