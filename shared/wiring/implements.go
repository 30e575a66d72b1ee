package wiring

import (
	"github.com/crmsync/crmsync/shared/calendarsync"
	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/contactsync"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/crm/restcrm"
	"github.com/crmsync/crmsync/shared/jobs"
	"github.com/crmsync/crmsync/shared/mailbox"
	"github.com/crmsync/crmsync/shared/notify"
	"github.com/crmsync/crmsync/shared/preview"
	"github.com/crmsync/crmsync/shared/reconnect"
	"github.com/crmsync/crmsync/shared/secrets"
	"github.com/crmsync/crmsync/shared/setup"
	"github.com/crmsync/crmsync/shared/sidepanel"
	"github.com/crmsync/crmsync/shared/syncpass"
	"github.com/crmsync/crmsync/shared/workspace"
)

// The interfaces are small and defined where they are used; this is where
// they meet the types that implement them, checked when the package
// compiles rather than when a function first builds its handler.
var (
	_ jobs.Publisher = TopicPublisher{}
	_ jobs.Mail      = (*mailbox.Engine)(nil)
	_ jobs.Contacts  = (*contactsync.Engine)(nil)
	_ jobs.Calendar  = (*calendarsync.Engine)(nil)
	_ jobs.Outbox    = (*notify.Queue)(nil)
	_ jobs.Previews  = (*preview.Service)(nil)
	_ jobs.Access    = (*reconnect.Handler)(nil)

	_ notify.Sender       = (*notify.Gmail)(nil)
	_ notify.Sender       = (*notify.Queue)(nil)
	_ notify.GmailClients = (*workspace.Factory)(nil)

	_ mailbox.CRM         = (*restcrm.Client)(nil)
	_ mailbox.CRM         = (*refcrm.Store)(nil)
	_ mailbox.Gmail       = (*workspace.Factory)(nil)
	_ mailbox.LostAccess  = (*reconnect.Handler)(nil)
	_ contactsync.CRM     = (*restcrm.Client)(nil)
	_ contactsync.CRM     = (*refcrm.Store)(nil)
	_ contactsync.Google  = (*workspace.Factory)(nil)
	_ calendarsync.CRM    = (*restcrm.Client)(nil)
	_ calendarsync.CRM    = (*refcrm.Store)(nil)
	_ calendarsync.Google = (*workspace.Factory)(nil)
	_ setup.CRM           = (*restcrm.Client)(nil)
	_ setup.CRM           = (*refcrm.Store)(nil)
	_ setup.Stopper       = (*mailbox.Engine)(nil)
	_ setup.Stopper       = (*calendarsync.Engine)(nil)
	_ preview.Planner     = (*contactsync.Engine)(nil)
	_ preview.Planner     = (*calendarsync.Engine)(nil)
	_ secrets.Source      = (*secrets.SecretManager)(nil)
	_ secrets.Source      = (*secrets.Local)(nil)
	_ clock.Clock         = clock.Real{}
	_ clock.Clock         = clock.Offset{}
	_ clock.Clock         = (*clock.Fake)(nil)
	_ workspace.JWTSigner = (*workspace.KeySigner)(nil)
	_ workspace.JWTSigner = (*workspace.IAMSigner)(nil)

	_ syncpass.CRM     = (*restcrm.Client)(nil)
	_ syncpass.CRM     = (*refcrm.Store)(nil)
	_ sidepanel.Mail   = (*mailbox.Engine)(nil)
	_ sidepanel.CRM    = (*restcrm.Client)(nil)
	_ sidepanel.CRM    = (*refcrm.Store)(nil)
	_ sidepanel.Review = (*setup.Service)(nil)
	_ sidepanel.Sender = sidepanel.EventAccess{}
	_ setup.Google     = (*workspace.Factory)(nil)
)
