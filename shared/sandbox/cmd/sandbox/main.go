// Command sandbox serves the whole product locally with a demo firm. Run it
// through scripts/dev.sh, which starts the emulators it needs first.
//
// Environment: the product's configuration (see package config) with
// CRMSYNC_ENV=sandbox, plus CRMSYNC_WEB_PORT (8080), CRMSYNC_GOOGLE_PORT
// (8090, the fake Google Workspace), CRMSYNC_CRM_PORT (8070, the reference
// CRM) and
// CRMSYNC_SANDBOX_STARTED_AT (Unix milliseconds the launcher began, for the
// start-up time shown).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/crmsync/crmsync/shared/config"
	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/sandbox"

	// Every function, registered with the Functions Framework by its init,
	// except CRMAPI: the sandbox serves the reference CRM on its own port.
	_ "github.com/crmsync/crmsync/functions/calendarpush"
	_ "github.com/crmsync/crmsync/functions/dispatch"
	_ "github.com/crmsync/crmsync/functions/gmailpush"
	_ "github.com/crmsync/crmsync/functions/health"
	_ "github.com/crmsync/crmsync/functions/jobs"
)

func main() {
	cfg, err := config.FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	r := config.NewReader(os.LookupEnv)
	port := r.Int("CRMSYNC_WEB_PORT", 8080, 1, 65535)
	googlePort := r.Int("CRMSYNC_GOOGLE_PORT", 8090, 1, 65535)
	crmPort := r.Int("CRMSYNC_CRM_PORT", 8070, 1, 65535)
	startedMs := r.Int("CRMSYNC_SANDBOX_STARTED_AT", 0, 0, 1<<62)
	if err := r.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// The Functions Framework serves one function at "/" when FUNCTION_TARGET
	// is set; the sandbox serves them all.
	os.Unsetenv("FUNCTION_TARGET")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := sandbox.Options{
		Config:     cfg,
		Host:       "127.0.0.1",
		WebPort:    port,
		GooglePort: googlePort,
		CRMPort:    crmPort,
		Log:        logging.New(os.Stderr, cfg.LogLevel, cfg.ProjectID),
		Out:        os.Stdout,
	}
	if startedMs > 0 {
		opts.StartedAt = time.UnixMilli(int64(startedMs))
	}
	if err := sandbox.Run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(1)
	}
}
