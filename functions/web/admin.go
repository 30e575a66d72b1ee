package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/setup"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/workspace"
)

// adminView is the admin page's data (and its JSON).
type adminView struct {
	Office setup.Office `json:"office"`
	// Delegation is what the Workspace admin authorizes in the Admin
	// console for office-level impersonation.
	Delegation struct {
		ClientID string   `json:"clientId"`
		Scopes   []string `json:"scopes"`
	} `json:"delegation"`
	setup.Roster
	// Problems are faults of the product's own configuration met in the
	// last week: nobody was disconnected for them; an admin fixes them.
	Problems []store.Problem `json:"problems"`
	// Waiting are system e-mails Gmail did not take yet (its daily
	// sending limit, an outage), sent by the system-mail job.
	Waiting []waitingMail `json:"waitingMail"`
	CSRF    string        `json:"csrf"`
}

// waitingMail is what the admin page shows of a queued system e-mail (not
// its body: it may carry a preview's approval link).
type waitingMail struct {
	To        string    `json:"to"`
	Subject   string    `json:"subject"`
	Attempts  int       `json:"attempts"`
	NextAt    time.Time `json:"nextAttempt"`
	LastError string    `json:"lastError"`
}

// problemWindow is how long a configuration problem stays on the admin
// page after it was last met.
const problemWindow = 7 * 24 * time.Hour

// adminSession is a form or page session of a tenant admin; anyone else
// gets 403.
func (h *Handler) adminOnly(w http.ResponseWriter, r *http.Request, u store.User, t store.Tenant) bool {
	if setup.IsAdmin(t, u.Email) {
		return true
	}
	h.fail(w, r, failure.Errorf("web: admin", failure.Forbidden, "only an administrator of %s may open this page", t.Name), "")
	return false
}

func (h *Handler) admin(w http.ResponseWriter, r *http.Request) {
	sess, u, t, ok := h.session(w, r)
	if !ok || !h.adminOnly(w, r, u, t) {
		return
	}
	v, err := h.adminData(r, t)
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	v.CSRF = h.Sessions.CSRF(sess)
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, v)
		return
	}
	h.render(w, http.StatusOK, "admin", page{Title: "Administration", User: &u, Tenant: &t, Admin: &v, CSRF: v.CSRF, Notice: adminNotices[r.URL.Query().Get("done")]})
}

var adminNotices = map[string]string{"office": "The office settings were saved.", "rights": "The user right was changed."}

// adminData is the admin page's data: the office settings, what to
// authorize for delegation, the firm's users (setup.Roster), the recent
// configuration problems and the system e-mail waiting to be sent.
func (h *Handler) adminData(r *http.Request, t store.Tenant) (adminView, error) {
	var v adminView
	v.Office = setup.OfficeOf(t)
	v.Delegation.ClientID, v.Delegation.Scopes = h.DelegationClientID, workspace.DelegationScopes()
	var err error
	if v.Roster, err = h.Setup.Roster(r.Context(), t, r.URL.Query().Get("q")); err != nil {
		return v, err
	}
	if v.Problems, err = h.Store.Problems().List(r.Context(), t.ID, h.Setup.Clock.Now().Add(-problemWindow)); err != nil {
		return v, err
	}
	queued, err := h.Store.Outbox().OfTenant(r.Context(), t.ID)
	if err != nil {
		return v, err
	}
	for _, m := range queued {
		v.Waiting = append(v.Waiting, waitingMail{To: m.To, Subject: m.Subject, Attempts: m.Attempts, NextAt: m.NextAt, LastError: m.LastError})
	}
	return v, nil
}

func (h *Handler) saveOffice(w http.ResponseWriter, r *http.Request) {
	sess, u, t, ok := h.form(w, r)
	if !ok || !h.adminOnly(w, r, u, t) {
		return
	}
	o, err := setup.OfficeFromForm(r.PostForm)
	if err == nil {
		t, err = h.Setup.SaveOffice(r.Context(), t.ID, o)
	}
	if err != nil {
		if wantsJSON(r) {
			h.fail(w, r, err, "")
			return
		}
		v, derr := h.adminData(r, t)
		if derr != nil {
			h.fail(w, r, derr, "")
			return
		}
		v.Office, v.CSRF = o, h.Sessions.CSRF(sess)
		p := page{Title: "Administration", User: &u, Tenant: &t, Admin: &v, CSRF: v.CSRF, Error: failure.Message(err)}
		if bad, ok := err.(setup.Invalid); ok {
			p.Fields, p.Error = bad, "The office settings were not saved; see the marked fields."
		}
		h.render(w, statusOf(err), "admin", p)
		return
	}
	h.done(w, r, "/admin?done=office", setup.OfficeOf(t))
}

func (h *Handler) setRight(w http.ResponseWriter, r *http.Request) {
	sess, u, t, ok := h.form(w, r)
	if !ok || !h.adminOnly(w, r, u, t) {
		return
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	enabled := r.PostFormValue("enabled") == "true"
	if !enabled && !h.confirmed(w, r, sess, u, t, &confirmation{Title: "Withdraw " + email + "'s right?", Button: "Withdraw the right", Back: "/admin",
		Text: "Their sync stops at the next pass and their sessions end at once. Nothing is deleted in Google or in the CRM; giving the right back resumes sync."}) {
		return
	}
	if err := h.Setup.SetRight(r.Context(), t, email, enabled); err != nil {
		h.fail(w, r, err, "")
		return
	}
	h.done(w, r, "/admin?done=rights", map[string]any{"email": email, "integrationRight": enabled})
}

// removeUser offboards a user who leaves the firm (asks first), and shows
// what was removed.
func (h *Handler) removeUser(w http.ResponseWriter, r *http.Request) {
	sess, u, t, ok := h.form(w, r)
	if !ok || !h.adminOnly(w, r, u, t) {
		return
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	if !h.confirmed(w, r, sess, u, t, &confirmation{Title: "Remove " + email + "?", Button: "Remove the user", Back: "/admin",
		Text: "For someone who left the firm: their Gmail watch and Calendar channel are stopped, their Google grant is revoked at Google, and everything this service keeps about them (settings, sync positions, link tables, the record of posted mail) is deleted. The CRM is not touched: their notes, contacts and activities stay. They can be set up again from scratch."}) {
		return
	}
	rep, err := h.Setup.Offboard(r.Context(), t, u.ID, email)
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, rep)
		return
	}
	h.render(w, http.StatusOK, "removed", page{Title: email + " was removed", User: &u, Tenant: &t, Removed: &rep})
}
