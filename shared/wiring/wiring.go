// Package wiring assembles the engines the functions run from a function
// instance's environment (configuration, store, secrets): the CRM client,
// the Google client factory with each tenant's way of acting for its
// users, and the engines over them.
package wiring

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"golang.org/x/oauth2"
	"google.golang.org/api/iamcredentials/v1"
	"google.golang.org/api/option"

	"github.com/crmsync/crmsync/shared/authn"
	"github.com/crmsync/crmsync/shared/calendarsync"
	"github.com/crmsync/crmsync/shared/config"
	"github.com/crmsync/crmsync/shared/connect"
	"github.com/crmsync/crmsync/shared/contactsync"
	"github.com/crmsync/crmsync/shared/crm/restcrm"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/instance"
	"github.com/crmsync/crmsync/shared/keyring"
	"github.com/crmsync/crmsync/shared/mailbox"
	"github.com/crmsync/crmsync/shared/notify"
	"github.com/crmsync/crmsync/shared/preview"
	"github.com/crmsync/crmsync/shared/reconnect"
	"github.com/crmsync/crmsync/shared/secrets"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/syncpass"
	"github.com/crmsync/crmsync/shared/tokencrypt"
	"github.com/crmsync/crmsync/shared/topology"
	"github.com/crmsync/crmsync/shared/workspace"
)

// CRM returns the client of the CRM at CRM_URL with the crm-api-key secret.
func CRM(ctx context.Context, env *instance.Env) (*restcrm.Client, error) {
	const op = "wiring: CRM"
	if env.Config.CRMURL == "" {
		return nil, failure.Errorf(op, failure.Permanent, "CRM_URL is not set (want the base URL of the CRM REST API)")
	}
	key, err := env.Secrets.Secret(ctx, secrets.CRMAPIKey)
	if err != nil {
		return nil, err
	}
	return restcrm.New(env.Config.CRMURL, string(key)), nil
}

// AdminCRM is CRM with the CRM's admin key as well, for the admin page's
// Give and Withdraw of the integration right (the Web function only).
func AdminCRM(ctx context.Context, env *instance.Env) (*restcrm.Client, error) {
	c, err := CRM(ctx, env)
	if err != nil {
		return nil, err
	}
	key, err := env.Secrets.Secret(ctx, secrets.CRMAdminKey)
	if err != nil {
		return nil, err
	}
	c.AdminKey = string(key)
	return c, nil
}

// Flow is the per-user Google connection of the environment: the OAuth
// client's secret and the token key from the secrets, Google's endpoints
// (or the fake's, outside production).
func Flow(ctx context.Context, env *instance.Env, redirectURL string) (*connect.Flow, error) {
	secret, err := env.Secrets.Secret(ctx, secrets.OAuthClientSecret)
	if err != nil {
		return nil, err
	}
	load := func(ctx context.Context) ([]byte, error) { return env.Secrets.Secret(ctx, secrets.TokenEncryptionKey) }
	box, err := tokencrypt.NewReloading(ctx, load, KeyringRefresh, env.Clock)
	if err != nil {
		return nil, err
	}
	f := &connect.Flow{Store: env.Store, Box: box, Log: env.Log, ClientSecret: string(secret), Endpoint: connect.DefaultEndpoint,
		RevokeURL: connect.GoogleRevokeURL, RedirectURL: redirectURL, Clock: env.Clock}
	if env.Config.GoogleAuthURL != "" {
		f.Endpoint.AuthURL = env.Config.GoogleAuthURL
	}
	if env.Config.GoogleTokenURL != "" {
		f.Endpoint.TokenURL = env.Config.GoogleTokenURL
	}
	if env.Config.GoogleRevokeURL != "" {
		f.RevokeURL = env.Config.GoogleRevokeURL
	}
	return f, nil
}

// Tokens acts for a user the way the user's tenant chose: domain-wide
// delegation (Delegation), or the user's own grant.
func Tokens(env *instance.Env) workspace.TokenSourceFunc {
	// The delegation's signer (an IAM Credentials client, or the parsed
	// key) and the OAuth flow (the client secret, the token key) are made
	// once they work, not for every client of every pass; a failure (a
	// secret not yet added, Secret Manager briefly away) is tried again on
	// the next call, never remembered for the instance's life.
	delegation := &lazy[workspace.TokenSourceFunc]{build: func(ctx context.Context) (workspace.TokenSourceFunc, error) { return Delegation(ctx, env) }}
	oauthFlow := &lazy[*connect.Flow]{build: func(ctx context.Context) (*connect.Flow, error) { return Flow(ctx, env, "") }}
	return func(ctx context.Context, email string, scopes []string) (oauth2.TokenSource, error) {
		const op = "wiring: Google tokens"
		u, err := env.Store.Users().Get(ctx, email)
		if err != nil {
			return nil, err
		}
		t, err := env.Store.Tenants().Get(ctx, u.TenantID)
		if err != nil {
			return nil, err
		}
		switch t.AuthMode {
		case store.AuthDelegation:
			tokens, err := delegation.get(ctx)
			if err != nil {
				return nil, err
			}
			return tokens(ctx, email, scopes)
		default:
			if u.Grant.SealedRefreshToken == "" {
				return nil, failure.Errorf(op, failure.AuthRevoked, "%s has no stored Google grant: the user connects Google on the settings page", email)
			}
			flow, err := oauthFlow.get(ctx)
			if err != nil {
				return nil, err
			}
			return flow.Tokens(ctx, u, t, scopes)
		}
	}
}

// Delegation acts for a firm's users through domain-wide delegation:
// keyless when DELEGATION_SERVICE_ACCOUNT is set (the function's own
// identity has IAM Credentials sign each assertion as that account, so no
// key exists; what production deploys), else with the JSON key in the
// google-delegation-key secret (the sandbox's fake service account).
func Delegation(ctx context.Context, env *instance.Env) (workspace.TokenSourceFunc, error) {
	if sa := env.Config.DelegationServiceAccount; sa != "" {
		var opts []option.ClientOption
		if env.Config.GoogleAPIEndpoint != "" {
			opts = append(opts, option.WithEndpoint(strings.TrimSuffix(env.Config.GoogleAPIEndpoint, "/")+"/"))
		}
		// The client outlives the request that made it.
		svc, err := iamcredentials.NewService(context.WithoutCancel(ctx), opts...)
		if err != nil {
			return nil, failure.E("wiring: IAM credentials client", failure.Transient, err)
		}
		return workspace.Keyless(sa, svc, env.Config.GoogleTokenURL, env.Clock), nil
	}
	key, err := env.Secrets.Secret(ctx, secrets.GoogleDelegationKey)
	if err != nil {
		return nil, err
	}
	return workspace.Delegated(key, env.Config.GoogleTokenURL, env.Clock), nil
}

// Google returns the factory of Google clients for the environment.
func Google(env *instance.Env) *workspace.Factory {
	return &workspace.Factory{Tokens: Tokens(env), Endpoint: env.Config.GoogleAPIEndpoint}
}

// TopicPublisher publishes to one Pub/Sub topic.
type TopicPublisher struct{ p *pubsub.Publisher }

// Publish sends a message; wait reports whether Pub/Sub accepted it.
func (t TopicPublisher) Publish(ctx context.Context, data []byte, attrs map[string]string) func() error {
	r := t.p.Publish(ctx, &pubsub.Message{Data: data, Attributes: attrs})
	return func() error {
		_, err := r.Get(ctx)
		return err
	}
}

// JobsPublisher publishes to the jobs topic of the environment's project
// (the emulator's when PUBSUB_EMULATOR_HOST is set).
func JobsPublisher(ctx context.Context, env *instance.Env) (TopicPublisher, error) {
	// One client and publisher per instance, whoever asks.
	p, err := env.Keep("jobs publisher", func() (any, error) {
		c, err := pubsub.NewClient(context.WithoutCancel(ctx), env.Config.ProjectID)
		if err != nil {
			return nil, failure.E("wiring: pubsub client", failure.Transient, err)
		}
		return TopicPublisher{p: c.Publisher(topology.TopicPath(env.Config.ProjectID, topology.JobsTopic))}, nil
	})
	if err != nil {
		return TopicPublisher{}, err
	}
	return p.(TopicPublisher), nil
}

// holder names one function instance in leases and claims.
func holder(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// ContactsEngine is the contact sync engine of a function instance.
func ContactsEngine(ctx context.Context, env *instance.Env, name string) (*contactsync.Engine, error) {
	c, err := CRM(ctx, env)
	if err != nil {
		return nil, err
	}
	return &contactsync.Engine{Deps: syncpass.Deps{Store: env.Store, Log: env.Log, Clock: env.Clock, Holder: holder(name)}, CRM: c, Google: Google(env)}, nil
}

// CalendarEngine is the calendar sync engine of a function instance.
func CalendarEngine(ctx context.Context, env *instance.Env, name string) (*calendarsync.Engine, error) {
	c, err := CRM(ctx, env)
	if err != nil {
		return nil, err
	}
	return &calendarsync.Engine{Deps: syncpass.Deps{Store: env.Store, Log: env.Log, Clock: env.Clock, Holder: holder(name)}, CRM: c, Google: Google(env), WebhookURL: env.Config.CalendarWebhookURL}, nil
}

// MailEngine is the e-mail posting engine of a function instance.
func MailEngine(ctx context.Context, env *instance.Env, name string) (*mailbox.Engine, error) {
	c, err := CRM(ctx, env)
	if err != nil {
		return nil, err
	}
	cfg := env.Config
	return &mailbox.Engine{Store: env.Store, CRM: c, Google: Google(env), Log: env.Log, Clock: env.Clock,
		Topic: topology.TopicPath(cfg.ProjectID, topology.GmailTopic), Holder: holder(name), Lost: Reconnect(ctx, env),
		UserUnitsPerMinute: cfg.GmailUserUnitsPerMinute, InstanceUnitsPerMinute: cfg.GmailProjectUnitsPerMinute / max(cfg.GmailInstances, 1)}, nil
}

// Reconnect handles users whose Google access is gone: marked
// disconnected, and one e-mail from the system sender.
func Reconnect(ctx context.Context, env *instance.Env) *reconnect.Handler {
	return &reconnect.Handler{Store: env.Store, Sender: Sender(ctx, env), Tokens: Tokens(env), WebURL: env.Config.WebURL, Clock: env.Clock, Log: env.Log}
}

// Sender is the system e-mail sender of the environment (see GmailSender);
// when it cannot be set up, a sender that fails with the reason, logged
// once here, so the function's other work goes on.
func Sender(ctx context.Context, env *instance.Env) *notify.Queue {
	var next notify.Sender
	s, err := GmailSender(ctx, env)
	if err != nil {
		env.Log.Error("system e-mail is not configured; setup confirmations, previews and reconnect requests wait in the outbox until it is", "err", err)
		next = notify.Unavailable{Err: err}
	} else {
		next = s
	}
	// What Gmail does not take now (its daily sending limit, an outage)
	// waits in the outbox for the system-mail job: nothing is lost.
	return &notify.Queue{Next: next, Store: env.Store, Clock: env.Clock, Log: env.Log}
}

// GmailSender is the SYSTEM_SENDER mailbox, acted for through domain-wide
// delegation (Delegation) with gmail.send
// only.
func GmailSender(ctx context.Context, env *instance.Env) (*notify.Gmail, error) {
	const op = "wiring: system sender"
	if env.Config.SystemSender == "" {
		return nil, failure.Errorf(op, failure.Permanent, "SYSTEM_SENDER is not set (want the mailbox that sends setup and reconnect e-mail)")
	}
	tokens, err := Delegation(ctx, env)
	if err != nil {
		return nil, err
	}
	f := &workspace.Factory{Tokens: tokens, Endpoint: env.Config.GoogleAPIEndpoint}
	return &notify.Gmail{Google: f, From: env.Config.SystemSender, Name: "CRM Sync", Now: env.Clock.Now}, nil
}

// SigningKeys is the keyring sessions and CSRF tokens are signed with:
// the signing-key secret, never the token-encryption key.
func SigningKeys(ctx context.Context, env *instance.Env) (*keyring.Ring, error) {
	v, err := env.Secrets.Secret(ctx, secrets.SigningKey)
	if err != nil {
		return nil, err
	}
	return keyring.Parse(secrets.SigningKey, v)
}

// KeyringRefresh is how often a token box reads its keyring again, so a
// rotation reaches running instances (Secret Manager values are cached as
// long again).
const KeyringRefresh = 5 * time.Minute

// Previews is the preview report service of a function instance.
func Previews(ctx context.Context, env *instance.Env, name string) (*preview.Service, error) {
	if env.Config.WebURL == "" {
		return nil, failure.Errorf("wiring: previews", failure.Permanent, "WEB_URL is not set (want the public URL of the Web function, for the Approve and Reject links)")
	}
	contacts, err := ContactsEngine(ctx, env, name)
	if err != nil {
		return nil, err
	}
	cal, err := CalendarEngine(ctx, env, name)
	if err != nil {
		return nil, err
	}
	sender := Sender(ctx, env)
	return &preview.Service{Store: env.Store, Contacts: contacts, Calendar: cal, Sender: sender, WebURL: env.Config.WebURL,
		Clock: env.Clock, Log: env.Log}, nil
}

// Guard puts the caller check of package authn in front of a push or
// scheduler endpoint when OIDC_AUDIENCES and OIDC_INVOKERS are set. In
// production they must be; the sandbox's Pub/Sub emulator sends no
// identity tokens, so outside production an unset pair leaves the
// endpoint open (and says so once).
func Guard(env *instance.Env, name string, h http.Handler) (http.Handler, error) {
	c := env.Config
	if len(c.OIDCAudiences) == 0 {
		if c.Env == config.Production {
			return nil, failure.Errorf("wiring: guard "+name, failure.Permanent,
				"OIDC_AUDIENCES and OIDC_INVOKERS are not set (want this function's URL and the service account of Pub/Sub push or Cloud Scheduler)")
		}
		env.Log.Info("the endpoint does not check callers' identity tokens outside production unless OIDC_AUDIENCES is set", "function", name)
		return h, nil
	}
	callers := &authn.Callers{Tokens: authn.NewIDTokens(context.Background(), c.GoogleJWKSURL, env.Clock), Audiences: c.OIDCAudiences,
		Emails: c.OIDCInvokers, CheckedByPlatform: c.OIDCCheckedByPlatform, Log: env.Log}
	return callers.Wrap(h), nil
}

// lazy builds a value on first use and keeps it once the build worked; a
// failed build is tried again on the next get. The build runs detached
// from the caller's cancellation: the value outlives the request.
type lazy[T any] struct {
	mu    sync.Mutex
	value T
	built bool
	build func(context.Context) (T, error)
}

func (l *lazy[T]) get(ctx context.Context) (T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.built {
		return l.value, nil
	}
	v, err := l.build(context.WithoutCancel(ctx))
	if err != nil {
		var zero T
		return zero, err
	}
	l.value, l.built = v, true
	return v, nil
}

// DelegationClientID is the client ID a Workspace admin authorizes for
// domain-wide delegation: the configured one, else the service account
// key's (keyless signing names no key); "" when neither is known.
func DelegationClientID(ctx context.Context, env *instance.Env) string {
	if id := env.Config.DelegationClientID; id != "" {
		return id
	}
	key, err := env.Secrets.Secret(ctx, secrets.GoogleDelegationKey)
	if err != nil {
		return ""
	}
	var k struct {
		ClientID string `json:"client_id"`
	}
	if json.Unmarshal(key, &k) != nil {
		return ""
	}
	return k.ClientID
}

// PushEngines are the mail and calendar engines of an instance that
// stops users' Gmail watches and Calendar channels (the Web function, the
// firm offboarding command).
func PushEngines(ctx context.Context, env *instance.Env, name string) (*mailbox.Engine, *calendarsync.Engine, error) {
	mail, err := MailEngine(ctx, env, name)
	if err != nil {
		return nil, nil, err
	}
	cal, err := CalendarEngine(ctx, env, name)
	if err != nil {
		return nil, nil, err
	}
	return mail, cal, nil
}
