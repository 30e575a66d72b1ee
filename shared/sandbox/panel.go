package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	cardpb "google.golang.org/genproto/googleapis/apps/card/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/crmsync/crmsync/shared/fakegoogle"
)

// addOnProject is the sandbox project's number in the add-on identity
// Gmail signs the side panel's requests with.
const addOnProject = "100000000001"

// panelView is the side panel as the console shows it beside a message:
// the card the SidePanel function answered, in plain HTML.
type panelView struct {
	User, Message, Note, Error string
	Card                       *cardpb.Card
}

// showPanel opens the side panel for a message, as Gmail does when the
// user opens it (GET /Console?panel=user/id).
func (c *Console) showPanel(w http.ResponseWriter, r *http.Request) {
	user, id, _ := strings.Cut(r.URL.Query().Get("panel"), "/")
	c.renderPanel(w, user, id, "/message", nil, nil)
}

// panelAction presses a card's button, as Gmail does (POST /Console,
// action=panel): the button's parameters and the form's checkboxes go
// to the button's function in the event.
func (c *Console) panelAction(w http.ResponseWriter, r *http.Request) {
	user, id := r.PostForm.Get("user"), r.PostForm.Get("message")
	params, err := url.ParseQuery(r.PostForm.Get("params"))
	if err != nil {
		http.Error(w, "the button's parameters: "+err.Error(), http.StatusBadRequest)
		return
	}
	p := map[string]string{}
	for k := range params {
		p[k] = params.Get(k)
	}
	c.renderPanel(w, user, id, "/action", p, map[string][]string{"records": r.PostForm["records"]})
}

// renderPanel sends Gmail's event to the SidePanel function and shows
// the card it answers.
func (c *Console) renderPanel(w http.ResponseWriter, user, id, path string, params map[string]string, inputs map[string][]string) {
	v := panelView{User: user, Message: id}
	if !slices.ContainsFunc(c.Firm.Google.Users, func(u fakegoogle.User) bool { return u.Email == user }) {
		http.Error(w, "panel=user/id of a demo user's message", http.StatusBadRequest)
		return
	}
	endpoint := c.WebURL + "/SidePanel"
	e, bearer, err := c.Google.AddOnEvent(endpoint, addOnProject, user, id, params, inputs)
	if err == nil {
		v.Card, v.Note, err = postEvent(endpoint+path, e, bearer)
	}
	if err != nil {
		v.Error = err.Error()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := panelPage.Execute(w, v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// postEvent posts an add-on event and reads the answer: its card (pushed
// or updated) and notification.
func postEvent(to string, e fakegoogle.AddOnEvent, bearer string) (*cardpb.Card, string, error) {
	body, _ := json.Marshal(e)
	req, _ := http.NewRequest(http.MethodPost, to, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("the SidePanel function answered %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	var answer struct {
		Action        *renderAction `json:"action"`
		RenderActions *struct {
			Action *renderAction `json:"action"`
		} `json:"renderActions"`
	}
	if err := json.Unmarshal(b, &answer); err != nil {
		return nil, "", err
	}
	a := answer.Action
	if answer.RenderActions != nil {
		a = answer.RenderActions.Action
	}
	if a == nil {
		return nil, "", fmt.Errorf("the answer has no action: %s", b)
	}
	var raw json.RawMessage
	for _, n := range a.Navigations {
		if raw = n.PushCard; raw == nil {
			raw = n.UpdateCard
		}
	}
	var card *cardpb.Card
	if raw != nil {
		card = &cardpb.Card{}
		if err := protojson.Unmarshal(raw, card); err != nil {
			return nil, "", fmt.Errorf("the card is not google.apps.card.v1: %w", err)
		}
	}
	return card, a.Notification.Text, nil
}

type renderAction struct {
	Navigations []struct {
		PushCard   json.RawMessage `json:"pushCard"`
		UpdateCard json.RawMessage `json:"updateCard"`
	} `json:"navigations"`
	Notification struct {
		Text string `json:"text"`
	} `json:"notification"`
}

// params are a button's action parameters as a query string.
func params(a *cardpb.Action) string {
	v := url.Values{}
	for _, p := range a.GetParameters() {
		v.Set(p.Key, p.Value)
	}
	return v.Encode()
}

var panelPage = template.Must(template.New("panel").Funcs(template.FuncMap{"params": params, "html": func(s string) template.HTML {
	// Card text is the cards' HTML subset, escaped by the function.
	return template.HTML(s)
}}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Side panel — sandbox console</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:1rem;color:#222;max-width:26rem}
.panel{border:1px solid #ccc;border-radius:8px;padding:.8rem} h1{font-size:1.1rem;margin:0} .sub{color:#555;margin:0 0 .5rem}
section{border-top:1px solid #eee;padding:.5rem 0} h2{font-size:.95rem;margin:.2rem 0} .note{background:#e6f4ea;padding:.4rem;border-radius:4px}
.error{background:#fce8e6;padding:.4rem;border-radius:4px} .bottom{color:#555;font-size:.85rem} button{cursor:pointer;margin:.2rem .2rem 0 0}</style></head>
<body><main>
<p><a href="/Console">← Back to the console</a></p>
<p class="bottom">As Gmail shows the add-on beside message {{.Message}} of {{.User}}.</p>
{{with .Note}}<p class="note" role="status" id="panel-note">{{.}}</p>{{end}}
{{with .Error}}<p class="error" role="alert">{{.}}</p>{{end}}
{{with .Card}}<div class="panel" id="panel">
{{with .Header}}<h1>{{.Title}}</h1><p class="sub">{{.Subtitle}}</p>{{end}}
{{range .Sections}}<section><form method="post" action="/Console"><input type="hidden" name="action" value="panel"><input type="hidden" name="user" value="{{$.User}}"><input type="hidden" name="message" value="{{$.Message}}">
{{with .Header}}<h2>{{.}}</h2>{{end}}
{{range .Widgets}}{{with .GetTextParagraph}}<p>{{html .Text}}</p>{{end}}
{{with .GetDecoratedText}}<p>{{with .GetOnClick.GetOpenLink}}<a href="{{.Url}}">{{end}}{{.Text}}{{with .GetOnClick.GetOpenLink}}</a>{{end}}<br><span class="bottom">{{.BottomLabel}}</span></p>{{end}}
{{with .GetSelectionInput}}<fieldset><legend>{{.Label}}</legend>{{$n := .Name}}{{range .Items}}<label><input type="checkbox" name="{{$n}}" value="{{.Value}}"> {{.Text}}</label><br>{{end}}</fieldset>{{end}}
{{with .GetButtonList}}<p>{{range .Buttons}}{{with .GetOnClick.GetAction}}<button name="params" value="{{params .}}">{{end}}{{with .GetOnClick.GetOpenLink}}<a href="{{.Url}}">{{end}}{{.Text}}{{if .GetOnClick.GetAction}}</button>{{else}}</a>{{end}}{{end}}</p>{{end}}
{{end}}</form></section>{{end}}
</div>{{end}}
</main></body></html>`))
