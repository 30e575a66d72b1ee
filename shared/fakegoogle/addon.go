package fakegoogle

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The add-on scopes a Gmail add-on's event tokens carry
// (developers.google.com/workspace/add-ons/concepts/workspace-scopes).
const (
	ScopeAddOnCurrentMessageMetadata = "https://www.googleapis.com/auth/gmail.addons.current.message.metadata"
	ScopeUserinfoEmail               = "https://www.googleapis.com/auth/userinfo.email"
	ScopeAddOnExecute                = "https://www.googleapis.com/auth/gmail.addons.execute"
)

// AddOnEvent is what Gmail posts to an HTTP add-on's endpoint when a user
// opens a message (or presses a card's button): the event object with
// its tokens. Gmail signs the request with the add-on's system identity
// (the project's service-NUMBER@gcp-sa-gsuiteaddons service account),
// sends the user's ID token, an OAuth token of the add-on's scopes, and
// an access token for the open message alone, which the Gmail API wants
// in the X-Goog-Gmail-Access-Token header.
type AddOnEvent struct {
	Common        map[string]any    `json:"commonEventObject"`
	Authorization map[string]string `json:"authorizationEventObject"`
	Gmail         map[string]string `json:"gmail,omitempty"`
}

// AddOnServiceAccount is the add-on system identity of a project number.
func AddOnServiceAccount(projectNumber string) string {
	return "service-" + projectNumber + "@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"
}

// AddOnEvent makes the event Gmail sends endpoint for user: for the open
// message messageID ("" for the homepage), with the button's parameters
// and the form's inputs (nil for none). The returned bearer is the
// system identity token for the Authorization header.
func (s *Server) AddOnEvent(endpoint, projectNumber, user, messageID string, params map[string]string, inputs map[string][]string) (AddOnEvent, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	user = normalizeEmail(user)
	if s.users[user] == nil {
		return AddOnEvent{}, "", fmt.Errorf("fakegoogle: no user %s", user)
	}
	g := s.newGrantLocked(user, "gsuiteaddons", []string{ScopeAddOnExecute, ScopeAddOnCurrentMessageMetadata, ScopeUserinfoEmail})
	oauthToken, _ := s.issueLocked(g, g.scopes)
	system := s.signLocked(AddOnServiceAccount(projectNumber), jwt.MapClaims{"aud": endpoint, "email": AddOnServiceAccount(projectNumber), "email_verified": true}, time.Hour)
	userID := s.signLocked(user, jwt.MapClaims{"aud": endpoint, "email": user, "email_verified": true}, time.Hour)
	e := AddOnEvent{
		Common:        map[string]any{"hostApp": "GMAIL", "platform": "WEB", "userLocale": "en"},
		Authorization: map[string]string{"userOAuthToken": oauthToken, "userIdToken": userID, "systemIdToken": system},
	}
	if params != nil {
		e.Common["parameters"] = params
	}
	if inputs != nil {
		fi := map[string]any{}
		for k, v := range inputs {
			fi[k] = map[string]any{"stringInputs": map[string]any{"value": v}}
		}
		e.Common["formInputs"] = fi
	}
	if messageID != "" {
		b := make([]byte, 16)
		rand.Read(b)
		tok := "addon-msg-" + hex.EncodeToString(b)
		if s.addOnMessages == nil {
			s.addOnMessages = map[string]string{}
		}
		s.addOnMessages[tok] = user + " " + messageID
		e.Gmail = map[string]string{"messageId": messageID, "threadId": messageID, "accessToken": tok}
	}
	return e, system, nil
}

// currentMessageOnly says why a request made with an add-on's token may
// not read what it asks for: such a token reads only the open message,
// whose access token the X-Goog-Gmail-Access-Token header carries.
func (s *Server) currentMessageOnly(r *http.Request, rt *route, t *accessToken) *apiError {
	if slices.ContainsFunc(t.scopes, func(sc string) bool {
		return sc == ScopeMailFull || strings.HasPrefix(sc, "https://www.googleapis.com/auth/gmail.") && !strings.Contains(sc, "gmail.addons.")
	}) {
		return nil // a token of the product's own grant
	}
	if !strings.HasPrefix(rt.id, "gmail.") {
		return nil
	}
	bound := s.addOnMessages[r.Header.Get("X-Goog-Gmail-Access-Token")]
	if rt.id != "gmail.users.messages.get" || bound != t.email+" "+r.PathValue("id") {
		return errForbidden("The add-on's access covers only the open message; X-Goog-Gmail-Access-Token is missing or for another message")
	}
	return nil
}

// metadataFormatOnly refuses a message's body to a token whose only Gmail
// read access is metadata (gmail.metadata, or an add-on's
// gmail.addons.current.message.metadata): Gmail answers messages.get
// with format full or raw, the default being full, with 403 "Metadata
// scope doesn't allow format FULL".
func metadataFormatOnly(r *http.Request, rt *route, t *accessToken) *apiError {
	if rt.id != "gmail.users.messages.get" {
		return nil
	}
	bodies := []string{ScopeMailFull, ScopeGmailModify, ScopeGmailReadonly, ScopeGmailAddOns,
		"https://www.googleapis.com/auth/gmail.addons.current.message.action"}
	if slices.ContainsFunc(t.scopes, func(sc string) bool { return slices.Contains(bodies, sc) }) {
		return nil
	}
	format := strings.ToLower(r.URL.Query().Get("format"))
	if format == "" || format == "full" || format == "raw" {
		if format == "" {
			format = "full"
		}
		return errForbidden("Metadata scope doesn't allow format %s", strings.ToUpper(format))
	}
	return nil
}
