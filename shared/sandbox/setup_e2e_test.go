package sandbox_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/crmsync/crmsync/shared/sandbox"
	"github.com/crmsync/crmsync/shared/store/storetest"
)

// browser starts headless Chromium for one test.
func browser(t *testing.T, ctx context.Context) (context.Context, func()) {
	storetest.RequireCommand(t, "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath("/usr/bin/chromium"), chromedp.NoSandbox,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.WindowSize(1200, 1800))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil { // starts the browser, on a context without a deadline
		cancel()
		cancelAlloc()
		t.Fatalf("starting Chromium: %v", err)
	}
	tctx, cancelTimeout := context.WithTimeout(bctx, 3*time.Minute)
	return tctx, func() { cancelTimeout(); cancel(); cancelAlloc() }
}

// pageFailer returns a function that fails the test with the step, the
// error and the page the browser shows.
func pageFailer(t *testing.T, tctx context.Context) func(step string, err error) {
	return func(step string, err error) {
		t.Helper()
		html, _ := chromedp.Run(tctx, chromedp.OuterHTML("body"))
		t.Fatalf("%s: %v\npage:\n%.4000s", step, err, html)
	}
}

// signInChromium signs email in on the Web function's pages through the
// fake Google's consent page, as a user does.
func signInChromium(tctx context.Context, parts sandbox.Parts, email string) error {
	return chromedp.Do(tctx,
		chromedp.Navigate(parts.WebURL+"/Web/"),
		chromedp.WaitVisible(`#email`),
		chromedp.SetValue(`#email`, email),
		chromedp.Click(`#signin`),
		chromedp.WaitVisible(`#allow`), // the fake Google's consent page
		chromedp.Click(`#allow`),
		chromedp.WaitVisible(`//h1[.="Google sync settings"]`),
	)
}

func artifact(t *testing.T, name string, b []byte) {
	dir := os.Getenv("CRMSYNC_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("saved %s (%d bytes)", path, len(b))
}

// waitForMail returns the id of the newest message to user from the
// system sender whose subject contains subject, newer than the ids in
// seen.
func waitForMail(t *testing.T, ctx context.Context, parts sandbox.Parts, user, subject string, seen map[string]bool) string {
	t.Helper()
	gm := gmailAs(t, parts, user)
	deadline := time.Now().Add(60 * time.Second)
	for {
		list, err := gm.Users.Messages.List("me").Q("from:" + sandbox.SystemSender).Do()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range list.Messages {
			if seen[m.Id] {
				continue
			}
			full, err := gm.Users.Messages.Get("me", m.Id).Format("metadata").MetadataHeaders("Subject").Do()
			if err != nil {
				t.Fatal(err)
			}
			if len(full.Payload.Headers) > 0 && strings.Contains(full.Payload.Headers[0].Value, subject) {
				seen[m.Id] = true
				return m.Id
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no e-mail %q reached %s within 60s", subject, user)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// A user's whole setup in a browser: sign in with Google, connect Google
// on the fake consent page, save settings, receive the confirmation and
// the preview report, approve it from the e-mail, and see sync active
// (and the first contact pass run at once). Then the same with Reject,
// which the admin's status page shows.
func setupInChromium(t *testing.T, ctx context.Context, parts sandbox.Parts) {
	tctx, stop := browser(t, ctx)
	defer stop()
	const cat = "cat@demo.test"
	web := parts.WebURL + "/Web"
	page := func(step string) {
		html, _ := chromedp.Run(tctx, chromedp.OuterHTML("body"))
		t.Fatalf("%s\npage:\n%.4000s", step, html)
	}
	signIn := func(email string) {
		if err := signInChromium(tctx, parts, email); err != nil {
			page("signing in as " + email + ": " + err.Error())
		}
	}
	signIn(cat)
	// Granular consent: Cat first unticks Gmail on Google's page. She is
	// connected, told that e-mail posting waits, and one click asks Google
	// for Gmail alone.
	gmailBox := `//input[@type="checkbox" and @value="https://www.googleapis.com/auth/gmail.modify"]`
	err := chromedp.Do(tctx,
		chromedp.WaitVisible(`//span[@id="connection" and contains(., "not connected")]`),
		chromedp.Click(`#connect`),
		chromedp.WaitVisible(`#allow`),
		chromedp.Click(gmailBox),
		chromedp.Click(`#allow`),
		chromedp.WaitVisible(`//span[@id="connection" and .="connected"]`),
		chromedp.WaitVisible(`//form[@id="needs-access"]//p[contains(., "Needs access to Gmail")]`),
		chromedp.Click(`#give-access`),
		chromedp.WaitVisible(`#allow`),
		chromedp.WaitNotPresent(`//input[@type="checkbox" and @value="https://www.googleapis.com/auth/contacts"]`),
		chromedp.Click(`#allow`),
		chromedp.WaitVisible(`//span[@id="connection" and .="connected"]`),
		chromedp.WaitNotPresent(`#needs-access`),
	)
	if err != nil {
		page("connecting Google, Gmail unticked and then given: " + err.Error())
	}
	err = chromedp.Do(tctx,
		chromedp.SetValue(`//select[@name="contacts.direction"]`, "both"),
		chromedp.SetValue(`//select[@name="calendar.direction"]`, "both"),
		chromedp.Click(`//input[@name="mail.enabled"]`),
		chromedp.Click(`#save`),
		chromedp.WaitVisible(`//p[@class="notice" and contains(., "saved")]`),
		chromedp.WaitVisible(`//span[@id="sync-state" and .="pending approval"]`),
	)
	if err != nil {
		page("saving settings: " + err.Error())
	}
	shot, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	artifact(t, "settings.png", shot)

	seen := map[string]bool{}
	waitForMail(t, ctx, parts, cat, "your sync setup was created", seen)
	previewID := waitForMail(t, ctx, parts, cat, "preview of your sync setup", seen)
	err = chromedp.Do(tctx,
		chromedp.Navigate(parts.WebURL+"/Console?mail="+url.QueryEscape(cat+"/"+previewID)),
		chromedp.WaitVisible(`//h1[.="Preview of your sync setup"]`),
		chromedp.WaitVisible(`//td[contains(., "Gina Green")]`), // Cat's Google contact, to be created in the CRM
		chromedp.WaitVisible(`//td[contains(., "Plan review with Frank")]`),
		chromedp.WaitVisible(`//li[contains(., "SmartOffice")]`),
	)
	if err != nil {
		page("the preview e-mail: " + err.Error())
	}
	shot, err = chromedp.Run(tctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	artifact(t, "preview-email.png", shot)
	err = chromedp.Do(tctx,
		chromedp.Click(`//a[.="Approve"]`),
		chromedp.WaitVisible(`//h1[.="Approve your sync setup"]`),
	)
	if err != nil {
		page("opening the Approve link: " + err.Error())
	}
	if axe := axeScriptOrEmpty(t); axe != "" {
		checkPage(t, tctx, axe, "approve")
		chromedp.Do(tctx, chromedp.EmulateViewport(1200, 1800))
	}
	err = chromedp.Do(tctx,
		chromedp.Click(`#confirm`),
		chromedp.WaitVisible(`//p[@id="outcome" and contains(., "Sync is active")]`),
		chromedp.Navigate(web+"/settings"),
		chromedp.WaitVisible(`//span[@id="sync-state" and .="active"]`),
	)
	if err != nil {
		page("approving: " + err.Error())
	}
	// Approval starts the first contact pass at once: Gina, only in Cat's
	// Google Contacts, reaches the CRM without a scheduler tick.
	deadline := time.Now().Add(60 * time.Second)
	for {
		found, err := parts.CRM.FindContacts(ctx, "", "gina@green.test")
		if err == nil && len(found) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Gina did not reach the CRM within 60s of approval: %v, %v", found, err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Reject: change a setting, save, reject the new preview.
	err = chromedp.Do(tctx,
		chromedp.Click(`//input[@name="calendar.documents"]`),
		chromedp.Click(`#save`),
		chromedp.WaitVisible(`//span[@id="sync-state" and .="pending approval"]`),
	)
	if err != nil {
		page("saving again: " + err.Error())
	}
	waitForMail(t, ctx, parts, cat, "your sync setup was changed", seen)
	second := waitForMail(t, ctx, parts, cat, "preview of your sync setup", seen)
	err = chromedp.Do(tctx,
		chromedp.Navigate(parts.WebURL+"/Console?mail="+url.QueryEscape(cat+"/"+second)),
		chromedp.Click(`//a[.="Reject"]`),
		chromedp.WaitVisible(`//h1[.="Reject your sync setup"]`),
		chromedp.Click(`#confirm`),
		chromedp.WaitVisible(`//p[@id="outcome" and contains(., "rejected")]`),
		chromedp.Navigate(web+"/settings"),
		chromedp.WaitVisible(`//span[@id="sync-state" and .="rejected"]`),
		chromedp.Click(`#signout`),
		chromedp.WaitVisible(`#email`),
	)
	if err != nil {
		page("rejecting: " + err.Error())
	}
	// The admin sees the rejection on the status page.
	signIn("ann@demo.test")
	err = chromedp.Do(tctx,
		chromedp.Navigate(web+"/admin"),
		chromedp.WaitVisible(`//tr[@id="user-`+cat+`"]//td[contains(., "preview rejected")]`),
	)
	if err != nil {
		page("the admin's status page: " + err.Error())
	}
}

// README's step 9: Bob has automatic mail sync. "From a contact of two
// clients" delivered to him on the console is filed on a guess; signed in
// as Bob at /Web/review, he approves it and the queue is empty again.
func reviewInChromium(t *testing.T, ctx context.Context, parts sandbox.Parts) {
	tctx, stop := browser(t, ctx)
	defer stop()
	page := pageFailer(t, tctx)
	const bob = "bob@demo.test"
	row := `//section[@id="user-` + bob + `"]//tr[contains(@data-subject, "Household and company accounts")]`
	err := chromedp.Do(tctx,
		chromedp.Navigate(parts.WebURL+"/Console"),
		chromedp.SetValue(`//select[@id="template-`+bob+`"]`, "two-clients"),
		chromedp.Click(`//button[@id="deliver-`+bob+`"]`),
		chromedp.WaitVisible(row),
	)
	if err != nil {
		page("delivering to Bob", err)
	}
	subject, err := chromedp.Run(tctx, chromedp.AttributeValue(row, "data-subject"))
	if err != nil || !subject.Exists {
		page("reading the delivered message's subject", err)
	}
	item := `//section[@data-subject="` + subject.Value + `"]`
	if err := signInChromium(tctx, parts, bob); err != nil {
		page("signing in as Bob", err)
	}
	// The message is filed by Bob's next mail pass (its push notification
	// or a sweep): reload the queue until it is there.
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := chromedp.Do(tctx, chromedp.Navigate(parts.WebURL+"/Web/review"), chromedp.WaitVisible(`//h1[.="Review synced e-mail"]`))
		if err != nil {
			page("opening the review queue", err)
		}
		n, err := chromedp.Run(tctx, chromedp.Evaluate[int](`document.evaluate('count(`+item+`)', document, null, XPathResult.NUMBER_TYPE, null).numberValue`))
		if err != nil {
			page("opening the review queue", err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			page("the message from Carol is not in Bob's review queue within 60s", nil)
		}
		time.Sleep(500 * time.Millisecond)
	}
	err = chromedp.Do(tctx,
		chromedp.Click(item+`//button[contains(@class, "approve")]`),
		chromedp.WaitNotPresent(item),
	)
	if err != nil {
		page("approving the guess", err)
	}
	shot, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	artifact(t, "review.png", shot)
}
