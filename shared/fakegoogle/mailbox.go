package fakegoogle

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Publisher delivers a Gmail watch notification to a Pub/Sub topic
// ("projects/P/topics/T"). PubSubPublisher adapts the Pub/Sub client.
type Publisher interface {
	Publish(ctx context.Context, topic string, data []byte) error
}

type label struct {
	ID                    string `json:"id"`
	Name                  string `json:"name"`
	Type                  string `json:"type"`
	MessageListVisibility string `json:"messageListVisibility,omitempty"`
	LabelListVisibility   string `json:"labelListVisibility,omitempty"`
}

// systemLabels are every mailbox's system labels.
var systemLabels = []string{"INBOX", "SENT", "DRAFT", "SPAM", "TRASH", "UNREAD", "STARRED", "IMPORTANT",
	"CHAT", "CATEGORY_PERSONAL", "CATEGORY_SOCIAL", "CATEGORY_PROMOTIONS", "CATEGORY_UPDATES", "CATEGORY_FORUMS"}

type message struct {
	id, threadID string
	labels       map[string]bool
	raw          []byte
	internalDate int64 // milliseconds since the epoch
	historyID    uint64
	payload      *messagePart
	snippet      string
	attachments  map[string][]byte
	messageID    string // the Message-ID header, for threading
}

func (m *message) labelIDs() []string {
	out := make([]string, 0, len(m.labels))
	for l := range m.labels {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// History record kinds, as Gmail's historyTypes names them.
const (
	histMessageAdded   = "messageAdded"
	histMessageDeleted = "messageDeleted"
	histLabelAdded     = "labelAdded"
	histLabelRemoved   = "labelRemoved"
)

type historyRecord struct {
	id        uint64
	at        time.Time
	kind      string
	msgID     string
	threadID  string
	changed   []string // labels added or removed
	msgLabels []string // the message's labels after the change
}

type watchState struct {
	topic      string
	labelIDs   []string
	exclude    bool
	expiration time.Time
}

type mailbox struct {
	s         *Server
	email     string
	historyID uint64
	// floor: history up to and including this id is no longer retained.
	floor    uint64
	labels   map[string]*label
	labelSeq int
	messages map[string]*message
	history  []historyRecord
	watch    *watchState

	lastNotify    time.Time
	notifyPending bool
}

func newMailbox(s *Server, email string) *mailbox {
	mb := &mailbox{s: s, email: email, historyID: 1000 + uint64(s.rng.IntN(1000)), labels: map[string]*label{}, messages: map[string]*message{}}
	mb.floor = mb.historyID
	for _, id := range systemLabels {
		mb.labels[id] = &label{ID: id, Name: id, Type: "system"}
	}
	return mb
}

// bump advances the history id by a gap of 1 to 5, as Gmail's ids are
// increasing but not contiguous.
func (mb *mailbox) bump() uint64 {
	mb.historyID += 1 + uint64(mb.s.rng.IntN(5))
	return mb.historyID
}

func (mb *mailbox) record(kind string, m *message, changed []string) {
	now := mb.s.opts.Clock.Now()
	rec := historyRecord{id: mb.bump(), at: now, kind: kind, msgID: m.id, threadID: m.threadID, changed: changed, msgLabels: m.labelIDs()}
	m.historyID = rec.id
	mb.history = append(mb.history, rec)
	mb.prune(now)
	mb.notify(rec)
}

// prune drops history older than the retention period.
func (mb *mailbox) prune(now time.Time) {
	cut := 0
	for cut < len(mb.history) && now.Sub(mb.history[cut].at) > mb.s.opts.HistoryRetention {
		mb.floor = mb.history[cut].id
		cut++
	}
	if cut > 0 {
		mb.history = slices.Delete(mb.history, 0, cut)
	}
}

// expireHistory drops all retained history, as if it had aged out.
func (mb *mailbox) expireHistory() {
	mb.floor = mb.historyID
	mb.history = nil
}

func (mb *mailbox) checkLabels(ids []string) error {
	for _, id := range ids {
		if mb.labels[id] == nil {
			return errBadRequest("Invalid label: %s", id)
		}
	}
	return nil
}

// insert adds a message with the given labels and records messageAdded.
func (mb *mailbox) insert(raw []byte, labelIDs []string, internalDate time.Time, threadID string) (*message, error) {
	if len(raw) == 0 {
		return nil, errInvalidParam("raw", "'raw' RFC822 payload message string or uploading message via /upload/* URL required")
	}
	if err := mb.checkLabels(labelIDs); err != nil {
		return nil, err
	}
	m := &message{id: mb.s.newID(), raw: raw, labels: map[string]bool{}, internalDate: internalDate.UnixMilli(), attachments: map[string][]byte{}}
	for _, l := range labelIDs {
		m.labels[l] = true
	}
	m.payload = parsePart(raw, "", 0, "text/plain", mb.s.newID)
	collectAttachments(m.payload, m.attachments)
	m.snippet = snippet(m.payload)
	m.messageID = strings.Trim(headerValue(m.payload.Headers, "Message-ID"), "<> ")
	m.threadID = threadID
	if m.threadID == "" {
		m.threadID = mb.threadFor(m.payload.Headers)
	}
	if m.threadID == "" {
		m.threadID = m.id
	}
	mb.messages[m.id] = m
	mb.record(histMessageAdded, m, nil)
	return m, nil
}

// threadFor finds the thread of a message this one replies to, by the
// In-Reply-To and References headers.
func (mb *mailbox) threadFor(hs []header) string {
	refs := strings.Fields(headerValue(hs, "References") + " " + headerValue(hs, "In-Reply-To"))
	for i := len(refs) - 1; i >= 0; i-- {
		ref := strings.Trim(refs[i], "<>")
		for _, m := range mb.messages {
			if m.messageID != "" && m.messageID == ref {
				return m.threadID
			}
		}
	}
	return ""
}

func collectAttachments(p *messagePart, into map[string][]byte) {
	if p.Body.AttachmentID != "" {
		into[p.Body.AttachmentID] = p.data
	}
	for _, c := range p.Parts {
		collectAttachments(c, into)
	}
}

// modify adds and removes labels, recording one labelAdded and one
// labelRemoved record for the labels that really changed.
func (mb *mailbox) modify(m *message, add, remove []string) error {
	if err := mb.checkLabels(add); err != nil {
		return err
	}
	if err := mb.checkLabels(remove); err != nil {
		return err
	}
	var added, removed []string
	for _, l := range add {
		if !m.labels[l] {
			m.labels[l] = true
			added = append(added, l)
		}
	}
	for _, l := range remove {
		if m.labels[l] && !slices.Contains(add, l) {
			delete(m.labels, l)
			removed = append(removed, l)
		}
	}
	if len(added) > 0 {
		mb.record(histLabelAdded, m, added)
	}
	if len(removed) > 0 {
		mb.record(histLabelRemoved, m, removed)
	}
	return nil
}

func (mb *mailbox) remove(m *message) {
	delete(mb.messages, m.id)
	mb.record(histMessageDeleted, m, nil)
}

// notification is what Gmail publishes to the watch topic.
type notification struct {
	EmailAddress string `json:"emailAddress"`
	HistoryID    uint64 `json:"historyId"`
}

func (w *watchState) matches(rec historyRecord) bool {
	if len(w.labelIDs) == 0 {
		return true
	}
	has := false
	for _, l := range w.labelIDs {
		if slices.Contains(rec.msgLabels, l) || (rec.kind == histLabelAdded && slices.Contains(rec.changed, l)) {
			has = true
			break
		}
	}
	return has != w.exclude
}

// notify publishes a notification for rec when a live watch wants it, at
// most one per NotifyInterval: changes in between coalesce into one
// notification carrying the latest history id. s.mu is held.
func (mb *mailbox) notify(rec historyRecord) {
	w := mb.watch
	p := mb.s.opts.Publisher
	if w == nil || p == nil || !mb.s.opts.Clock.Now().Before(w.expiration) || !w.matches(rec) {
		return
	}
	if mb.notifyPending {
		return
	}
	wait := mb.s.opts.NotifyInterval - time.Since(mb.lastNotify)
	if wait <= 0 {
		mb.lastNotify = time.Now()
		mb.publish(w.topic, mb.historyID)
		return
	}
	mb.notifyPending = true
	time.AfterFunc(wait, func() {
		mb.s.mu.Lock()
		mb.notifyPending = false
		mb.lastNotify = time.Now()
		topic, id := "", mb.historyID
		if mb.watch != nil && mb.s.opts.Clock.Now().Before(mb.watch.expiration) {
			topic = mb.watch.topic
		}
		mb.s.mu.Unlock()
		if topic != "" {
			mb.publish(topic, id)
		}
	})
}

func (mb *mailbox) publish(topic string, historyID uint64) {
	data, _ := json.Marshal(notification{EmailAddress: mb.email, HistoryID: historyID})
	p := mb.s.opts.Publisher
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Publish(ctx, topic, data); err != nil {
			mb.s.publishErrors.Add(1)
		}
	}()
}

// InsertMessage puts a raw RFC 822 message into a user's mailbox with the
// given labels, as delivery would (messages.insert without the API).
func (s *Server) InsertMessage(email string, raw []byte, labelIDs []string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	acct := s.users[normalizeEmail(email)]
	if acct == nil {
		return "", fmt.Errorf("fakegoogle: no user %s", email)
	}
	m, err := acct.mailbox.insert(raw, labelIDs, s.opts.Clock.Now(), "")
	if err != nil {
		return "", err
	}
	return m.id, nil
}

// LabelMessages adds labels to a user's messages as the user does in
// Gmail's own interface: history records them and a watch publishes, but
// no API quota is spent. An unknown message or label changes nothing and
// is an error.
func (s *Server) LabelMessages(email string, ids []string, labelIDs ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	acct := s.users[normalizeEmail(email)]
	if acct == nil {
		return fmt.Errorf("fakegoogle: no user %s", email)
	}
	mb := acct.mailbox
	if err := mb.checkLabels(labelIDs); err != nil {
		return err
	}
	for _, id := range ids {
		if mb.messages[id] == nil {
			return fmt.Errorf("fakegoogle: %s has no message %s", email, id)
		}
	}
	for _, id := range ids {
		mb.modify(mb.messages[id], labelIDs, nil) // the labels are checked
	}
	return nil
}

// ExpireHistory makes a user's retained Gmail history age out, so the next
// history.list from an older id answers 404.
func (s *Server) ExpireHistory(email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if acct := s.users[normalizeEmail(email)]; acct != nil {
		acct.mailbox.expireHistory()
	}
}

// MessageLabels returns the label ids of a user's message (for assertions).
func (s *Server) MessageLabels(email, id string) ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	acct := s.users[normalizeEmail(email)]
	if acct == nil || acct.mailbox.messages[id] == nil {
		return nil, false
	}
	return acct.mailbox.messages[id].labelIDs(), true
}
