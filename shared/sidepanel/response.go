package sidepanel

import (
	"encoding/json"

	cardpb "google.golang.org/genproto/googleapis/apps/card/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// Show is the answer to a trigger (the homepage, an opened message): the
// card, pushed.
func Show(card *cardpb.Card) ([]byte, error) {
	c, err := protojson.Marshal(card)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"action": map[string]any{"navigations": []any{map[string]json.RawMessage{"pushCard": c}}}})
}

// Update is the answer to a button: the card in place of the one shown,
// and a notification saying what was done.
func Update(card *cardpb.Card, note string) ([]byte, error) {
	c, err := protojson.Marshal(card)
	if err != nil {
		return nil, err
	}
	action := map[string]any{"navigations": []any{map[string]json.RawMessage{"updateCard": c}}}
	if note != "" {
		action["notification"] = map[string]string{"text": note}
	}
	return json.Marshal(map[string]any{"renderActions": map[string]any{"action": action}})
}

// Notify is an answer that only tells the user something (an error in
// words), leaving the card as it is.
func Notify(text string) ([]byte, error) {
	return json.Marshal(map[string]any{"renderActions": map[string]any{"action": map[string]any{"notification": map[string]string{"text": text}}}})
}

// Scopes are the add-on's OAuth scopes: run in Gmail, read the open
// message's headers, know the user's address. Nothing broader: posting
// uses the product's own access.
func Scopes() []string {
	return []string{"https://www.googleapis.com/auth/gmail.addons.execute",
		"https://www.googleapis.com/auth/gmail.addons.current.message.metadata",
		"https://www.googleapis.com/auth/userinfo.email"}
}

// Deployment is the add-on's deployment resource (the Google Workspace
// Add-ons API's Deployment: oauthScopes and addOns) for the SidePanel
// function at baseURL, under the firm's app name.
func Deployment(appName, logoURL, baseURL string) ([]byte, error) {
	return json.MarshalIndent(map[string]any{
		"oauthScopes": Scopes(),
		"addOns": map[string]any{
			"common": map[string]any{"name": appName, "logoUrl": logoURL,
				"homepageTrigger": map[string]string{"runFunction": baseURL + "/homepage"}},
			"gmail": map[string]any{"contextualTriggers": []any{map[string]any{
				"unconditional": map[string]any{}, "onTriggerFunction": baseURL + "/message"}}},
		},
	}, "", "  ")
}
