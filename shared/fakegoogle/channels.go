package fakegoogle

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	calendar "google.golang.org/api/calendar/v3"
)

// Calendar push channels (events.watch, channels.stop).
//
// Each channel has one delivery goroutine, so its notifications arrive in
// message-number order: "sync" right after the watch, then "exists" after
// every change to the watched calendar, until the channel expires or is
// stopped. A notification the receiver refuses or cannot take is counted
// in PushFailures and not retried.

const (
	defaultChannelTTL = 7 * 24 * time.Hour
	maxChannelTTL     = 30 * 24 * time.Hour
)

type pushChannel struct {
	id, resourceID, token, address string
	owner, calendarID              string
	expiration                     time.Time
	msgNum                         int64
	queue                          chan pushMessage
	stopped                        bool
}

type pushMessage struct {
	state string
	num   int64
}

// stopLocked ends the channel's deliveries. s.mu must be held.
func (ch *pushChannel) stopLocked() {
	if !ch.stopped {
		ch.stopped = true
		close(ch.queue)
	}
}

func (s *Server) enqueueLocked(ch *pushChannel, state string) {
	ch.msgNum++
	select {
	case ch.queue <- pushMessage{state: state, num: ch.msgNum}:
	default:
		s.pushFailures.Add(1) // the receiver is too far behind
	}
}

// notifyChannelsLocked tells the live channels on a calendar that it
// changed. s.mu must be held.
func (s *Server) notifyChannelsLocked(owner, calendarID string) {
	now := s.opts.Clock.Now()
	for key, ch := range s.channels {
		if ch.owner != owner || ch.calendarID != calendarID {
			continue
		}
		if !now.Before(ch.expiration) {
			ch.stopLocked()
			delete(s.channels, key)
			continue
		}
		s.enqueueLocked(ch, "exists")
	}
}

func (s *Server) deliver(ch *pushChannel) {
	defer s.pushers.Done()
	for m := range ch.queue {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, ch.address, nil)
		if err != nil {
			s.pushFailures.Add(1)
			continue
		}
		h := req.Header
		h.Set("X-Goog-Channel-ID", ch.id)
		if ch.token != "" {
			h.Set("X-Goog-Channel-Token", ch.token)
		}
		h.Set("X-Goog-Channel-Expiration", ch.expiration.UTC().Format(http.TimeFormat))
		h.Set("X-Goog-Resource-ID", ch.resourceID)
		h.Set("X-Goog-Resource-URI", "https://www.googleapis.com/calendar/v3/calendars/"+ch.calendarID+"/events?alt=json")
		h.Set("X-Goog-Resource-State", m.state)
		h.Set("X-Goog-Message-Number", strconv.FormatInt(m.num, 10))
		resp, err := s.pushClient.Do(req)
		if err != nil {
			s.pushFailures.Add(1)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			s.pushFailures.Add(1)
		}
	}
}

// PushFailures counts Calendar push notifications that could not be
// delivered (refused, unreachable, or dropped for a receiver too far behind).
func (s *Server) PushFailures() int64 { return s.pushFailures.Load() }

func eventsWatch(c *call) (any, error) {
	var req calendar.Channel
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if req.Id == "" {
		return nil, &apiError{Code: 400, Status: "INVALID_ARGUMENT", Reason: "required", Message: "Required: channel id."}
	}
	if t := strings.ToLower(req.Type); t != "web_hook" && t != "webhook" {
		return nil, errInvalidParam("type", "Invalid channel type %q; only web_hook is supported.", req.Type)
	}
	if !strings.HasPrefix(req.Address, "https://") && !strings.HasPrefix(req.Address, "http://") {
		return nil, errInvalidParam("address", "Invalid channel address %q.", req.Address)
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	cd, aerr := c.calendar()
	if aerr != nil {
		return nil, aerr
	}
	now := c.s.opts.Clock.Now()
	for _, ch := range c.s.channels {
		if ch.id == req.Id && now.Before(ch.expiration) {
			return nil, &apiError{Code: 400, Status: "INVALID_ARGUMENT", Reason: "channelIdNotUnique", Message: "Channel id " + req.Id + " not unique"}
		}
	}
	exp := now.Add(defaultChannelTTL)
	if req.Expiration > 0 {
		exp = time.UnixMilli(req.Expiration)
		if exp.After(now.Add(maxChannelTTL)) {
			exp = now.Add(maxChannelTTL)
		}
		if !exp.After(now) {
			return nil, errInvalidParam("expiration", "The channel expiration is in the past.")
		}
	}
	ch := &pushChannel{id: req.Id, resourceID: c.s.newID(), token: req.Token, address: req.Address,
		owner: c.user.email, calendarID: cd.id, expiration: exp, queue: make(chan pushMessage, 1024)}
	c.s.channels[ch.id+"/"+ch.resourceID] = ch
	c.s.pushers.Add(1)
	go c.s.deliver(ch)
	c.s.enqueueLocked(ch, "sync")
	return &calendar.Channel{Kind: "api#channel", Id: ch.id, ResourceId: ch.resourceID, Token: ch.token,
		ResourceUri: "https://www.googleapis.com/calendar/v3/calendars/" + cd.id + "/events?alt=json",
		Expiration:  exp.UnixMilli()}, nil
}

func channelsStop(c *call) (any, error) {
	var req calendar.Channel
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	key := req.Id + "/" + req.ResourceId
	ch := c.s.channels[key]
	if ch == nil || ch.owner != c.user.email {
		return nil, &apiError{Code: 404, Status: "NOT_FOUND", Reason: "notFound", Message: "Channel '" + req.Id + "' not found for project"}
	}
	ch.stopLocked()
	delete(c.s.channels, key)
	return nil, nil
}

// stopChannels ends every channel's deliveries and waits for them.
func (s *Server) stopChannels() {
	s.mu.Lock()
	for key, ch := range s.channels {
		ch.stopLocked()
		delete(s.channels, key)
	}
	s.mu.Unlock()
	s.pushers.Wait()
}
