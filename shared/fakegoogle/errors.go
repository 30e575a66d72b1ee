package fakegoogle

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// apiError is an error answered in Google's JSON error shape:
//
//	{"error":{"code":404,"message":"…","status":"NOT_FOUND",
//	  "errors":[{"message":"…","domain":"global","reason":"notFound"}],
//	  "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"…","domain":"googleapis.com","metadata":{…}}]}}
//
// googleapi.Error in the Go clients decodes it, so callers see Code,
// Message, Errors[].Reason and Details exactly as in production.
type apiError struct {
	Code     int
	Message  string
	Status   string // google.rpc.Code name, e.g. NOT_FOUND
	Reason   string // legacy errors[].reason, e.g. notFound
	Domain   string // legacy errors[].domain, e.g. global
	Location string // errors[].location, e.g. Authorization
	LocType  string // errors[].locationType, e.g. header or parameter
	// InfoReason, when set, adds a google.rpc.ErrorInfo detail with this
	// reason (e.g. EXPIRED_SYNC_TOKEN, ACCESS_TOKEN_SCOPE_INSUFFICIENT).
	InfoReason string
	InfoDomain string
	Metadata   map[string]string
	// Header holds extra response headers (WWW-Authenticate, Retry-After).
	Header http.Header
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Code, e.Status, e.Message) }

type errorItem struct {
	Message      string `json:"message"`
	Domain       string `json:"domain"`
	Reason       string `json:"reason"`
	Location     string `json:"location,omitempty"`
	LocationType string `json:"locationType,omitempty"`
}

type errorDetail struct {
	Type     string            `json:"@type"`
	Reason   string            `json:"reason"`
	Domain   string            `json:"domain"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

type errorBody struct {
	Error struct {
		Code    int           `json:"code"`
		Message string        `json:"message"`
		Errors  []errorItem   `json:"errors,omitempty"`
		Status  string        `json:"status,omitempty"`
		Details []errorDetail `json:"details,omitempty"`
	} `json:"error"`
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	var b errorBody
	b.Error.Code, b.Error.Message, b.Error.Status = e.Code, e.Message, e.Status
	if e.Reason != "" {
		domain := e.Domain
		if domain == "" {
			domain = "global"
		}
		b.Error.Errors = []errorItem{{Message: e.Message, Domain: domain, Reason: e.Reason, Location: e.Location, LocationType: e.LocType}}
	}
	if e.InfoReason != "" {
		domain := e.InfoDomain
		if domain == "" {
			domain = "googleapis.com"
		}
		b.Error.Details = []errorDetail{{Type: "type.googleapis.com/google.rpc.ErrorInfo", Reason: e.InfoReason, Domain: domain, Metadata: e.Metadata}}
	}
	for k, vs := range e.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(e.Code)
	json.NewEncoder(w).Encode(b)
}

// Constructors for the errors Google's APIs answer, with their documented
// codes, statuses and reasons.

func errBadRequest(format string, args ...any) *apiError {
	return &apiError{Code: 400, Status: "INVALID_ARGUMENT", Reason: "badRequest", Message: fmt.Sprintf(format, args...)}
}

func errInvalidParam(param, format string, args ...any) *apiError {
	return &apiError{Code: 400, Status: "INVALID_ARGUMENT", Reason: "invalidArgument", Location: param, LocType: "parameter", Message: fmt.Sprintf(format, args...)}
}

func errFailedPrecondition(format string, args ...any) *apiError {
	return &apiError{Code: 400, Status: "FAILED_PRECONDITION", Reason: "failedPrecondition", Message: fmt.Sprintf(format, args...)}
}

func errNotFound() *apiError {
	return &apiError{Code: 404, Status: "NOT_FOUND", Reason: "notFound", Message: "Requested entity was not found."}
}

func errConflict(format string, args ...any) *apiError {
	return &apiError{Code: 409, Status: "ABORTED", Reason: "conflict", Message: fmt.Sprintf(format, args...)}
}

func errForbidden(format string, args ...any) *apiError {
	return &apiError{Code: 403, Status: "PERMISSION_DENIED", Reason: "forbidden", Message: fmt.Sprintf(format, args...)}
}

func errUnauthenticated(infoReason string) *apiError {
	return &apiError{
		Code:       401,
		Status:     "UNAUTHENTICATED",
		Reason:     "authError",
		Location:   "Authorization",
		LocType:    "header",
		Message:    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
		InfoReason: infoReason,
		Header:     http.Header{"Www-Authenticate": {`Bearer realm="https://accounts.google.com/", error="invalid_token"`}},
	}
}

func errInsufficientScopes(service, method string) *apiError {
	return &apiError{
		Code:       403,
		Status:     "PERMISSION_DENIED",
		Reason:     "insufficientPermissions",
		Message:    "Request had insufficient authentication scopes.",
		InfoReason: "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
		Metadata:   map[string]string{"service": service, "method": method},
		Header:     http.Header{"Www-Authenticate": {`Bearer realm="https://accounts.google.com/", error="insufficient_scope"`}},
	}
}

// errRateLimited is the answer of a user's spent quota. Gmail's and
// Calendar's "Resolve errors" guides
// (https://developers.google.com/workspace/gmail/api/guides/handle-errors,
// https://developers.google.com/workspace/calendar/api/guides/errors)
// document it as 403 usageLimits userRateLimitExceeded ("User Rate Limit
// Exceeded"; rateLimitExceeded for the project's limit), in the legacy
// shape without a status; newer front ends answer 429 RESOURCE_EXHAUSTED
// "Quota exceeded for quota metric …". code picks which (403 or 429).
func errRateLimited(service, method string, perUser bool, code int) *apiError {
	if code == 403 {
		reason, msg := "rateLimitExceeded", "Rate Limit Exceeded"
		if perUser {
			reason, msg = "userRateLimitExceeded", "User Rate Limit Exceeded"
		}
		return &apiError{Code: 403, Reason: reason, Domain: "usageLimits", Message: msg}
	}
	reason, msg := "rateLimitExceeded", "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service '"+service+"'."
	if perUser {
		reason = "userRateLimitExceeded"
	}
	return &apiError{
		Code:       429,
		Status:     "RESOURCE_EXHAUSTED",
		Reason:     reason,
		Domain:     "usageLimits",
		Message:    msg,
		InfoReason: "RATE_LIMIT_EXCEEDED",
		Metadata:   map[string]string{"service": service, "method": method, "quota_limit": "UserPerMinute"},
		Header:     http.Header{"Retry-After": {"1"}},
	}
}

// errServer is the error an injected fault answers with.
func errServer(code int) *apiError {
	switch code {
	case 403:
		// The usage-limit 403 of the "Resolve errors" guides: the
		// project's rate limit (a 403 that is not a permission problem).
		return &apiError{Code: 403, Reason: "rateLimitExceeded", Domain: "usageLimits", Message: "Rate Limit Exceeded"}
	case 429:
		return &apiError{Code: 429, Status: "RESOURCE_EXHAUSTED", Reason: "rateLimitExceeded", Domain: "usageLimits", Message: "Too many concurrent requests for user.", InfoReason: "RATE_LIMIT_EXCEEDED"}
	case 500:
		return &apiError{Code: 500, Status: "INTERNAL", Reason: "backendError", Message: "Internal error encountered."}
	case 502:
		return &apiError{Code: 502, Status: "UNAVAILABLE", Reason: "backendError", Message: "Bad Gateway"}
	case 503:
		return &apiError{Code: 503, Status: "UNAVAILABLE", Reason: "backendError", Message: "The service is currently unavailable."}
	case 504:
		return &apiError{Code: 504, Status: "DEADLINE_EXCEEDED", Reason: "backendError", Message: "The request timed out."}
	}
	return &apiError{Code: code, Status: "UNKNOWN", Reason: "backendError", Message: http.StatusText(code)}
}
