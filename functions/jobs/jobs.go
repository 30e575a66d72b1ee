// Package jobs is the Jobs function: Pub/Sub pushes each per-user job
// that Dispatch published (package jobs) and it runs the job. 204
// acknowledges (done, or a job that can never run); 503 asks for
// redelivery with backoff.
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/instance"
	"github.com/crmsync/crmsync/shared/jobs"
	"github.com/crmsync/crmsync/shared/mailbox"
	"github.com/crmsync/crmsync/shared/pubsubpush"
	"github.com/crmsync/crmsync/shared/wiring"
)

func init() {
	functions.HTTP("Jobs", instance.HTTP("Jobs", func(env *instance.Env) (http.Handler, error) {
		ctx := context.Background()
		mail, err := wiring.MailEngine(ctx, env, "jobs")
		if err != nil {
			return nil, err
		}
		contacts, err := wiring.ContactsEngine(ctx, env, "jobs")
		if err != nil {
			return nil, err
		}
		cal, err := wiring.CalendarEngine(ctx, env, "jobs")
		if err != nil {
			return nil, err
		}
		var previews jobs.Previews
		if p, err := wiring.Previews(ctx, env, "jobs"); err == nil {
			previews = p
		} else {
			// Every other job still runs; preview jobs wait (503) until
			// the configuration is fixed.
			env.Log.Error("jobs: previews are not configured", "err", err)
			previews = unavailablePreviews{err}
		}
		lost := wiring.Reconnect(ctx, env)
		return wiring.Guard(env, "Jobs", &Handler{Engines: jobs.Engines{Mail: mail, Contacts: contacts, Calendar: cal, Previews: previews,
			SystemMail: wiring.Sender(ctx, env), Access: lost}, Lost: mail.Lost, Log: env.Log})
	}))
}

// unavailablePreviews fails preview jobs with why they cannot run.
type unavailablePreviews struct{ err error }

func (u unavailablePreviews) Run(context.Context, string, int64) error {
	return failure.E("jobs: preview", failure.Transient, u.err)
}

// Handler serves pushed jobs.
type Handler struct {
	Engines jobs.Engines
	// Lost is told when a job finds the user's Google access gone, or
	// blocked by a configuration problem; the job is then acknowledged (no
	// retry storm: the next scheduled job does the work).
	Lost mailbox.LostAccess
	Log  *slog.Logger
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	pubsubpush.Serve(w, r, h.Log, "jobs", func(ctx context.Context, body []byte) error {
		j, err := jobs.Decode(body)
		if err != nil {
			return err
		}
		err = jobs.Run(ctx, j, h.Engines)
		if (failure.Is(err, failure.AuthRevoked) || failure.Is(err, failure.Configuration)) && h.Lost != nil {
			return h.Lost.Lost(ctx, j.User, err)
		}
		if err != nil {
			return fmt.Errorf("%s of %s: %w", j.Kind, j.User, err)
		}
		return nil
	})
}
