package fakegoogle

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Scopes the fake knows, by their full URLs.
const (
	ScopeGmailModify   = "https://www.googleapis.com/auth/gmail.modify"
	ScopeGmailReadonly = "https://www.googleapis.com/auth/gmail.readonly"
	ScopeGmailLabels   = "https://www.googleapis.com/auth/gmail.labels"
	ScopeGmailInsert   = "https://www.googleapis.com/auth/gmail.insert"
	ScopeGmailSend     = "https://www.googleapis.com/auth/gmail.send"
	ScopeGmailCompose  = "https://www.googleapis.com/auth/gmail.compose"
	ScopeGmailMetadata = "https://www.googleapis.com/auth/gmail.metadata"
	ScopeGmailAddOns   = "https://www.googleapis.com/auth/gmail.addons.current.message.readonly"
	ScopeMailFull      = "https://mail.google.com/"
	ScopeContacts      = "https://www.googleapis.com/auth/contacts"
	ScopeContactsRead  = "https://www.googleapis.com/auth/contacts.readonly"
	ScopeCalendar      = "https://www.googleapis.com/auth/calendar"
	ScopeCalendarRead  = "https://www.googleapis.com/auth/calendar.readonly"
	ScopeCalendarEvent = "https://www.googleapis.com/auth/calendar.events"
	ScopeOpenID        = "openid"
	ScopeEmail         = "email"
	ScopeProfile       = "profile"
)

type accessToken struct {
	email   string
	scopes  []string
	expires time.Time
	grant   string
}

// grant is one authorization a user gave a client: the refresh token and
// the scopes. Revoking it stops its refresh token and access tokens.
type grant struct {
	id           string
	email        string
	clientID     string
	scopes       []string
	refreshToken string
	revoked      bool
}

type authState struct {
	tokens  map[string]*accessToken
	grants  map[string]*grant
	refresh map[string]*grant
	// lasting and lastingTokens serve Tokens: the grant of each user, and
	// the access token of each user and scope list.
	lasting       map[string]*grant
	lastingTokens map[string]string
}

func newAuthState() *authState {
	return &authState{tokens: map[string]*accessToken{}, grants: map[string]*grant{}, refresh: map[string]*grant{}}
}

func randomToken(prefix string) string {
	b := make([]byte, 24)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// newGrantLocked records a grant and returns it. s.mu must be held.
func (s *Server) newGrantLocked(email, clientID string, scopes []string) *grant {
	g := &grant{id: randomToken("g-"), email: email, clientID: clientID, scopes: slices.Clone(scopes), refreshToken: randomToken("1//fake-refresh-")}
	s.auth.grants[g.id] = g
	s.auth.refresh[g.refreshToken] = g
	return g
}

// issueLocked mints an access token of grant g. s.mu must be held.
func (s *Server) issueLocked(g *grant, scopes []string) (string, time.Time) {
	tok := randomToken("ya29.fake-")
	exp := s.opts.Clock.Now().Add(s.opts.AccessTokenLifetime)
	s.auth.tokens[tok] = &accessToken{email: g.email, scopes: slices.Clone(scopes), expires: exp, grant: g.id}
	return tok, exp
}

// Token returns an access token for the user with these scopes, as if the
// user had consented to a client named "test-client". Tests use it with
// oauth2.StaticTokenSource.
func (s *Server) Token(email string, scopes ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.newGrantLocked(normalizeEmail(email), "test-client", scopes)
	tok, _ := s.issueLocked(g, scopes)
	return tok
}

// RevokeUser revokes every grant of the user, as a password change with
// Gmail scopes or an admin does: access tokens stop working at once and
// refresh tokens answer invalid_grant.
func (s *Server) RevokeUser(email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.auth.grants {
		if g.email == normalizeEmail(email) {
			g.revoked = true
		}
	}
}

// SuspendUser suspends (or restores) a Workspace user, as an admin does:
// their tokens stop working, and domain-wide delegation for them answers
// invalid_grant "Invalid email or User ID" until they are restored.
func (s *Server) SuspendUser(email string, suspended bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.users[normalizeEmail(email)]
	if a == nil {
		return
	}
	a.suspended = suspended
	if suspended {
		for _, g := range s.auth.grants {
			if g.email == a.email {
				g.revoked = true
			}
		}
	}
}

func (s *Server) authenticate(r *http.Request, rt *route) (*account, *apiError) {
	h := r.Header.Get("Authorization")
	if !strings.HasPrefix(h, "Bearer ") {
		return nil, errUnauthenticated("CREDENTIALS_MISSING")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.auth.tokens[strings.TrimPrefix(h, "Bearer ")]
	if t == nil || s.auth.grants[t.grant] == nil || s.auth.grants[t.grant].revoked {
		return nil, errUnauthenticated("ACCESS_TOKEN_TYPE_UNSUPPORTED")
	}
	if !s.opts.Clock.Now().Before(t.expires) {
		return nil, errUnauthenticated("ACCESS_TOKEN_EXPIRED")
	}
	acct := s.users[t.email]
	if acct == nil {
		return nil, errUnauthenticated("ACCOUNT_STATE_INVALID")
	}
	allowed := false
	for _, sc := range t.scopes {
		if slices.Contains(rt.scopes, sc) {
			allowed = true
			break
		}
	}
	if !allowed {
		return nil, errInsufficientScopes(rt.service, rt.id)
	}
	if err := s.currentMessageOnly(r, rt, t); err != nil {
		return nil, err
	}
	if err := metadataFormatOnly(r, rt, t); err != nil {
		return nil, err
	}
	if rt.userParam != "" {
		addressed := strings.ToLower(r.PathValue(rt.userParam))
		if addressed != "me" && addressed != acct.email {
			return nil, errForbidden("Delegation denied for %s", acct.email)
		}
	}
	return acct, nil
}

// grantScopes are the scopes of the lasting grants Tokens hands out.
var grantScopes = []string{ScopeMailFull, ScopeGmailModify, ScopeContacts, ScopeCalendar}

// Tokens acts for a user through one lasting grant per user, covering
// Gmail, People and Calendar, as a stored refresh token would: each access
// token carries only the scopes asked for, an expired one is refreshed,
// and RevokeUser stops every client made with the grant. It has the shape
// of workspace.TokenSourceFunc, so tests hand it to the product's client
// factory.
func (s *Server) Tokens(_ context.Context, email string, scopes []string) (oauth2.TokenSource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	email = normalizeEmail(email)
	if s.auth.lasting == nil {
		s.auth.lasting = map[string]*grant{}
		s.auth.lastingTokens = map[string]string{}
	}
	g := s.auth.lasting[email]
	if g == nil || g.revoked { // a revoked user consents again
		g = s.newGrantLocked(email, "test-client", grantScopes)
		s.auth.lasting[email] = g
	}
	key := email + " " + strings.Join(scopes, " ")
	tok := s.auth.lastingTokens[key]
	if at := s.auth.tokens[tok]; at == nil || !s.opts.Clock.Now().Before(at.expires) {
		tok, _ = s.issueLocked(g, scopes)
		s.auth.lastingTokens[key] = tok
	}
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok}), nil
}
