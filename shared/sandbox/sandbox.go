// Package sandbox runs the whole product on one machine with a demo firm:
// the product's functions served by the Functions Framework, against the
// Firestore and Pub/Sub emulators, with the same Pub/Sub topics and push
// subscriptions as production pushing to the local functions.
//
// scripts/dev.sh starts the emulators and then the sandbox command
// (cmd/sandbox), which calls Run. Run seeds the demo firm (idempotently, so
// a restart keeps what the user did), applies the topology, serves, waits
// for the Health function to answer, and prints the URLs.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"github.com/crmsync/crmsync/functions/sidepanel"
	"github.com/crmsync/crmsync/functions/web"
	"github.com/crmsync/crmsync/shared/authn"
	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/config"
	"github.com/crmsync/crmsync/shared/connect"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/crm/restcrm"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/fakegoogle"
	"github.com/crmsync/crmsync/shared/instance"
	"github.com/crmsync/crmsync/shared/jobs"
	"github.com/crmsync/crmsync/shared/keyring"
	"github.com/crmsync/crmsync/shared/secrets"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/topology"
	"github.com/crmsync/crmsync/shared/wiring"
	"github.com/crmsync/crmsync/shared/workspace"
)

// Options configure a sandbox run.
type Options struct {
	// Config is the product configuration the functions also read; its
	// emulator hosts say where Firestore and Pub/Sub are.
	Config config.Config
	// Host is the interface to serve on, normally 127.0.0.1.
	Host string
	// WebPort serves every function at /<Name>.
	WebPort int
	// GooglePort serves the fake Google Workspace (Gmail, People, Calendar,
	// OAuth) with the demo firm's users.
	GooglePort int
	// CRMPort serves the reference CRM's REST API with the demo firm's data.
	CRMPort int
	// StartedAt is when the launcher began, for the start-up time shown.
	StartedAt time.Time
	Log       *slog.Logger
	// Out receives the banner with the URLs.
	Out io.Writer
	// OnReady, when set, is called once everything serves, with the
	// running parts (tests drive the sandbox through them).
	OnReady func(Parts)
}

// Parts are the running sandbox's pieces.
type Parts struct {
	Google            *fakegoogle.Server
	CRM               *refcrm.Store
	WebURL, GoogleURL string
	CRMURL            string
	// Clock is the sandbox's time: the system clock moved by
	// Config.ClockOffset.
	Clock clock.Clock
}

// Run brings the sandbox up and serves until ctx is done.
func Run(ctx context.Context, o Options) error {
	if o.Config.Env != config.Sandbox {
		return fmt.Errorf("sandbox: CRMSYNC_ENV is %q, want sandbox", o.Config.Env)
	}
	clk := clock.Of(o.Config.ClockOffset)
	// The demo firm's dates are relative to the sandbox's start.
	firm := DemoFirm(clk.Now())
	st, err := store.Open(ctx, o.Config.ProjectID, o.Config.FirestoreDatabase, clk)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := Seed(ctx, st, firm); err != nil {
		return err
	}

	webURL := fmt.Sprintf("http://%s:%d", o.Host, o.WebPort)
	ps, err := pubsub.NewClient(ctx, o.Config.ProjectID)
	if err != nil {
		return failure.E("sandbox: pubsub client", failure.Permanent, err)
	}
	defer ps.Close()
	if err := topology.Ensure(ctx, ps, o.Config.ProjectID, webURL, topology.Topics(), topology.Subscriptions()); err != nil {
		return err
	}

	// The fake Google Workspace: its watch notifications go to the Pub/Sub
	// emulator like Gmail's go to Pub/Sub.
	publisher := &fakegoogle.PubSubPublisher{Client: ps}
	defer publisher.Stop()
	google := fakegoogle.New(fakegoogle.Options{Publisher: publisher, Clock: clk})
	if err := google.LoadSeed(firm.Google); err != nil {
		return fmt.Errorf("sandbox: seeding the fake Google Workspace: %w", err)
	}
	googleURL, err := google.Listen(fmt.Sprintf("%s:%d", o.Host, o.GooglePort))
	if err != nil {
		return fmt.Errorf("sandbox: serving the fake Google Workspace: %w", err)
	}
	defer google.Close()

	// The reference CRM, in its own Firestore collections, behind the API
	// key the functions read from the secrets.
	sec, err := secrets.Open(ctx, o.Config)
	if err != nil {
		return err
	}
	key, err := sec.Secret(ctx, secrets.CRMAPIKey)
	if err != nil {
		return fmt.Errorf("sandbox: the reference CRM's API key: %w", err)
	}
	adminKey, err := sec.Secret(ctx, secrets.CRMAdminKey)
	if err != nil {
		// The CRM's admin key for this run (the Web function's admin page
		// and the console use it).
		adminKey = []byte("sandbox-admin-" + authn.RandomID(16))
		os.Setenv(secrets.EnvName(secrets.CRMAdminKey), string(adminKey))
	}
	crmFS, err := firestore.NewClientWithDatabase(ctx, o.Config.ProjectID, o.Config.FirestoreDatabase)
	if err != nil {
		return failure.E("sandbox: firestore client for the reference CRM", failure.Permanent, err)
	}
	defer crmFS.Close()
	crmStore := refcrm.New(crmFS, "demo", clk)
	if _, err := crmStore.Import(ctx, firm.CRM); err != nil {
		return fmt.Errorf("sandbox: seeding the reference CRM: %w", err)
	}
	crmURL := fmt.Sprintf("http://%s:%d", o.Host, o.CRMPort)
	crmServer := &http.Server{Addr: fmt.Sprintf("%s:%d", o.Host, o.CRMPort), Handler: refcrm.Handler(crmStore, refcrm.Keys{Sync: string(key), Admin: string(adminKey)}, o.Log), ReadHeaderTimeout: 10 * time.Second}
	crmServed := make(chan error, 1)
	go func() { crmServed <- crmServer.ListenAndServe() }()
	defer crmServer.Close()

	// The demo firm acts for its users through domain-wide delegation of
	// a service account of the fake Google; the functions find its key,
	// the CRM and the fake through their usual configuration, set here
	// for this process.
	saKey, saClientID, err := google.AddServiceAccount("crmsync-sandbox@" + o.Config.ProjectID + ".iam.gserviceaccount.com")
	if err != nil {
		return fmt.Errorf("sandbox: service account: %w", err)
	}
	google.AuthorizeDelegation(saClientID, slices.Concat(workspace.GmailScopes(), workspace.PeopleScopes(), workspace.CalendarScopes(), workspace.SendScopes())...)
	// The firm's OAuth client, for "Sign in with Google" and connecting
	// Google on the Web function's pages.
	google.AddClient(fakegoogle.OAuthClient{ID: OAuthClientID, Secret: OAuthClientSecret,
		RedirectURIs: []string{webURL + "/Web/auth/callback", webURL + "/Web/connect/callback"}})
	vars := map[string]string{
		secrets.EnvName(secrets.GoogleDelegationKey): string(saKey),
		secrets.EnvName(secrets.OAuthClientSecret):   OAuthClientSecret,
		"CRM_URL":              crmURL + "/",
		"GOOGLE_API_ENDPOINT":  googleURL,
		"GOOGLE_TOKEN_URL":     googleURL + "/token",
		"GOOGLE_AUTH_URL":      googleURL + "/o/oauth2/v2/auth",
		"GOOGLE_REVOKE_URL":    googleURL + "/revoke",
		"GOOGLE_JWKS_URL":      google.JWKSURL(),
		"CALENDAR_WEBHOOK_URL": webURL + "/CalendarPush",
		"WEB_URL":              webURL + "/Web",
		"SIDEPANEL_URL":        webURL + "/SidePanel",
		"CRM_CONTACT_URL":      webURL + "/Console#contact-%s",
		"SYSTEM_SENDER":        SystemSender,
	}
	for _, name := range []string{secrets.TokenEncryptionKey, secrets.SigningKey} {
		if _, err := sec.Secret(ctx, name); err != nil {
			// A keyring for this run: the emulators' data lives for the
			// run only.
			key, err := keyring.New("sandbox-1")
			if err != nil {
				return err
			}
			vars[secrets.EnvName(name)] = key.Line()
		}
	}
	for k, v := range vars {
		os.Setenv(k, v)
	}
	registerWeb.Do(func() {
		// The Functions Framework serves Web at /Web exactly; its pages
		// live below it.
		funcframework.RegisterHTTPFunctionContext(ctx, "/Web/", web.Serve)
		// In production the SidePanel function sees its paths (/message)
		// below its own URL; here they are below /SidePanel.
		funcframework.RegisterHTTPFunctionContext(ctx, "/SidePanel/", http.StripPrefix("/SidePanel", sidepanel.Serve).ServeHTTP)
	})

	served := make(chan error, 1)
	go func() { served <- funcframework.StartHostPort(o.Host, fmt.Sprint(o.WebPort)) }()
	if err := waitHealthy(ctx, webURL+"/Health", served); err != nil {
		return err
	}
	// Connect the demo users' mailboxes (labels and watch), and run the
	// jobs Cloud Scheduler runs in production.
	env, err := instance.Load(ctx)
	if err != nil {
		return fmt.Errorf("sandbox: the functions' environment: %w", err)
	}
	engine, err := wiring.MailEngine(ctx, env, "sandbox")
	if err != nil {
		return err
	}
	flow, err := wiring.Flow(ctx, env, webURL+"/Web/connect/callback")
	if err != nil {
		return err
	}
	for _, u := range firm.Users {
		if err := consent(ctx, flow, u.Email); err != nil {
			return fmt.Errorf("sandbox: connecting %s's Google account: %w", u.Email, err)
		}
		if err := engine.Connect(ctx, u.Email); err != nil {
			return fmt.Errorf("sandbox: connecting %s's mailbox: %w", u.Email, err)
		}
	}
	sched := newScheduler(productionPeriods(), func(ctx context.Context, kind string) error { return RunJob(ctx, webURL, kind) }, clk, o.Log)
	// The first contact and calendar passes run now, as they do in
	// production right after a setup is approved, so the demo users' data
	// is synced before anyone looks; then every job runs on its schedule.
	for _, kind := range []string{jobs.ContactSync, jobs.CalendarSync} {
		sched.ranNow(kind)
		if err := RunJob(ctx, webURL, kind); err != nil {
			return fmt.Errorf("sandbox: the first %s: %w", kind, err)
		}
	}
	sched.start(ctx)
	// The console is the operator's: it sees the CRM as the system user.
	crmClient := restcrm.New(crmURL+"/", string(adminKey))
	console.Store(&Console{Google: google, GoogleURL: googleURL, CRM: crmClient, Store: st, WebURL: webURL, Firm: firm, Jobs: sched, Clock: clk})
	defer console.Store(nil)
	printBanner(o, firm, webURL, googleURL, crmURL)
	if o.OnReady != nil {
		o.OnReady(Parts{Google: google, CRM: crmStore, WebURL: webURL, GoogleURL: googleURL, CRMURL: crmURL, Clock: clk})
	}
	o.Log.Info("sandbox ready", "url", webURL)

	select {
	case <-ctx.Done():
		return nil
	case err := <-served:
		return fmt.Errorf("sandbox: functions server stopped: %w", err)
	case err := <-crmServed:
		return fmt.Errorf("sandbox: reference CRM server stopped: %w", err)
	}
}

var registerWeb sync.Once

// consent connects a demo user's Google account the way the user does on
// the settings page: the consent page of the fake, Allow, the callback.
func consent(ctx context.Context, flow *connect.Flow, email string) error {
	authURL, err := flow.Begin(ctx, email, []connect.Feature{connect.Mail, connect.Contacts, connect.Calendar})
	if err != nil {
		return err
	}
	back, err := fakegoogle.Consent(authURL, email, true)
	if err != nil {
		return err
	}
	_, err = flow.Finish(ctx, back.Query().Get("state"), back.Query().Get("code"))
	return err
}

// RunJob calls the sandbox's Dispatch function with a job kind, as a
// Cloud Scheduler tick does.
func RunJob(ctx context.Context, webURL, kind string) error {
	return runJob(ctx, webURL, `{"kind":"`+kind+`"}`, kind)
}

// RunJobNow is RunJob as the console's Run now: for every eligible user,
// also those a scheduled run would leave out (a mail sweep while their
// notifications flow).
func RunJobNow(ctx context.Context, webURL, kind string) error {
	return runJob(ctx, webURL, `{"kind":"`+kind+`","now":true}`, kind)
}

func runJob(ctx context.Context, webURL, body, kind string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webURL+"/Dispatch", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("sandbox: Dispatch %s answered %d: %s", kind, resp.StatusCode, b)
	}
	return nil
}

func waitHealthy(ctx context.Context, url string, served <-chan error) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-served:
			return fmt.Errorf("sandbox: functions server failed to start: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("sandbox: the Health function did not answer 200 within 60s; see the log above")
		}
	}
}

func printBanner(o Options, firm Firm, webURL, googleURL, crmURL string) {
	w := o.Out
	fmt.Fprintf(w, "\nSandbox is up: demo firm %q (tenant %q), project %s\n\n", firm.Tenant.Name, firm.Tenant.ID, o.Config.ProjectID)
	fmt.Fprintf(w, "  Console             %s/Console   ← start here: deliver mail, label it, watch it post\n", webURL)
	fmt.Fprintf(w, "  Setup pages         %s/Web/   (sign in as cat@demo.test; ann@demo.test is the admin)\n", webURL)
	fmt.Fprintf(w, "  Functions           %s/<Name>\n", webURL)
	fmt.Fprintf(w, "  Health              %s/Health\n", webURL)
	fmt.Fprintf(w, "  Fake Google         %s  (Gmail, People, Calendar, OAuth)\n", googleURL)
	fmt.Fprintf(w, "  Reference CRM       %s/v1/  (API key from %s)\n", crmURL, secrets.EnvName(secrets.CRMAPIKey))
	fmt.Fprintf(w, "  Firestore emulator  %s\n", o.Config.FirestoreEmulatorHost)
	fmt.Fprintf(w, "  Pub/Sub emulator    %s  (topics: ", o.Config.PubSubEmulatorHost)
	for i, t := range topology.Topics() {
		if i > 0 {
			fmt.Fprint(w, ", ")
		}
		fmt.Fprint(w, t.Name)
	}
	fmt.Fprintln(w, ")")
	fmt.Fprint(w, "  Demo users          ")
	for i, u := range firm.Users {
		if i > 0 {
			fmt.Fprint(w, ", ")
		}
		fmt.Fprint(w, u.Email)
	}
	fmt.Fprintln(w)
	if !o.StartedAt.IsZero() {
		fmt.Fprintf(w, "\nReady in %.1fs. Press Ctrl-C to stop everything.\n\n", time.Since(o.StartedAt).Seconds())
	}
}
