// Package failure gives errors a kind that callers decide on.
//
// Every error that crosses a package boundary in this product carries a Kind
// (transient, permanent, auth revoked, cursor expired, …) and names the call
// that failed, so that a function adapter can map it to "retry", "ack and
// record" or "mark the user disconnected" without string matching:
//
//	if err := svc.Pass(ctx, user); failure.Is(err, failure.Transient) {
//		return err // let Pub/Sub redeliver
//	}
//
// Errors are built with E and wrapped with %w as usual; KindOf walks the chain
// and returns the kind of the outermost *Error that has one.
package failure

import (
	"errors"
	"fmt"
)

// Kind classifies an error by what the caller should do about it.
type Kind int

const (
	// Other is an error nobody classified. Callers treat it like Transient
	// for retries but report it loudly.
	Other Kind = iota
	// Transient errors may succeed if retried: timeouts, 5xx, contention.
	Transient
	// Quota errors are rate limits (HTTP 429, Google's rateLimitExceeded):
	// retry later, after backing off.
	Quota
	// Permanent errors will fail the same way again for this item.
	Permanent
	// Invalid marks bad input from a caller: a malformed payload or field.
	Invalid
	// NotFound means the addressed thing does not exist.
	NotFound
	// Conflict means a precondition failed: a stale version or etag, an
	// existing key, a lease held by somebody else.
	Conflict
	// AuthRevoked means the user's grant no longer works (invalid_grant,
	// insufficient permissions): stop, mark the user disconnected.
	AuthRevoked
	// CursorExpired means an incremental sync cursor is too old (Gmail 404,
	// People EXPIRED_SYNC_TOKEN, Calendar 410): do a full resync.
	CursorExpired
	// Forbidden means the caller may not do this (office security, a
	// non-admin on an admin action).
	Forbidden
	// Unauthenticated means the caller did not prove who it is (no or an
	// expired session, a missing or wrong identity token).
	Unauthenticated
	// Configuration means the product's own setup is wrong, not the
	// user's grant: the OAuth client (invalid_client), the delegation
	// scopes the Admin console authorizes (unauthorized_client), the
	// identity that signs delegation assertions, the token-encryption key.
	// It never disconnects a user: an admin fixes it, and the work waits
	// for the fix (a later pass does it).
	Configuration
)

var kindNames = map[Kind]string{
	Other:           "other",
	Transient:       "transient",
	Quota:           "quota",
	Permanent:       "permanent",
	Invalid:         "invalid",
	NotFound:        "not found",
	Conflict:        "conflict",
	AuthRevoked:     "auth revoked",
	CursorExpired:   "cursor expired",
	Forbidden:       "forbidden",
	Unauthenticated: "unauthenticated",
	Configuration:   "configuration",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Retryable reports whether an error of this kind may succeed on a later try.
func (k Kind) Retryable() bool {
	return k == Transient || k == Quota || k == Other
}

// Error is an error with a kind and the name of the call that failed.
type Error struct {
	Op   string // the call that failed, e.g. "history.list" or "store: lease acquire"
	Kind Kind
	Err  error // the underlying error; may be nil
	// worded: Err is this product's own sentence (Errorf), not what a
	// library or a remote service answered.
	worded bool
}

func (e *Error) Error() string {
	switch {
	case e.Err == nil:
		return fmt.Sprintf("%s: %s", e.Op, e.Kind)
	case e.Op == "":
		return e.Err.Error()
	default:
		return fmt.Sprintf("%s: %v", e.Op, e.Err)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// E returns an error of the given kind naming the failed call op.
func E(op string, kind Kind, err error) error {
	return &Error{Op: op, Kind: kind, Err: err}
}

// Errorf is E with a formatted message as the underlying error.
func Errorf(op string, kind Kind, format string, args ...any) error {
	return &Error{Op: op, Kind: kind, Err: fmt.Errorf(format, args...), worded: true}
}

// Worded returns Message(err) when that is a sentence this product wrote
// (Errorf), and ok=false when it is what a library or a remote service
// answered: text to log, not to show a person.
func Worded(err error) (msg string, ok bool) {
	var inner *Error
	for e := err; e != nil; {
		var fe *Error
		if !errors.As(e, &fe) {
			break
		}
		inner, e = fe, fe.Err
	}
	if inner == nil || !inner.worded {
		return "", false
	}
	return inner.Err.Error(), true
}

// KindOf returns the kind of the outermost classified error in err's chain,
// or Other when none is classified. KindOf(nil) is Other.
func KindOf(err error) Kind {
	for err != nil {
		var fe *Error
		if !errors.As(err, &fe) {
			return Other
		}
		if fe.Kind != Other {
			return fe.Kind
		}
		err = fe.Err
	}
	return Other
}

// Is reports whether err has the given kind.
func Is(err error, kind Kind) bool {
	return err != nil && KindOf(err) == kind
}

// Message is what a person is shown of err: the innermost classified
// error's message, without the names of the calls it passed through
// (those stay in logs).
func Message(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	for err != nil {
		var fe *Error
		if !errors.As(err, &fe) {
			break
		}
		if fe.Err == nil {
			return msg
		}
		msg, err = fe.Err.Error(), fe.Err
	}
	return msg
}
