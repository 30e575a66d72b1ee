package sandbox_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"
	gmail "google.golang.org/api/gmail/v1"
	"google.golang.org/api/option"
	people "google.golang.org/api/people/v1"

	// The functions the sandbox serves.
	_ "github.com/crmsync/crmsync/functions/calendarpush"
	_ "github.com/crmsync/crmsync/functions/dispatch"
	_ "github.com/crmsync/crmsync/functions/gmailpush"
	_ "github.com/crmsync/crmsync/functions/health"
	_ "github.com/crmsync/crmsync/functions/jobs"

	"github.com/crmsync/crmsync/shared/config"
	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/jobs"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/sandbox"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/store/storetest"
)

// The sandbox in this process, once: the functions' environments are built
// once per process, so every end-to-end check shares one sandbox.
func TestSandboxEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole sandbox")
	}
	fs := storetest.RequireEmulator(t, "FIRESTORE_EMULATOR_HOST")
	ps := storetest.RequireEmulator(t, "PUBSUB_EMULATOR_HOST")
	project := storetest.ProjectID(t)
	t.Setenv("GOOGLE_CLOUD_PROJECT", project)
	t.Setenv("CRMSYNC_ENV", "sandbox")
	t.Setenv("CRMSYNC_SECRET_CRM_API_KEY", "e2e-key")
	t.Setenv("FUNCTION_TARGET", "")
	for _, k := range []string{"CRM_URL", "GOOGLE_API_ENDPOINT", "GOOGLE_TOKEN_URL", "GOOGLE_AUTH_URL", "GOOGLE_REVOKE_URL", "GOOGLE_JWKS_URL", "CALENDAR_WEBHOOK_URL",
		"WEB_URL", "SYSTEM_SENDER", "CRMSYNC_SECRET_GOOGLE_DELEGATION_KEY", "CRMSYNC_SECRET_OAUTH_CLIENT_SECRET", "CRMSYNC_SECRET_TOKEN_ENCRYPTION_KEY", "CRMSYNC_SECRET_SIGNING_KEY", "CRMSYNC_SECRET_CRM_ADMIN_KEY"} {
		t.Setenv(k, "") // restored after the test; the sandbox sets them
	}
	cfg, err := config.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	logs := captureLogs(t)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan sandbox.Parts, 1)
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		done <- sandbox.Run(ctx, sandbox.Options{Config: cfg, Host: "127.0.0.1", WebPort: freePort(t), GooglePort: freePort(t), CRMPort: freePort(t),
			Log: logging.New(logs, cfg.LogLevel, project), Out: &out, OnReady: func(p sandbox.Parts) { ready <- p }})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	var parts sandbox.Parts
	select {
	case parts = <-ready:
	case err := <-done:
		t.Fatalf("sandbox stopped: %v (Firestore %s, Pub/Sub %s)", err, fs, ps)
	case <-time.After(90 * time.Second):
		t.Fatal("sandbox not ready within 90s")
	}

	// README's console steps, in order, first: the sandbox as a newcomer
	// finds it.
	if off := cfg.ClockOffset; off != 0 {
		t.Logf("the sandbox's clock is %v ahead: %s", off, parts.Clock.Now().Format(time.RFC3339))
	}
	t.Run("readme steps 1-7: the console in Chromium", func(t *testing.T) { consoleInChromium(t, ctx, parts) })
	t.Run("readme step 8: setup on the web pages in Chromium", func(t *testing.T) { setupInChromium(t, ctx, parts) })
	t.Run("readme step 9: review Bob's synced mail in Chromium", func(t *testing.T) { reviewInChromium(t, ctx, parts) })
	t.Run("the console after a newcomer signed up, in Chromium", func(t *testing.T) { consoleAfterSignUpInChromium(t, ctx, parts) })
	t.Run("the Gmail side panel posts to a linked record, in Chromium", func(t *testing.T) { sidePanelInChromium(t, ctx, parts) })
	t.Run("every page is accessible, on a laptop and a phone, in Chromium", func(t *testing.T) { accessibilityInChromium(t, ctx, parts) })
	t.Run("labeled mail flows through Pub/Sub to the CRM", func(t *testing.T) { labeledMail(t, ctx, parts, project, &out) })
	t.Run("contact sync through the scheduler", func(t *testing.T) { contactSync(t, ctx, parts) })
	t.Run("calendar sync through the scheduler", func(t *testing.T) { calendarSync(t, ctx, parts, project) })
	t.Run("automatic mail sync, review, lost access", func(t *testing.T) { autoMailSync(t, ctx, parts, project) })
	t.Run("a storm of redelivered notifications and shuffled jobs", func(t *testing.T) { redeliveryStorm(t, ctx, parts, project) })
	t.Run("logs carry no tokens, secrets, bodies or attachments", func(t *testing.T) {
		scanLogs(t, logs.String(), map[string]string{
			"a refresh token":          "1//fake-refresh-",
			"an access token":          "ya29.fake-",
			"an authorization code":    "4/fake-code-",
			"the token-encryption key": keyOf(os.Getenv("CRMSYNC_SECRET_TOKEN_ENCRYPTION_KEY")),
			"the signing key":          keyOf(os.Getenv("CRMSYNC_SECRET_SIGNING_KEY")),
			"the CRM admin key":        os.Getenv("CRMSYNC_SECRET_CRM_ADMIN_KEY"),
			"the OAuth client secret":  sandbox.OAuthClientSecret,
			"the CRM API key":          "e2e-key",
			"a private key":            "PRIVATE KEY",
			"a message body":           "Please call me",
			"another message body":     "E2E-BODY-MARKER",
			"a console body":           "The signed forms are attached",
			"the storm's body":         "Storm body",
			"attachment data":          "JVBERi0xLjQK",
		})
	})
}

// aYearAhead is the clock offset of TestSandboxEndToEndAYearAhead.
const aYearAhead = "8760h"

// The demo firm's whole end-to-end path again, with the sandbox's clock
// (every function's, the fake Google's, the reference CRM's) a year ahead
// of today: anything tied to a fixed date (demo data, fixtures, a window
// computed from the system clock) fails here the day it is written, not
// weeks later when that date has passed. The functions' environments are
// built once per process, so it runs TestSandboxEndToEnd in a child
// process with CRMSYNC_CLOCK_OFFSET set.
func TestSandboxEndToEndAYearAhead(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole sandbox")
	}
	if os.Getenv("CRMSYNC_CLOCK_OFFSET") != "" {
		t.Skip("this is the child: TestSandboxEndToEnd runs on the moved clock")
	}
	storetest.RequireEmulator(t, "FIRESTORE_EMULATOR_HOST")
	storetest.RequireEmulator(t, "PUBSUB_EMULATOR_HOST")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSandboxEndToEnd$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "CRMSYNC_CLOCK_OFFSET="+aYearAhead)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestSandboxEndToEnd ")) {
		// The child's own failures first (its log lines can bury them).
		var failures []string
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "--- FAIL") || (strings.Contains(line, "_test.go:") && !strings.Contains(line, `{"time"`)) {
				failures = append(failures, line)
			}
		}
		t.Fatalf("the end-to-end path a year ahead (CRMSYNC_CLOCK_OFFSET=%s) failed: %v\n%s\n\nthe end of its output:\n%s", aYearAhead, err,
			strings.Join(failures, "\n"), tail(out, 6000))
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "--- ") {
			t.Log(strings.TrimSpace(line))
		}
	}
}

// tail is the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// The whole path a user takes: mail arrives, the user adds the SmartOffice
// label in Gmail, Gmail's watch notification goes through the Pub/Sub
// emulator's push subscription to the GmailPush function, which posts the
// mail to the reference CRM and relabels it. Then a scheduler tick sweeps.
func labeledMail(t *testing.T, ctx context.Context, parts sandbox.Parts, project string, out *bytes.Buffer) {
	const ann = "ann@demo.test"
	gm := gmailAs(t, parts, ann)
	labels := labelsByName(t, gm)
	if labels["SmartOffice"] == "" || labels["SmartOfficePosted"] == "" {
		t.Fatalf("the demo user's labels were not made: %v", labels)
	}

	raw := "From: \"Carol Client\" <carol@client.test>\r\nTo: ann@demo.test\r\nSubject: E2E " + project + "\r\n\r\nPlease call me.\r\n"
	id, err := parts.Google.InsertMessage(ann, []byte(raw), []string{"INBOX"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := gm.Users.Messages.Modify("me", id, &gmail.ModifyMessageRequest{AddLabelIds: []string{labels["SmartOffice"]}}).Do(); err != nil {
		t.Fatal(err)
	}
	carol, err := parts.CRM.FindContacts(ctx, "", "carol@client.test")
	if err != nil || len(carol) != 1 {
		t.Fatalf("demo contact: %v, %v", carol, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, _ := parts.Google.MessageLabels(ann, id)
		if slices.Contains(got, labels["SmartOfficePosted"]) && !slices.Contains(got, labels["SmartOffice"]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the message was not relabeled Posted within 30s: labels %v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("labeled → Posted in %v through Pub/Sub", time.Since(start).Round(time.Millisecond))
	notes, err := parts.CRM.Notes(ctx, "", carol[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, n := range notes {
		if n.Subject == "E2E "+project && strings.Contains(n.Text, "Please call me") && n.GmailMessageID == id {
			found++
		}
	}
	if found != 1 {
		t.Errorf("%d notes for the message on Carol, want 1 (%d notes in all)", found, len(notes))
	}
	st, err := store.Open(ctx, project, "(default)", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// A scheduler tick leaves Ann out: her notifications flow (the pass
	// just now), so a sweep would spend quota on nothing.
	before, _ := st.Users().Get(ctx, "ann@demo.test")
	if err := sandbox.RunJob(ctx, parts.WebURL, "mail-sweep"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	// (A pass her own relabel's notification started may have run: it
	// records itself as pushed. A sweep would not.)
	if after, _ := st.Users().Get(ctx, "ann@demo.test"); !after.Passes["mail"].At.Equal(before.Passes["mail"].At) && !after.Passes["mail"].Pushed.Equal(after.Passes["mail"].At) {
		t.Errorf("a scheduled sweep ran for Ann while her notifications flow (pass at %v, then %+v)", before.Passes["mail"].At, after.Passes["mail"])
	}
	// Run now (the console's button): Dispatch publishes a mail sweep per
	// user, the jobs topic pushes each to the Jobs function, which sweeps
	// the mailbox.
	tick, began := parts.Clock.Now(), time.Now()
	if err := sandbox.RunJobNow(ctx, parts.WebURL, "mail-sweep"); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"ann@demo.test", "bob@demo.test"} {
		for {
			u, err := st.Users().Get(ctx, email)
			if err == nil && !u.Passes["mail"].At.Before(tick) {
				break
			}
			if time.Since(began) > 30*time.Second {
				t.Fatalf("%s was not swept within 30s of the tick", email)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !strings.Contains(out.String(), parts.CRMURL) {
		t.Errorf("banner lacks the CRM URL:\n%s", out.String())
	}
}

// A contact-sync tick links the people on both sides and copies the rest:
// Frank, only in the CRM, reaches Ann's Google Contacts; Carol and Dan, on
// both sides, are not duplicated anywhere.
func contactSync(t *testing.T, ctx context.Context, parts sandbox.Parts) {
	const ann = "ann@demo.test"
	if err := sandbox.RunJob(ctx, parts.WebURL, "contact-sync"); err != nil {
		t.Fatal(err)
	}
	ppl, err := people.NewService(ctx, option.WithEndpoint(parts.GoogleURL+"/"),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: parts.Google.Token(ann, fakegoogle.ScopeContacts)})))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := ppl.People.Connections.List("people/me").PersonFields("emailAddresses").Do()
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, p := range resp.Connections {
			for _, e := range p.EmailAddresses {
				count[strings.ToLower(e.Value)]++
			}
		}
		if count["frank@corp.test"] == 1 {
			if count["carol@client.test"] != 1 || count["dan@client.test"] != 1 {
				t.Errorf("Google contacts after sync: %v", count)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Frank did not reach Google within 30s: %v", count)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, addr := range []string{"carol@client.test", "dan@client.test"} {
		if cs, err := parts.CRM.FindContacts(ctx, "", addr); err != nil || len(cs) != 1 {
			t.Errorf("%s in the CRM: %d records, %v", addr, len(cs), err)
		}
	}
}

// A calendar-sync tick brings Ann's demo events to the CRM: the review with
// Carol has Carol as its primary contact, the weekly planning stays one
// series.
func calendarSync(t *testing.T, ctx context.Context, parts sandbox.Parts, project string) {
	if err := sandbox.RunJob(ctx, parts.WebURL, "calendar-sync"); err != nil {
		t.Fatal(err)
	}
	carol, _ := parts.CRM.FindContacts(ctx, "", "carol@client.test")
	deadline := time.Now().Add(30 * time.Second)
	for {
		acts, err := parts.CRM.ListActivities(ctx, "ann")
		if err != nil {
			t.Fatal(err)
		}
		byTitle := map[string][]crm.Activity{}
		for _, a := range acts {
			byTitle[a.Title] = append(byTitle[a.Title], a)
		}
		if r := byTitle["Portfolio review with Carol"]; len(r) == 1 {
			if len(carol) != 1 || r[0].PrimaryContact != carol[0].ID {
				t.Errorf("the review's primary contact: %q", r[0].PrimaryContact)
			}
			if w := byTitle["Weekly planning"]; len(w) != 1 || len(w[0].Recurrence) != 1 {
				t.Errorf("weekly planning in the CRM: %+v", w)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo events did not reach the CRM within 30s: %v", acts)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The pass opened a push channel (at its end, after the writes): a new
	// event in Google reaches the CRM through CalendarPush and the jobs
	// topic, without a scheduler tick.
	st, err := store.Open(ctx, project, "(default)", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for {
		u, err := st.Users().Get(ctx, "ann@demo.test")
		if err == nil && u.Calendar.Channel.ID != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no push channel within 30s of the pass")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cal, err := calendar.NewService(ctx, option.WithEndpoint(parts.GoogleURL+"/calendar/v3/"),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: parts.Google.Token("ann@demo.test", fakegoogle.ScopeCalendar)})))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	day := parts.Clock.Now().AddDate(0, 0, 2).UTC().Truncate(time.Hour)
	if _, err := cal.Events.Insert("primary", &calendar.Event{Summary: "Pushed meeting",
		Start: &calendar.EventDateTime{DateTime: day.Format(time.RFC3339), TimeZone: "UTC"},
		End:   &calendar.EventDateTime{DateTime: day.Add(time.Hour).Format(time.RFC3339), TimeZone: "UTC"}}).Do(); err != nil {
		t.Fatal(err)
	}
	for {
		acts, _ := parts.CRM.ListActivities(ctx, "ann")
		if slices.ContainsFunc(acts, func(a crm.Activity) bool { return a.Title == "Pushed meeting" }) {
			t.Logf("Google change → CRM activity through the push channel in %v", time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > 30*time.Second {
			t.Fatal("the pushed event did not reach the CRM within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// README's console steps 1 to 7, in order, on the sandbox as it starts: a
// newcomer's first minute. Deliver a demo message, add the label, see it
// turn Posted and its note appear on the contact; the other templates; a
// rename synced by "Run now"; an event moved in Google followed by its CRM
// activity (synced by the first calendar pass the sandbox runs at start);
// a job run now. A screenshot of the result is saved.
func consoleInChromium(t *testing.T, ctx context.Context, parts sandbox.Parts) {
	tctx, stop := browser(t, ctx)
	defer stop()
	page := pageFailer(t, tctx)

	const ann = "ann@demo.test"
	user := `//section[@id="user-` + ann + `"]`
	// deliver is step 1 for a template: the message appears in Ann's
	// mailbox; it returns the row's subject (numbered by the console).
	deliver := func(template, subject string) string {
		row := user + `//tr[contains(@data-subject, "` + subject + `")]`
		err := chromedp.Do(tctx,
			chromedp.Navigate(parts.WebURL+"/Console"),
			chromedp.WaitVisible(`//h1[contains(., "sandbox console")]`),
			chromedp.SetValue(`//select[@id="template-`+ann+`"]`, template),
			chromedp.Click(`//button[@id="deliver-`+ann+`"]`),
			chromedp.WaitVisible(row),
		)
		if err != nil {
			page("step 1, delivering "+template, err)
		}
		attr, err := chromedp.Run(tctx, chromedp.AttributeValue(row, "data-subject"))
		if err != nil || !attr.Exists {
			page("reading the delivered message's row", err)
		}
		return attr.Value
	}
	// label is step 2: Add SmartOffice label; then the message carries want.
	label := func(subject, want string) string {
		row := user + `//tr[@data-subject="` + subject + `"]`
		err := chromedp.Do(tctx,
			chromedp.Click(row+`//button[contains(., "Add SmartOffice label")]`),
			chromedp.WaitVisible(row+`//td[contains(., "`+want+`")]`),
		)
		if err != nil {
			page("step 2-3, labeling "+subject+" until "+want, err)
		}
		return row
	}

	// Steps 1-3.
	subject := deliver("attachment", "Signed forms")
	label(subject, "SmartOfficePosted")
	if err := chromedp.Do(tctx, chromedp.WaitVisible(`//tr[@data-contact="Carol Client"]//div[contains(., "`+subject+`") and contains(., "1 attachment")]`)); err != nil {
		page("step 3, the note on Carol", err)
	}
	// Step 4: the other templates.
	label(deliver("internal", "Team lunch"), "SmartOfficeFailed")
	label(deliver("bcc", "Confidential note"), "SmartOfficeUnmatched")

	// Step 5: rename Frank in the CRM, Run now on contact-sync: Ann's
	// Google Contacts show the new name.
	frank := `//tr[@data-contact="Frank Finance"]//form`
	err := chromedp.Do(tctx,
		chromedp.SetValue(frank+`//input[@name="given"]`, "Franklin"),
		chromedp.Click(frank+`//button`),
		chromedp.WaitVisible(`//tr[@data-contact="Franklin Finance"]`),
		chromedp.Click(`//button[@id="run-contact-sync"]`),
		chromedp.WaitVisible(user+`//tr[@data-person="Franklin Finance"]`),
	)
	if err != nil {
		page("step 5, renaming in the CRM and syncing", err)
	}

	// Step 6: the review with Carol is already in the CRM (the sandbox's
	// first calendar pass); moved an hour later in Google, the push channel
	// carries it to the CRM activity without a scheduler tick.
	actRow := user + `//tr[contains(@data-activity, "Portfolio review with Carol")]`
	if err := chromedp.Do(tctx, chromedp.WaitVisible(actRow)); err != nil {
		page("step 6, the review's CRM activity from the first calendar pass", err)
	}
	before, err := chromedp.Run(tctx, chromedp.AttributeValue(actRow, "data-activity"))
	if err != nil || !before.Exists {
		page("step 6, reading the review's CRM activity", err)
	}
	err = chromedp.Do(tctx,
		chromedp.Click(user+`//tr[@data-event="Portfolio review with Carol"]//button`),
		chromedp.WaitVisible(user+`//tr[contains(@data-activity, "Portfolio review with Carol") and @data-activity!="`+before.Value+`"]`),
	)
	if err != nil {
		page("step 6, moving an event", err)
	}

	// Step 7: "Run now" runs the mail sweep through Dispatch; every job's
	// next run is ahead.
	err = chromedp.Do(tctx,
		chromedp.Click(`//button[@id="run-mail-sweep"]`),
		chromedp.WaitVisible(`//tr[td[1][.="mail-sweep"] and not(td[2][.="not yet"])]`),
	)
	if err != nil {
		page("step 7, running the mail sweep from the console", err)
	}
	next, err := chromedp.Run(tctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("tr[data-job]")].map(r => r.dataset.next)`))
	if err != nil || len(next) != len(jobs.Kinds()) {
		page(fmt.Sprintf("reading the jobs' next runs (%v)", next), err)
	}
	for _, n := range next {
		if at, err := time.Parse(time.RFC3339, n); err != nil || !at.After(parts.Clock.Now()) {
			t.Errorf("a job's next run %q is not ahead of the sandbox's clock %v", n, parts.Clock.Now())
		}
	}
	shot, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	artifact(t, "console.png", shot)
}

// gmailAs is a demo user's own Gmail client on the fake, as they use
// Gmail (with a grant of their own, outside the product's).
func gmailAs(t *testing.T, parts sandbox.Parts, user string) *gmail.Service {
	t.Helper()
	gm, err := gmail.NewService(context.Background(), option.WithEndpoint(parts.GoogleURL+"/"),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: parts.Google.Token(user, fakegoogle.ScopeGmailModify)})))
	if err != nil {
		t.Fatal(err)
	}
	return gm
}

// labelsByName maps the user's Gmail label names to their ids.
func labelsByName(t *testing.T, gm *gmail.Service) map[string]string {
	t.Helper()
	ls, err := gm.Users.Labels.List("me").Do()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range ls.Labels {
		out[l.Name] = l.Id
	}
	return out
}

// keyOf is the key of a one-line keyring, as the logs could show it.
func keyOf(ring string) string {
	_, k, _ := strings.Cut(strings.TrimSpace(ring), ":")
	return k
}
