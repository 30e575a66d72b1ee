// Package sidepanel is the SidePanel function: the Gmail side panel, a
// Google Workspace add-on served over HTTP (docs/setup.md, "The Gmail
// side panel"). Gmail posts the add-on's event objects; the function
// answers cards (package sidepanel builds them).
//
//	POST /homepage   the homepage: the user's sync status
//	POST /message    the open message: its posting outcome and actions
//	POST /action     a card's button: post now, linked records, create contact
//
// Every request must carry the add-on's system identity token (audience
// SIDEPANEL_URL, from the project's gcp-sa-gsuiteaddons service account:
// OIDC_AUDIENCES and OIDC_INVOKERS), and is acted on only for the user
// its verified user ID token names.
package sidepanel

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/crmsync/crmsync/shared/authn"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/instance"
	"github.com/crmsync/crmsync/shared/setup"
	"github.com/crmsync/crmsync/shared/sidepanel"
	"github.com/crmsync/crmsync/shared/wiring"
)

// Serve is the SidePanel function's entry point.
var Serve = instance.HTTP("SidePanel", Build)

func init() { functions.HTTP("SidePanel", Serve) }

// Build makes the function's handler from the instance's environment.
func Build(env *instance.Env) (http.Handler, error) {
	ctx := context.Background()
	cfg := env.Config
	if cfg.SidePanelURL == "" {
		return nil, failure.Errorf("sidepanel: configuration", failure.Configuration, "SIDEPANEL_URL is not set (the function's own public URL)")
	}
	c, err := wiring.CRM(ctx, env)
	if err != nil {
		return nil, err
	}
	mail, err := wiring.MailEngine(ctx, env, "sidepanel")
	if err != nil {
		return nil, err
	}
	h := &Handler{
		Panel: &sidepanel.Panel{Store: env.Store, Mail: mail, CRM: c, Sender: sidepanel.EventAccess{Endpoint: cfg.GoogleAPIEndpoint},
			Review:    &setup.Service{Store: env.Store, CRM: c, Clock: env.Clock, Log: env.Log},
			ActionURL: cfg.SidePanelURL + "/action", SettingsURL: cfg.WebURL + "/settings", ContactURL: cfg.CRMContactURL, Log: env.Log},
		Users:    authn.NewIDTokens(ctx, cfg.GoogleJWKSURL, env.Clock),
		Audience: cfg.SidePanelURL,
		Log:      env.Log,
	}
	return wiring.Guard(env, "SidePanel", h)
}

// Handler serves the add-on's endpoints. Its fields are its dependencies.
type Handler struct {
	Panel *sidepanel.Panel
	// Users verifies the user ID token of each event; Audience is the
	// audience it must name (the function's URL).
	Users    *authn.IDTokens
	Audience string
	Log      *slog.Logger
}

// maxEvent bounds an event object's size.
const maxEvent = 1 << 20

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "Gmail posts events here", http.StatusMethodNotAllowed)
		return
	}
	var e sidepanel.Event
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxEvent)).Decode(&e); err != nil {
		http.Error(w, "the body is not an add-on event object", http.StatusBadRequest)
		return
	}
	id, err := h.Users.Verify(r.Context(), e.Authorization.UserIDToken, h.Audience)
	if err != nil || !id.EmailVerified {
		h.Log.Warn("sidepanel: an event without a valid user ID token", "err", err)
		http.Error(w, "the event's user ID token is not valid", http.StatusUnauthorized)
		return
	}
	user := strings.ToLower(id.Email)
	var body []byte
	switch r.URL.Path {
	case "/homepage":
		card, cerr := h.Panel.Homepage(r.Context(), user)
		if err = cerr; err == nil {
			body, err = sidepanel.Show(card)
		}
	case "/message":
		card, cerr := h.Panel.Message(r.Context(), user, e)
		if err = cerr; err == nil {
			body, err = sidepanel.Show(card)
		}
	case "/action":
		card, note, cerr := h.Panel.Act(r.Context(), user, e)
		if err = cerr; err == nil {
			body, err = sidepanel.Update(card, note)
		}
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		// The user reads the reason in Gmail's notification bar.
		h.Log.Warn("sidepanel: "+strings.TrimPrefix(r.URL.Path, "/"), "user", user, "messageId", e.Gmail.MessageID, "err", err)
		msg, ok := failure.Worded(err)
		if !ok {
			msg = "That did not work: the CRM or Google did not answer. Try again in a minute."
		}
		body, _ = sidepanel.Notify(msg)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(body)
}
