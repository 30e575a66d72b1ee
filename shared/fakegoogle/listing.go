package fakegoogle

import (
	"time"
)

// Paged listings and sync tokens shared by People and Calendar.
//
// A list request computes its full result (the ids in order, and the
// change sequence a sync token issued on its last page stands for) once, on
// its first page; later pages read from that snapshot, as Google's page
// tokens do. Both kinds of token are bound to the user, the collection and
// the request's other parameters: a token used with different ones is
// refused, as Google refuses it.

// syncToken is what a sync token stands for.
type syncToken struct {
	owner, scope string // the user and the collection (a calendar id, "people")
	params       string // the request parameters it must be used with
	seq          int64  // changes after this sequence number are returned
	issued       time.Time
	invalid      bool
}

type listSnapshot struct {
	owner, scope, params string
	ids                  []string
	syncSeq              int64
	created              time.Time
}

// listings holds the live page and sync tokens.
type listings struct {
	sync  map[string]*syncToken
	pages map[string]*listSnapshot
}

func newListings() *listings {
	return &listings{sync: map[string]*syncToken{}, pages: map[string]*listSnapshot{}}
}

// pageTokenLifetime bounds how long page tokens work (and are kept).
const pageTokenLifetime = time.Hour

// page is one page of a listing.
type page struct {
	ids       []string
	nextToken string // "" on the last page
	syncSeq   int64  // the listing's sync sequence, meaningful on the last page
}

// pageLocked returns the page of a listing that pageToken names, or the
// first page of the listing compute produces. s.mu must be held.
func (s *Server) pageLocked(owner, scope, params, pageToken string, size int, compute func() ([]string, int64)) (page, *apiError) {
	now := s.opts.Clock.Now()
	var snap *listSnapshot
	offset := 0
	if pageToken != "" {
		id, off, ok := cutPageToken(pageToken)
		snap = s.lists.pages[id]
		if !ok || snap == nil || snap.owner != owner || snap.scope != scope || now.Sub(snap.created) > pageTokenLifetime {
			return page{}, errInvalidParam("pageToken", "Page token is not valid.")
		}
		if snap.params != params {
			return page{}, errInvalidParam("pageToken", "Parameters provided with a page token must match the request that returned it.")
		}
		offset = off
		if offset > len(snap.ids) {
			return page{}, errInvalidParam("pageToken", "Page token is not valid.")
		}
	} else {
		for id, old := range s.lists.pages {
			if now.Sub(old.created) > pageTokenLifetime {
				delete(s.lists.pages, id)
			}
		}
		ids, seq := compute()
		snap = &listSnapshot{owner: owner, scope: scope, params: params, ids: ids, syncSeq: seq, created: now}
	}
	end := min(offset+size, len(snap.ids))
	p := page{ids: snap.ids[offset:end], syncSeq: snap.syncSeq}
	if end < len(snap.ids) {
		id := s.newID()
		if pageToken != "" {
			id, _, _ = cutPageToken(pageToken)
		}
		s.lists.pages[id] = snap
		p.nextToken = offsetToken(id, end)
	}
	return p, nil
}

func cutPageToken(tok string) (id string, offset int, ok bool) {
	return decodeOffsetToken(tok)
}

// issueSyncTokenLocked returns a new sync token for changes after seq.
// s.mu must be held.
func (s *Server) issueSyncTokenLocked(owner, scope, params string, seq int64) string {
	tok := randomToken("")
	s.lists.sync[tok] = &syncToken{owner: owner, scope: scope, params: params, seq: seq, issued: s.opts.Clock.Now()}
	return tok
}

// syncTokenLocked looks a sync token up. It returns nil for a token that is
// unknown, another user's or collection's, past lifetime (when lifetime is
// positive) or invalidated: all mean "start over with a full sync".
// s.mu must be held.
func (s *Server) syncTokenLocked(tok, owner, scope string, lifetime time.Duration) *syncToken {
	st := s.lists.sync[tok]
	if st == nil || st.owner != owner || st.scope != scope || st.invalid {
		return nil
	}
	if lifetime > 0 && s.opts.Clock.Now().Sub(st.issued) > lifetime {
		return nil
	}
	return st
}

// InvalidateSyncTokens makes every People and Calendar sync token of the
// user stop working, as Google does when it cannot serve an incremental
// sync: People answers 400 EXPIRED_SYNC_TOKEN, Calendar 410 GONE.
func (s *Server) InvalidateSyncTokens(email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.lists.sync {
		if st.owner == normalizeEmail(email) {
			st.invalid = true
		}
	}
}
