// Package web is the Web function: everything a firm's admin and its users
// do in a browser, server-rendered (html/template), usable on a phone,
// with no client framework. Every page answers JSON when asked
// (Accept: application/json); every form is CSRF-protected.
//
//	GET  /                     sign-in page (signed in: to /settings)
//	POST /signin               start "Sign in with Google" (OpenID Connect)
//	GET  /auth/callback        finish sign-in; session cookie
//	POST /signout
//	GET  /settings             connection, sync settings, status
//	POST /settings             save → confirmation e-mail + preview job
//	POST /connect              connect Google (per-user OAuth, PKCE)
//	GET  /connect/callback
//	POST /disconnect           revoke at Google, stop watch and channel
//	POST /setup/delete         delete the sync setup, start over
//	POST /contacts/confirm-deletions  apply the deletions the mass-deletion guard stopped
//	POST /mail/again           put the label back on a failed or unmatched message
//	GET  /preview/{action}     the Approve/Reject link: a page with a button
//	POST /preview/{action}     approve or reject the preview
//	GET  /admin                office settings, user rights, every user's status (admins)
//	POST /admin/office
//	POST /admin/rights
//	POST /admin/remove         offboard a user who left (asks to confirm)
//	GET  /status               the signed-in user's status (JSON)
//	GET  /review               automatic mail sync's review queue
//	POST /review/{id}          approve the suggested client, or reassign
package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/crmsync/crmsync/shared/authn"
	"github.com/crmsync/crmsync/shared/config"
	"github.com/crmsync/crmsync/shared/connect"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/instance"
	"github.com/crmsync/crmsync/shared/preview"
	"github.com/crmsync/crmsync/shared/setup"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/wiring"
	"github.com/crmsync/crmsync/shared/workspace"
)

// Serve is the Web function's entry point.
var Serve = instance.HTTP("Web", Build)

func init() { functions.HTTP("Web", Serve) }

// Build assembles the handler from a function instance's environment.
func Build(env *instance.Env) (http.Handler, error) {
	ctx := context.Background()
	const op = "web: build"
	if env.Config.WebURL == "" {
		return nil, failure.Errorf(op, failure.Permanent, "WEB_URL is not set (want this function's public URL, e.g. https://web-abc-uc.a.run.app)")
	}
	signing, err := wiring.SigningKeys(ctx, env)
	if err != nil {
		return nil, err
	}
	sessions, err := authn.NewSessions(signing, env.Config.Env == config.Production || strings.HasPrefix(env.Config.WebURL, "https://"), env.Clock)
	if err != nil {
		return nil, err
	}
	flow, err := wiring.Flow(ctx, env, env.Config.WebURL+"/connect/callback")
	if err != nil {
		return nil, err
	}
	c, err := wiring.AdminCRM(ctx, env)
	if err != nil {
		return nil, err
	}
	pub, err := wiring.JobsPublisher(ctx, env)
	if err != nil {
		return nil, err
	}
	sender := wiring.Sender(ctx, env)
	mail, cal, err := wiring.PushEngines(ctx, env, "web")
	if err != nil {
		return nil, err
	}
	h := &Handler{
		Setup: &setup.Service{Store: env.Store, CRM: c, Jobs: pub, Sender: sender, Flow: flow, Mail: mail, Calendar: cal,
			WebURL: env.Config.WebURL, Clock: env.Clock, Log: env.Log},
		Sessions: sessions,
		SignIn: &authn.SignIn{Store: env.Store, Endpoint: flow.Endpoint, ClientSecret: flow.ClientSecret, RedirectURL: env.Config.WebURL + "/auth/callback",
			IDTokens: authn.NewIDTokens(ctx, env.Config.GoogleJWKSURL, env.Clock), Clock: env.Clock},
		Flow:     flow,
		Previews: &preview.Service{Store: env.Store, Clock: env.Clock, Log: env.Log},
		Store:    env.Store,
		Google:   wiring.Google(env),
		Mail:     mail,
		Log:      env.Log,
	}
	if u, err := url.Parse(env.Config.WebURL); err == nil {
		h.BasePath = strings.TrimSuffix(u.Path, "/")
	}
	h.DelegationClientID = wiring.DelegationClientID(ctx, env)
	return h, nil
}

// Handler serves the Web function. Its fields are its dependencies.
type Handler struct {
	Setup    *setup.Service
	Sessions *authn.Sessions
	SignIn   *authn.SignIn
	Flow     *connect.Flow
	Previews *preview.Service
	Store    *store.Store
	// Google reads the user's contact labels and calendars for the
	// settings page; nil leaves the choices as free text.
	Google *workspace.Factory
	// Mail posts a message again on the user's request.
	Mail interface {
		PostAgain(ctx context.Context, email, id string) error
	}
	// DelegationClientID is the service account's client ID the admin
	// page shows for domain-wide delegation.
	DelegationClientID string
	Log                *slog.Logger
	// BasePath is the path the function is served under ("" in
	// production, "/Web" in the sandbox).
	BasePath string

	mux     *http.ServeMux
	muxOnce sync.Once
}

func (h *Handler) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", h.home)
	m.HandleFunc("POST /signin", h.signIn)
	m.HandleFunc("GET /auth/callback", h.signInDone)
	m.HandleFunc("POST /signout", h.signOut)
	m.HandleFunc("GET /settings", h.settings)
	m.HandleFunc("POST /settings", h.saveSettings)
	m.HandleFunc("POST /connect", h.connect)
	m.HandleFunc("GET /connect/callback", h.connectDone)
	m.HandleFunc("POST /disconnect", h.disconnect)
	m.HandleFunc("POST /setup/delete", h.deleteSetup)
	m.HandleFunc("POST /contacts/confirm-deletions", h.confirmDeletions)
	m.HandleFunc("POST /mail/again", h.postAgain)
	m.HandleFunc("GET /preview/{action}", h.previewPage)
	m.HandleFunc("POST /preview/{action}", h.decide)
	m.HandleFunc("GET /admin", h.admin)
	m.HandleFunc("POST /admin/office", h.saveOffice)
	m.HandleFunc("POST /admin/rights", h.setRight)
	m.HandleFunc("POST /admin/remove", h.removeUser)
	m.HandleFunc("GET /status", h.status)
	m.HandleFunc("GET /review", h.review)
	m.HandleFunc("POST /review/{id}", h.resolve)
	m.HandleFunc("/", h.notFound)
	return m
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Built once, on the first request: Cloud Functions serves requests
	// concurrently from the start.
	h.muxOnce.Do(func() {
		h.mux = h.routes()
		// Cookies go only to this function, not to every function on the
		// project's shared cloudfunctions.net host.
		if h.Sessions != nil && h.Sessions.Path == "" {
			h.Sessions.Path = h.BasePath
		}
	})
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self' https://accounts.google.com "+h.formTargets()+"; frame-ancestors 'none'; base-uri 'none'")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Frame-Options", "DENY")
	p := strings.TrimPrefix(r.URL.Path, h.BasePath)
	if p == "" {
		p = "/"
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = p, ""
	h.mux.ServeHTTP(w, r2)
}

// formTargets are where forms may go besides this function: Google's
// consent page (the fake's outside production).
func (h *Handler) formTargets() string {
	if h.Flow == nil {
		return ""
	}
	if u, err := url.Parse(h.Flow.Endpoint.AuthURL); err == nil {
		return u.Scheme + "://" + u.Host
	}
	return ""
}

// path returns the public path of a route.
func (h *Handler) path(p string) string { return h.BasePath + p }

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func statusOf(err error) int {
	var bad setup.Invalid
	if errors.As(err, &bad) {
		return http.StatusBadRequest
	}
	switch failure.KindOf(err) {
	case failure.Invalid:
		return http.StatusBadRequest
	case failure.Unauthenticated, failure.AuthRevoked:
		return http.StatusUnauthorized
	case failure.Forbidden:
		return http.StatusForbidden
	case failure.NotFound:
		return http.StatusNotFound
	case failure.Conflict:
		return http.StatusConflict
	case failure.Transient, failure.Quota, failure.Configuration:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// fail answers an error: a page (or JSON) with what the person can do.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error, help string) {
	status := statusOf(err)
	msg := failure.Message(err)
	if status >= 500 {
		h.Log.Error("web: request failed", "path", r.URL.Path, "err", err)
		if status == http.StatusInternalServerError {
			msg = "Something went wrong on our side. Try again in a minute; if it keeps happening, tell your administrator."
		}
		switch {
		case failure.Is(err, failure.Configuration):
			msg = "This cannot be done until your administrator fixes the product's setup; their administration page says what is wrong."
		case status == http.StatusServiceUnavailable:
			// The details (a store's or Google's answer) are in the log.
			msg = "This service, or Google, is busy or briefly unavailable. Try again in a minute."
		}
	} else {
		h.Log.Info("web: request refused", "path", r.URL.Path, "status", status, "err", err)
		var bad setup.Invalid
		switch worded, ok := failure.Worded(err); {
		case failure.Is(err, failure.AuthRevoked):
			// Not Google's token-endpoint answer: what to do about it.
			msg = "Google did not accept this service's access to your Google account. Connect Google again on the settings page."
		case errors.As(err, &bad):
			msg = bad.Error()
		case ok:
			msg = worded // written for the person, by this product
		default:
			// What a library or the store answered stays in the log.
			msg = refusals[status]
		}
	}
	if wantsJSON(r) {
		body := map[string]any{"error": map[string]any{"code": status, "message": msg}}
		var bad setup.Invalid
		if errors.As(err, &bad) {
			body["error"].(map[string]any)["fields"] = bad
		}
		writeJSON(w, status, body)
		return
	}
	h.render(w, status, "error", page{Title: errorTitles[status], Message: msg, Help: help})
}

// errorTitles head the error pages, in words rather than HTTP's names.
var errorTitles = map[int]string{
	http.StatusBadRequest:          "That did not work",
	http.StatusUnauthorized:        "Please sign in",
	http.StatusForbidden:           "Not allowed",
	http.StatusNotFound:            "Not found",
	http.StatusConflict:            "Changed meanwhile",
	http.StatusInternalServerError: "Something went wrong",
	http.StatusServiceUnavailable:  "Temporarily unavailable",
}

// refusals say what a refusal means when the refusing layer's own words
// are not for people.
var refusals = map[int]string{
	http.StatusBadRequest:   "This request could not be understood. Go back, reload the page and try again.",
	http.StatusUnauthorized: "You are not signed in, or your session ended. Sign in again.",
	http.StatusForbidden:    "You are not allowed to do this. If you think you should be, ask your administrator.",
	http.StatusNotFound:     "What you asked for does not exist, or no longer does.",
	http.StatusConflict:     "Something changed while you were doing this. Reload the page and try again.",
}

// notFound answers a path this function does not serve with the site's
// own page.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.fail(w, r, failure.Errorf("web: route", failure.NotFound, "There is no page here. Check the address, or go to your settings."), "")
}

// session returns the signed-in user; when there is none it answers (a
// redirect to sign in for a page, 401 for JSON) and ok is false.
func (h *Handler) session(w http.ResponseWriter, r *http.Request) (authn.Session, store.User, store.Tenant, bool) {
	sess, err := h.Sessions.Read(r)
	if err != nil {
		if wantsJSON(r) || r.Method != http.MethodGet {
			h.fail(w, r, err, "")
		} else {
			next := r.URL.Path
			if r.URL.RawQuery != "" {
				next += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, h.path("/")+"?next="+url.QueryEscape(next), http.StatusSeeOther)
		}
		return sess, store.User{}, store.Tenant{}, false
	}
	u, err := h.Store.Users().Get(r.Context(), sess.Email)
	if err == nil && sess.Issued.Before(u.SessionsFrom) {
		// Signed out (on any device), or the right was withdrawn.
		h.Sessions.Clear(w)
		err = failure.Errorf("web: session", failure.Unauthenticated, "this session has ended; sign in again")
		if u.RightWithdrawn {
			err = failure.Errorf("web: session", failure.Forbidden, "your administrator withdrew your right to use this service")
		}
	}
	if err == nil {
		var t store.Tenant
		if t, err = h.Store.Tenants().Get(r.Context(), u.TenantID); err == nil {
			return sess, u, t, true
		}
	}
	if failure.Is(err, failure.NotFound) {
		h.Sessions.Clear(w)
		err = failure.Errorf("web: session", failure.Unauthenticated, "your account is no longer set up here; sign in again")
	}
	h.fail(w, r, err, "")
	return sess, store.User{}, store.Tenant{}, false
}

// form is session plus a CSRF check, for every state-changing request.
func (h *Handler) form(w http.ResponseWriter, r *http.Request) (authn.Session, store.User, store.Tenant, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, failure.Errorf("web: form", failure.Invalid, "the form could not be read"), "")
		return authn.Session{}, store.User{}, store.Tenant{}, false
	}
	sess, u, t, ok := h.session(w, r)
	if !ok {
		return sess, u, t, false
	}
	if !h.Sessions.CheckCSRF(r, sess) {
		h.fail(w, r, failure.Errorf("web: csrf", failure.Forbidden, "this form expired or did not come from this site; reload the page and try again"), "")
		return sess, u, t, false
	}
	return sess, u, t, true
}

// done ends a form: JSON for API callers, otherwise a redirect.
func (h *Handler) done(w http.ResponseWriter, r *http.Request, to string, v any) {
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, v)
		return
	}
	http.Redirect(w, r, h.path(to), http.StatusSeeOther)
}

// nextPages are the pages a post-sign-in destination may name: this
// product's own, and nothing else.
var nextPages = []string{"/", "/settings", "/admin", "/status", "/review", "/preview/approve", "/preview/reject"}

// safeNext keeps a post-sign-in destination on this site: one of
// nextPages, with an optional query of plain characters. Anything else
// (another host, a scheme, backslashes, control bytes, percent-encoded
// tricks, a path not of this product) becomes the settings page.
func safeNext(next string) string {
	const fallback = "/settings"
	if next == "" || len(next) > 2048 {
		return fallback
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c < 0x21 || c == 0x7f || c == '\\' || c >= 0x80 {
			return fallback
		}
	}
	path, query, _ := strings.Cut(next, "?")
	if !slices.Contains(nextPages, path) || strings.Contains(query, "#") {
		return fallback
	}
	if query != "" {
		if _, err := url.ParseQuery(query); err != nil {
			return fallback
		}
		return path + "?" + query
	}
	return path
}

func featureList(f url.Values) []connect.Feature {
	var out []connect.Feature
	for _, v := range f["feature"] {
		if fe := connect.Feature(v); slices.Contains([]connect.Feature{connect.Mail, connect.Contacts, connect.Calendar}, fe) && !slices.Contains(out, fe) {
			out = append(out, fe)
		}
	}
	return out
}
