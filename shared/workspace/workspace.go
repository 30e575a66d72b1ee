// Package workspace builds the Google API clients (Gmail, People,
// Calendar) that act for one user, and classifies and retries their
// errors.
//
// A Factory gets each user's tokens from a TokenSourceFunc: Delegated for
// an office using domain-wide delegation of a service account (a JWT with
// the user as subject), or one built from the user's stored refresh token.
// Endpoint, when set, points every client at another server (the fake
// Google of the tests and the sandbox).
//
// Errors keep their googleapi details and gain a failure.Kind (Classify):
// Transient for 5xx and network trouble, Quota for 429 and Google's rate
// limit reasons, AuthRevoked for invalid_grant and lost scopes, NotFound,
// CursorExpired for People's EXPIRED_SYNC_TOKEN and Calendar's 410, Invalid
// for other 400s. Call retries Transient and Quota errors with exponential
// backoff and jitter, within a budget.
package workspace

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"
	gmail "google.golang.org/api/gmail/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	people "google.golang.org/api/people/v1"

	"github.com/crmsync/crmsync/shared/failure"
)

// TokenSourceFunc returns tokens that act as the user with these scopes.
type TokenSourceFunc func(ctx context.Context, email string, scopes []string) (oauth2.TokenSource, error)

// Factory builds API clients for users. The zero Endpoint means Google.
type Factory struct {
	Tokens TokenSourceFunc
	// Endpoint is the base URL of another server (e.g. the fake's URL).
	Endpoint string
	// HTTP carries the requests (its Transport is wrapped with the
	// user's tokens); nil means http.DefaultTransport with a 60 s timeout.
	HTTP *http.Client
}

// DelegationScopes are the scopes office-level impersonation needs: what
// a Workspace admin authorizes for the product's client in the Admin
// console.
func DelegationScopes() []string {
	s := slices.Concat(GmailScopes(), PeopleScopes(), CalendarScopes(), SendScopes())
	slices.Sort(s)
	return slices.Compact(s)
}

// GmailScopes are e-mail posting's scopes (a new slice each call).
func GmailScopes() []string { return []string{gmail.GmailModifyScope} }

// PeopleScopes are contact sync's scopes.
func PeopleScopes() []string { return []string{people.ContactsScope} }

// CalendarScopes are calendar sync's scopes.
func CalendarScopes() []string { return []string{calendar.CalendarScope} }

func (f *Factory) options(ctx context.Context, email string, scopes []string, path string) ([]option.ClientOption, error) {
	ts, err := f.Tokens(ctx, email, scopes)
	if err != nil {
		return nil, err
	}
	base := f.HTTP
	if base == nil {
		base = &http.Client{Timeout: 60 * time.Second}
	}
	transport := base.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	hc := &http.Client{Timeout: base.Timeout, Transport: &oauth2.Transport{Source: oauth2.ReuseTokenSource(nil, ts), Base: meteredTransport{transport}}}
	opts := []option.ClientOption{option.WithHTTPClient(hc)}
	if f.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(strings.TrimSuffix(f.Endpoint, "/")+path))
	}
	return opts, nil
}

// Gmail returns a Gmail client acting as email.
func (f *Factory) Gmail(ctx context.Context, email string) (*gmail.Service, error) {
	opts, err := f.options(ctx, email, GmailScopes(), "/")
	if err != nil {
		return nil, err
	}
	return gmail.NewService(ctx, opts...)
}

// SendScopes are the system sender's: sending and nothing else.
func SendScopes() []string { return []string{gmail.GmailSendScope} }

// GmailSender returns a Gmail client of email that may only send (the
// product's system sender mailbox).
func (f *Factory) GmailSender(ctx context.Context, email string) (*gmail.Service, error) {
	opts, err := f.options(ctx, email, SendScopes(), "/")
	if err != nil {
		return nil, err
	}
	return gmail.NewService(ctx, opts...)
}

// People returns a People client acting as email.
func (f *Factory) People(ctx context.Context, email string) (*people.Service, error) {
	opts, err := f.options(ctx, email, PeopleScopes(), "/")
	if err != nil {
		return nil, err
	}
	return people.NewService(ctx, opts...)
}

// Calendar returns a Calendar client acting as email.
func (f *Factory) Calendar(ctx context.Context, email string) (*calendar.Service, error) {
	opts, err := f.options(ctx, email, CalendarScopes(), "/calendar/v3/")
	if err != nil {
		return nil, err
	}
	return calendar.NewService(ctx, opts...)
}

// Classify gives an error of a Google API call its kind and names the call.
func Classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var fe *failure.Error
	if errors.As(err, &fe) {
		return err
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		code := re.ErrorCode
		if code == "" && strings.Contains(string(re.Body), "invalid_grant") {
			code = "invalid_grant"
		}
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		said := re.ErrorDescription + " " + string(re.Body)
		switch {
		// The client is unknown or its secret wrong; the client may not
		// use this grant, or (delegation) the Admin console does not
		// authorize it for these scopes. Ours to fix, not the user's.
		case code == "invalid_client":
			return failure.E(op, failure.Configuration, fmt.Errorf("the OAuth client was refused (invalid_client): check the client ID in the tenant and the oauth-client-secret secret: %w", err))
		case code == "unauthorized_client":
			return failure.E(op, failure.Configuration, fmt.Errorf("the client is not authorized for this grant or these scopes (unauthorized_client): for domain-wide delegation, authorize the delegation client ID for the scopes in the Admin console (Security › API controls › Domain-wide delegation): %w", err))
		// A delegation assertion Google refused for its signature, time or
		// audience: our signer or clock, not the user.
		case code == "invalid_grant" && strings.Contains(said, "Invalid JWT"):
			return failure.E(op, failure.Configuration, fmt.Errorf("the delegation assertion was refused by Google (its signature, time or audience): check the delegation service account and the clock: %w", err))
		case code == "invalid_grant", code == "access_denied":
			return failure.E(op, failure.AuthRevoked, err)
		case status == http.StatusTooManyRequests:
			return failure.E(op, failure.Quota, err)
		case status >= 500:
			return failure.E(op, failure.Transient, err)
		}
		return failure.E(op, failure.Other, err)
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		reason := ""
		if len(ge.Errors) > 0 {
			reason = ge.Errors[0].Reason
		}
		switch {
		// Usage limits answer 429, or 403 with these reasons (Gmail's and
		// Calendar's "Resolve errors" guides): a limit, not a permission.
		case ge.Code == 429, reason == "rateLimitExceeded", reason == "userRateLimitExceeded", reason == "quotaExceeded", reason == "dailyLimitExceeded":
			return failure.E(op, failure.Quota, err)
		case ge.Code >= 500:
			return failure.E(op, failure.Transient, err)
		case ge.Code == 401, reason == "insufficientPermissions", reason == "forbidden" && strings.Contains(ge.Message, "Delegation denied"):
			return failure.E(op, failure.AuthRevoked, err)
		case ge.Code == 410, ge.Code == 400 && strings.Contains(errorInfoReasons(ge), "EXPIRED_SYNC_TOKEN"):
			return failure.E(op, failure.CursorExpired, err)
		case ge.Code == 404:
			return failure.E(op, failure.NotFound, err)
		case ge.Code == 409:
			return failure.E(op, failure.Conflict, err)
		case ge.Code == 403:
			return failure.E(op, failure.Forbidden, err)
		case ge.Code == 400:
			return failure.E(op, failure.Invalid, err)
		}
		return failure.E(op, failure.Other, err)
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return failure.E(op, failure.Transient, err)
	}
	return failure.E(op, failure.Other, err)
}

func errorInfoReasons(ge *googleapi.Error) string {
	var b strings.Builder
	for _, d := range ge.Details {
		if m, ok := d.(map[string]any); ok {
			if r, ok := m["reason"].(string); ok {
				b.WriteString(r + " ")
			}
		}
	}
	return b.String()
}

// Retry is a retry budget for Google calls.
type Retry struct {
	// Attempts bounds tries per call (default 5).
	Attempts int
	// Base is the first backoff (default 250 ms); each retry doubles it,
	// with ±50% jitter, up to Max (default 8 s).
	Base, Max time.Duration
	// Sleep waits (default: a timer honouring ctx); tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (r Retry) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Call runs fn, retrying Transient and Quota errors within the budget, and
// returns its result or its last error, classified and named after op.
func Call[T any](ctx context.Context, r Retry, op string, fn func() (T, error)) (T, error) {
	attempts, base, maxWait := r.Attempts, r.Base, r.Max
	if attempts <= 0 {
		attempts = 5
	}
	if base <= 0 {
		base = 250 * time.Millisecond
	}
	if maxWait <= 0 {
		maxWait = 8 * time.Second
	}
	var zero T
	for n := 1; ; n++ {
		v, err := fn()
		if err == nil {
			return v, nil
		}
		err = Classify(op, err)
		if k := failure.KindOf(err); (k != failure.Transient && k != failure.Quota) || n >= attempts {
			return zero, err
		}
		d := min(base<<(n-1), maxWait)
		d = d/2 + time.Duration(rand.Int64N(int64(d)))
		if serr := r.sleep(ctx, d); serr != nil {
			return zero, failure.E(op, failure.Transient, errors.Join(serr, err))
		}
	}
}
