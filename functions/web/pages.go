package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/crmsync/crmsync/shared/authn"
	"github.com/crmsync/crmsync/shared/connect"
	"github.com/crmsync/crmsync/shared/contactsync"
	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/mailbox"
	"github.com/crmsync/crmsync/shared/setup"
	"github.com/crmsync/crmsync/shared/store"
)

// cookiePath is the Web function's path, which its cookies are scoped to.
func (h *Handler) cookiePath() string {
	if h.BasePath == "" {
		return "/"
	}
	return h.BasePath
}

// signinCookie binds a sign-in to the browser that started it.
const signinCookie = "crmsync_signin"

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	if _, err := h.Sessions.Read(r); err == nil {
		http.Redirect(w, r, h.path(safeNext(r.URL.Query().Get("next"))), http.StatusSeeOther)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"signedIn": false, "signIn": h.path("/signin")})
		return
	}
	h.render(w, http.StatusOK, "signin", page{Title: "Sign in", Next: r.URL.Query().Get("next")})
}

func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	email := strings.TrimSpace(r.PostFormValue("email"))
	t, err := h.Setup.TenantFor(r.Context(), email)
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	to, err := h.SignIn.Begin(r.Context(), t.OAuthClientID, email, safeNext(r.PostFormValue("next")))
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	u, _ := url.Parse(to)
	http.SetCookie(w, &http.Cookie{Name: signinCookie, Value: u.Query().Get("state"), Path: h.cookiePath(), MaxAge: 900, HttpOnly: true, Secure: h.Sessions.Secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (h *Handler) signInDone(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c, err := r.Cookie(signinCookie)
	http.SetCookie(w, &http.Cookie{Name: signinCookie, Path: h.cookiePath(), MaxAge: -1, HttpOnly: true, Secure: h.Sessions.Secure, SameSite: http.SameSiteLaxMode})
	if err != nil || q.Get("state") == "" || !authn.Equal(c.Value, q.Get("state")) {
		if _, serr := h.Sessions.Read(r); serr == nil {
			// The callback reloaded (or opened again from the history)
			// after this browser signed in: it is signed in.
			http.Redirect(w, r, h.path("/settings"), http.StatusSeeOther)
			return
		}
		h.fail(w, r, failure.Errorf("web: sign in", failure.Unauthenticated, "this sign-in was started in another browser or took too long; sign in again"), "")
		return
	}
	if e := q.Get("error"); e != "" {
		h.SignIn.Cancel(r.Context(), q.Get("state"))
		h.fail(w, r, failure.Errorf("web: sign in", failure.Unauthenticated, "Google did not sign you in (%s)", e), connect.ResetSteps)
		return
	}
	id, next, err := h.SignIn.Finish(r.Context(), q.Get("state"), q.Get("code"))
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	// Only the firm's Workspace accounts: anyone can make a personal Google
	// account with an address of the firm's domain, whose id_token has no
	// hd (hosted domain) claim.
	if t, err := h.Setup.TenantFor(r.Context(), id.Email); err == nil && !slices.ContainsFunc(t.Domains, func(d string) bool { return strings.EqualFold(d, id.HostedDomain) }) {
		h.Log.Warn("web: sign-in refused: not a Workspace account of the firm", "user", id.Email, "hd", id.HostedDomain)
		h.fail(w, r, failure.Errorf("web: sign in", failure.Forbidden, "sign in with your firm's Google Workspace account; %s is not one of its accounts", id.Email), connect.ResetSteps)
		return
	}
	u, err := h.Setup.Admit(r.Context(), id.Email)
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	if _, err := h.Sessions.Issue(w, u.Email); err != nil {
		h.fail(w, r, err, "")
		return
	}
	h.Log.Info("web: signed in", "user", u.ID)
	http.Redirect(w, r, h.path(safeNext(next)), http.StatusSeeOther)
}

func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) {
	_, u, _, ok := h.form(w, r)
	if !ok {
		return
	}
	// Every session of the user ends, on every device, not only this
	// browser's cookie (a stolen cookie stops working too).
	if err := h.Setup.EndSessions(r.Context(), u.ID); err != nil {
		h.fail(w, r, err, "")
		return
	}
	h.Sessions.Clear(w)
	h.done(w, r, "/", map[string]any{"signedIn": false})
}

// settingsView is the settings page's data (and its JSON).
type settingsView struct {
	Status   setup.Status   `json:"status"`
	Settings setup.Settings `json:"settings"`
	AuthMode store.AuthMode `json:"authMode"`
	// Granted lists the features the Google grant covers.
	Granted          []connect.Feature `json:"granted"`
	AllowAllContacts bool              `json:"allowAllContacts"`
	Sets             []crm.Set         `json:"sets"`
	GoogleLabels     []string          `json:"googleLabels"`
	Calendars        []string          `json:"calendars"`
	CSRF             string            `json:"csrf"`
	// RecentMail is what the user's last labeled messages came to, and why.
	RecentMail []mailbox.Outcome `json:"recentMail,omitempty"`
	// GuardStopped: the mass-deletion guard waits for the user.
	GuardStopped bool `json:"contactDeletionsWaiting"`
}

func (h *Handler) settingsData(ctx context.Context, sess authn.Session, u store.User, t store.Tenant) settingsView {
	v := settingsView{Status: setup.StatusOf(t, u), Settings: setup.Of(u), AuthMode: t.AuthMode, AllowAllContacts: t.AllowAllContacts, CSRF: h.Sessions.CSRF(sess),
		GuardStopped: strings.HasPrefix(u.Attention, contactsync.AttentionPrefix)}
	v.Granted = setup.Granted(t, u)
	if u.Mail.Enabled {
		var err error
		if v.RecentMail, err = mailbox.Recent(ctx, h.Store, u, 10); err != nil {
			h.Log.Warn("web: the user's recent mail was not read; the page shows none", "user", u.ID, "err", err)
		}
	}
	if sets, err := h.Setup.CRM.Sets(ctx); err == nil {
		v.Sets = sets
	} else {
		h.Log.Warn("web: CRM sets", "user", u.ID, "err", err)
	}
	// The user's Google labels and calendars are suggestions for the form:
	// without them the page still works, so a failure is logged, not shown.
	if h.Google != nil && u.Connection.State == store.Connected {
		var err error
		if slices.Contains(v.Granted, connect.Contacts) {
			if v.GoogleLabels, err = setup.GoogleLabels(ctx, h.Google, u.ID); err != nil {
				h.Log.Warn("web: the user's Google contact labels were not read; the form offers none", "user", u.ID, "err", err)
			}
		}
		if slices.Contains(v.Granted, connect.Calendar) {
			if v.Calendars, err = setup.GoogleCalendars(ctx, h.Google, u.ID); err != nil {
				h.Log.Warn("web: the user's Google calendars were not read; the form offers none", "user", u.ID, "err", err)
			}
		}
	}
	return v
}

func (h *Handler) settings(w http.ResponseWriter, r *http.Request) {
	sess, u, t, ok := h.session(w, r)
	if !ok {
		return
	}
	v := h.settingsData(r.Context(), sess, u, t)
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, v)
		return
	}
	h.render(w, http.StatusOK, "settings", page{Title: "Sync settings", User: &u, Tenant: &t, Settings: &v, Notice: notices[r.URL.Query().Get("done")], CSRF: v.CSRF})
}

var notices = map[string]string{
	"saved":            "Your sync setup was saved. A confirmation e-mail is on its way, and a preview report will follow within a few minutes: approve it to start sync.",
	"connected":        "Google is connected.",
	"connected-partly": "Google is connected, but without some of the access you chose (you unticked it on Google's page): what it is for waits until you give it, below.",
	"disconnected":     "Google is disconnected: access was revoked and the token deleted.",
	"deleted":          "Your sync setup was deleted. Choose your options again to start over.",
	"confirmed":        "Confirmed: the next contact pass applies those deletions; it runs now.",
	"again":            "The message has its label back: your next mail pass posts it again, within a few minutes.",
}

func (h *Handler) saveSettings(w http.ResponseWriter, r *http.Request) {
	sess, u, t, ok := h.form(w, r)
	if !ok {
		return
	}
	set, err := setup.FromForm(r.PostForm, t)
	if err == nil {
		// A refused save keeps the page's user as stored (its header and
		// status), not Save's empty answer.
		var saved store.User
		if saved, err = h.Setup.Save(r.Context(), u.ID, set); err == nil {
			u = saved
		}
	}
	if err != nil {
		if wantsJSON(r) {
			h.fail(w, r, err, "")
			return
		}
		// Show the form again with what was typed and why it was refused.
		v := h.settingsData(r.Context(), sess, u, t)
		v.Settings = set
		p := page{Title: "Sync settings", User: &u, Tenant: &t, Settings: &v, CSRF: v.CSRF, Error: failure.Message(err)}
		if bad, ok := err.(setup.Invalid); ok {
			p.Fields, p.Error = bad, "The settings were not saved; see the marked fields."
		}
		h.render(w, statusOf(err), "settings", p)
		return
	}
	h.done(w, r, "/settings?done=saved", setup.StatusOf(t, u))
}

func (h *Handler) connect(w http.ResponseWriter, r *http.Request) {
	_, u, t, ok := h.form(w, r)
	if !ok {
		return
	}
	if t.AuthMode == store.AuthDelegation {
		h.fail(w, r, failure.Errorf("web: connect", failure.Invalid, "your firm gives this service access to Google for you (office-level impersonation); there is nothing to connect"), "")
		return
	}
	features := featureList(r.PostForm)
	if len(features) == 0 {
		features = setup.Of(u).Features()
	}
	begin := h.Flow.Begin
	if r.PostFormValue("incremental") == "1" {
		begin = h.Flow.AddAccess // only what is missing, keeping the rest
	}
	to, err := begin(r.Context(), u.ID, features)
	if err != nil {
		h.fail(w, r, err, connect.ResetSteps)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]string{"authorizationUrl": to})
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (h *Handler) connectDone(w http.ResponseWriter, r *http.Request) {
	sess, _, _, ok := h.session(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		h.Flow.Cancel(r.Context(), q.Get("state"))
		msg := "Google access was not granted."
		if e != "access_denied" {
			msg = "Google answered with an error (" + e + ")."
		}
		h.fail(w, r, failure.Errorf("web: connect", failure.Forbidden, "%s", msg), connect.ResetSteps)
		return
	}
	u, err := h.Flow.FinishFor(r.Context(), sess.Email, q.Get("state"), q.Get("code"))
	if err != nil {
		h.fail(w, r, err, connect.ResetSteps)
		return
	}
	if u.SyncState == store.Active {
		// A reconnect: renew the watch and catch up from the stored
		// cursors now, not at the next tick.
		if err := h.Setup.Approved(r.Context(), u); err != nil {
			h.Log.Warn("web: catching up after a reconnect waits for the next tick", "user", u.ID, "err", err)
		}
	}
	done := "connected"
	if len(u.Connection.Missing) > 0 {
		done = "connected-partly"
	}
	http.Redirect(w, r, h.path("/settings?done="+done), http.StatusSeeOther)
}

func (h *Handler) disconnect(w http.ResponseWriter, r *http.Request) {
	h.userAction(w, r, "/settings?done=disconnected", &confirmation{Title: "Disconnect Google?", Button: "Disconnect Google",
		Text: "Sync of your mail, contacts and calendar stops, and this service's access to your Google account is revoked at Google. Nothing is deleted in Google or in the CRM, and you can connect again at any time."}, func(ctx context.Context, u store.User, t store.Tenant) (store.User, error) {
		if t.AuthMode == store.AuthDelegation {
			return u, failure.Errorf("web: disconnect", failure.Invalid, "your firm gives this service access to Google for you; delete your sync setup to stop syncing")
		}
		u, err := h.Setup.Disconnect(ctx, u.ID)
		if err == nil {
			err = h.endOtherSessions(ctx, w, u.ID)
		}
		return u, err
	})
}

func (h *Handler) deleteSetup(w http.ResponseWriter, r *http.Request) {
	h.userAction(w, r, "/settings?done=deleted", &confirmation{Title: "Delete your sync setup?", Button: "Delete sync setup",
		Text: "Sync stops and every option goes back to its default; the next setup reads everything again. Your contacts, events and posted mail stay where they are: nothing is deleted in Google or in the CRM."}, func(ctx context.Context, u store.User, _ store.Tenant) (store.User, error) {
		u, err := h.Setup.Delete(ctx, u.ID)
		if err == nil {
			err = h.endOtherSessions(ctx, w, u.ID)
		}
		return u, err
	})
}

// endOtherSessions ends every session of the user but the one making the
// request, which gets a new cookie: disconnecting Google or deleting the
// setup is also the moment to shut out a stolen cookie.
func (h *Handler) endOtherSessions(ctx context.Context, w http.ResponseWriter, email string) error {
	if err := h.Setup.EndSessions(ctx, email); err != nil {
		return err
	}
	_, err := h.Sessions.Issue(w, email)
	return err
}

// postAgain puts the label back on one of the user's messages that failed
// or went unmatched: the next mail pass posts it again.
func (h *Handler) postAgain(w http.ResponseWriter, r *http.Request) {
	h.userAction(w, r, "/settings?done=again", nil, func(ctx context.Context, u store.User, _ store.Tenant) (store.User, error) {
		if h.Mail == nil {
			return u, failure.Errorf("web: post again", failure.Configuration, "posting again is not available here")
		}
		return u, h.Mail.PostAgain(ctx, u.Email, r.PostFormValue("message"))
	})
}

func (h *Handler) confirmDeletions(w http.ResponseWriter, r *http.Request) {
	// The settings page's button is itself the confirmation the guard asked for.
	h.userAction(w, r, "/settings?done=confirmed", nil, func(ctx context.Context, u store.User, _ store.Tenant) (store.User, error) {
		return h.Setup.ConfirmDeletions(ctx, u.ID)
	})
}

// userAction runs a form's action on the signed-in user and answers with
// the user's status.
func (h *Handler) userAction(w http.ResponseWriter, r *http.Request, doneTo string, confirm *confirmation, act func(context.Context, store.User, store.Tenant) (store.User, error)) {
	sess, u, t, ok := h.form(w, r)
	if !ok || !h.confirmed(w, r, sess, u, t, confirm) {
		return
	}
	u, err := act(r.Context(), u, t)
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	h.done(w, r, doneTo, setup.StatusOf(t, u))
}

// confirmation is the question a form that cannot be undone asks first.
type confirmation struct {
	Title, Text, Button string
	// Back is where Cancel goes ("" is the settings page).
	Back string
	// Fields are the posted fields the confirming form sends again.
	Fields map[string]string
}

// confirmed says whether the browser confirmed the action (confirm=yes,
// from the page this shows otherwise, with the form's fields and a
// Cancel). JSON callers confirm by calling.
func (h *Handler) confirmed(w http.ResponseWriter, r *http.Request, sess authn.Session, u store.User, t store.Tenant, c *confirmation) bool {
	if c == nil || wantsJSON(r) || r.PostFormValue("confirm") == "yes" {
		return true
	}
	c.Fields = map[string]string{}
	for k, v := range r.PostForm {
		if k != "csrf" && k != "confirm" && len(v) > 0 {
			c.Fields[k] = v[0]
		}
	}
	h.render(w, http.StatusOK, "confirm", page{Title: c.Title, User: &u, Tenant: &t, CSRF: h.Sessions.CSRF(sess), Confirm: c, Action: r.URL.Path})
	return false
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	_, u, t, ok := h.session(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, setup.StatusOf(t, u))
}

func (h *Handler) review(w http.ResponseWriter, r *http.Request) {
	sess, u, t, ok := h.session(w, r)
	if !ok {
		return
	}
	rv, err := h.Setup.ReviewQueue(r.Context(), u)
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, rv)
		return
	}
	h.render(w, http.StatusOK, "review", page{Title: "Review synced e-mail", User: &u, Tenant: &t, Review: &rv, CSRF: h.Sessions.CSRF(sess),
		Notice: map[string]string{"resolved": "Done: the e-mail is on the client you chose."}[r.URL.Query().Get("done")]})
}

func (h *Handler) resolve(w http.ResponseWriter, r *http.Request) {
	_, u, _, ok := h.form(w, r)
	if !ok {
		return
	}
	a, err := h.Setup.Resolve(r.Context(), u, r.PathValue("id"), r.PostFormValue("client"))
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	h.done(w, r, "/review?done=resolved", a)
}

// previewPage is what an Approve or Reject link opens: after sign-in, the
// preview's state and, while the user can still decide, a form with one
// button. GET never acts, because mail scanners open links.
func (h *Handler) previewPage(w http.ResponseWriter, r *http.Request) {
	action, ok := h.previewAction(w, r)
	if !ok {
		return
	}
	sess, u, t, ok := h.session(w, r)
	if !ok {
		return
	}
	id := r.URL.Query().Get("p")
	if _, err := h.Previews.Check(r.Context(), u, id); err != nil {
		h.fail(w, r, err, "")
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"action": action, "preview": id, "method": "POST"})
		return
	}
	h.render(w, http.StatusOK, "decide", page{Title: map[string]string{"approve": "Approve", "reject": "Reject"}[action] + " your sync setup", Action: action,
		Preview: id, User: &u, Tenant: &t, CSRF: h.Sessions.CSRF(sess)})
}

// previewAction is the link's action, approve or reject; anything else is
// answered as an unknown page.
func (h *Handler) previewAction(w http.ResponseWriter, r *http.Request) (string, bool) {
	action := r.PathValue("action")
	if action != "approve" && action != "reject" {
		h.notFound(w, r)
		return "", false
	}
	return action, true
}

// decide approves or rejects a preview for the signed-in user it belongs
// to (session and CSRF, like every other form).
func (h *Handler) decide(w http.ResponseWriter, r *http.Request) {
	action, ok := h.previewAction(w, r)
	if !ok {
		return
	}
	_, u, t, ok := h.form(w, r)
	if !ok {
		return
	}
	u, err := h.Previews.Decide(r.Context(), u.ID, r.PostFormValue("p"), action == "approve")
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	if action == "approve" {
		if err := h.Setup.Approved(r.Context(), u); err != nil {
			// Approved and stored; the scheduler's next tick starts sync.
			h.Log.Warn("web: first passes not published; the next tick runs them", "user", u.ID, "err", err)
		}
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"setup": u.SyncState, "decision": u.Decision})
		return
	}
	h.render(w, http.StatusOK, "decided", page{Title: "Sync setup " + string(u.Decision.State), Action: action, User: &u, Tenant: &t})
}
