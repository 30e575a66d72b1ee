package sandbox_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/sandbox"
)

// The Gmail side panel in the sandbox, in Chromium: Ann opens a message
// from Carol that she has not labeled, posts it from the panel, then also
// to Carol's life policy (the linked-records prompt), and the CRM has the
// note on the policy. The panel is checked for accessibility too.
func sidePanelInChromium(t *testing.T, ctx context.Context, parts sandbox.Parts) {
	tctx, stop := browser(t, ctx)
	defer stop()
	fail := pageFailer(t, tctx)
	const ann = "ann@demo.test"
	user := `//section[@id="user-` + ann + `"]`
	err := chromedp.Do(tctx,
		chromedp.Navigate(parts.WebURL+"/Console"),
		chromedp.SetValue(`//select[@id="template-`+ann+`"]`, "client"),
		chromedp.Click(`//button[@id="deliver-`+ann+`"]`),
		chromedp.WaitVisible(user+`//tr[contains(@data-subject, "Portfolio review")][last()]//a[.="Open the side panel"]`),
		chromedp.Click(user+`//tr[contains(@data-subject, "Portfolio review")][last()]//a[.="Open the side panel"]`),
		chromedp.WaitVisible(`//div[@id="panel"]//p[.="Not posted"]`),
	)
	if err != nil {
		fail("opening the side panel of a new message from Carol", err)
	}
	if axe := axeScriptOrEmpty(t); axe != "" {
		checkPage(t, tctx, axe, "side-panel")
	}
	err = chromedp.Do(tctx,
		chromedp.Click(`//button[.="Post now"]`),
		chromedp.WaitVisible(`//p[@id="panel-note" and .="The message is posted."]`),
		chromedp.WaitVisible(`//div[@id="panel"]//a[contains(., "Carol Client")]`),
		chromedp.Click(`//label[contains(., "Life policy L-1001")]/input`),
		chromedp.Click(`//button[.="Post to the chosen records"]`),
		chromedp.WaitVisible(`//p[@id="panel-note" and .="Posted to 1 linked record(s)."]`),
	)
	if err != nil {
		fail("posting from the panel and to the policy", err)
	}
	shot, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	if err == nil {
		artifact(t, "side-panel.png", shot)
	}
	carol, err := parts.CRM.FindContacts(ctx, "", "carol@client.test")
	if err != nil || len(carol) != 1 {
		t.Fatalf("Carol in the CRM: %v, %v", carol, err)
	}
	recs, err := parts.CRM.Records(ctx, "", carol[0].ID)
	if err != nil || len(recs) != 1 {
		t.Fatalf("Carol's records: %v, %v", recs, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		notes, err := parts.CRM.Notes(ctx, "", carol[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(notes, func(n crm.Note) bool { return slices.Contains(n.Records, recs[0].ID) }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no note on the policy %s among Carol's notes %+v", recs[0].ID, notes)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
