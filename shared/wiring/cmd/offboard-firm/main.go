// Command offboard-firm removes a whole firm before its project is
// destroyed (docs/operations.md, "Offboarding"):
//
//	go run ./shared/wiring/cmd/offboard-firm -tenant acme -export acme-export.jsonl -yes
//
// First it writes everything the product keeps about the firm to the
// export file (JSON lines, one Firestore document a line, without
// credentials); then it offboards each user as the admin page does
// (Gmail watch and Calendar channel stopped, grant revoked at Google,
// state deleted); last the firm's own document. The CRM is not touched.
// Without -yes it only lists what it would remove.
//
// It runs with the functions' configuration in its environment
// (GOOGLE_CLOUD_PROJECT, CRMSYNC_ENV=production, CRM_URL, WEB_URL; see
// docs/deploy.md) and Application Default Credentials allowed to read the
// product's secrets and Firestore.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/crmsync/crmsync/shared/instance"
	"github.com/crmsync/crmsync/shared/setup"
	"github.com/crmsync/crmsync/shared/wiring"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], open, os.Stdout, os.Stderr))
}

// open builds the setup service from the product's configuration, as the
// Web function does.
func open(ctx context.Context) (*setup.Service, error) {
	env, err := instance.Load(ctx)
	if err != nil {
		return nil, err
	}
	flow, err := wiring.Flow(ctx, env, env.Config.WebURL+"/connect/callback")
	if err != nil {
		return nil, err
	}
	mail, cal, err := wiring.PushEngines(ctx, env, "offboard-firm")
	if err != nil {
		return nil, err
	}
	return &setup.Service{Store: env.Store, Flow: flow, Mail: mail, Calendar: cal, Clock: env.Clock, Log: env.Log}, nil
}

// run is the command with its arguments and dependencies; it returns the
// exit status.
func run(ctx context.Context, args []string, open func(context.Context) (*setup.Service, error), stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("offboard-firm", flag.ContinueOnError)
	flags.SetOutput(stderr)
	tenant := flags.String("tenant", "", "the firm's tenant ID (the admin page's firm)")
	export := flags.String("export", "", "the file to write the firm's state to first (JSON lines); it must not exist yet")
	yes := flags.Bool("yes", false, "remove; without it, only list what would be removed")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if *tenant == "" || *export == "" {
		fmt.Fprintln(stderr, "usage: offboard-firm -tenant TENANT -export FILE [-yes]")
		return 2
	}
	svc, err := open(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "offboard-firm: the product's configuration:", err)
		return 1
	}
	t, err := svc.Store.Tenants().Get(ctx, *tenant)
	if err != nil {
		fmt.Fprintf(stderr, "offboard-firm: firm %q: %v\n", *tenant, err)
		return 1
	}
	users, err := svc.Store.Users().ListByTenant(ctx, t.ID)
	if err != nil {
		fmt.Fprintln(stderr, "offboard-firm:", err)
		return 1
	}
	if !*yes {
		fmt.Fprintf(stdout, "%s (%s) has %d user(s); with -yes, their state is exported to %s, their Google access revoked and their state deleted:\n", t.Name, t.ID, len(users), *export)
		for _, u := range users {
			fmt.Fprintf(stdout, "  %s (%s)\n", u.Email, u.Connection.State)
		}
		return 0
	}
	f, err := os.OpenFile(*export, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		fmt.Fprintln(stderr, "offboard-firm: the export file:", err)
		return 1
	}
	res, err := svc.OffboardFirm(ctx, t, f)
	if cerr := f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("writing the export: %w", cerr)
	}
	report, _ := json.MarshalIndent(res, "", "  ")
	fmt.Fprintf(stdout, "%s\n", report)
	if err != nil {
		fmt.Fprintln(stderr, "offboard-firm: stopped:", err, "(what is done is listed above; run it again with another -export file to carry on)")
		return 1
	}
	fmt.Fprintf(stdout, "%s is removed: %d user(s) offboarded; its state is in %s\n", t.ID, len(res.Users), *export)
	return 0
}
