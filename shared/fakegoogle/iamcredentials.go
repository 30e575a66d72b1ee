package fakegoogle

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The IAM Service Account Credentials API's signJwt
// (https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/signJwt):
// a caller holding roles/iam.serviceAccountTokenCreator on a service
// account has Google sign a JWT as it, with a key Google manages and nobody
// downloads. The product signs domain-wide delegation assertions this way,
// so no service-account key exists (secure-by-default organizations forbid
// creating one).

// signScopes allow signJwt (the method's discovery scopes).
var signScopes = []string{"https://www.googleapis.com/auth/cloud-platform", "https://www.googleapis.com/auth/iam"}

// AddKeylessServiceAccount adds a service account whose key only Google
// holds (no JSON key exists) and returns its client ID, which the
// Workspace admin authorizes for domain-wide delegation.
func (s *Server) AddKeylessServiceAccount(email string) (clientID string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	clientID = subjectID(email)
	sa := &serviceAccount{email: email, clientID: clientID, keyID: randomToken("")[:40], key: &key.PublicKey, private: key}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth.accounts[email] = sa
	return clientID, nil
}

// GrantTokenCreator gives caller (a service account's e-mail, the identity
// of a function) roles/iam.serviceAccountTokenCreator on the service
// account target, as the Terraform does.
func (s *Server) GrantTokenCreator(caller, target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oauth.tokenCreators == nil {
		s.oauth.tokenCreators = map[string][]string{}
	}
	if !slices.Contains(s.oauth.tokenCreators[target], caller) {
		s.oauth.tokenCreators[target] = append(s.oauth.tokenCreators[target], caller)
	}
}

// IdentityToken returns an access token of a service account's own
// identity with the cloud-platform scope, as a function's metadata server
// hands one to its code.
func (s *Server) IdentityToken(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.newGrantLocked(normalizeEmail(email), "metadata-server", signScopes[:1])
	tok, _ := s.issueLocked(g, signScopes[:1])
	return tok
}

func (s *Server) serveIAMCredentials() {
	s.mux.HandleFunc("POST /v1/projects/{project}/serviceAccounts/{account}", s.signJwt)
}

func (s *Server) signJwt(w http.ResponseWriter, r *http.Request) {
	account, ok := strings.CutSuffix(r.PathValue("account"), ":signJwt")
	if !ok {
		writeAPIError(w, &apiError{Code: 404, Status: "NOT_FOUND", Message: "Method not found."})
		return
	}
	if r.PathValue("project") != "-" {
		writeAPIError(w, &apiError{Code: 400, Status: "INVALID_ARGUMENT", Message: "The project must be \"-\": projects/-/serviceAccounts/{ACCOUNT}."})
		return
	}
	h := r.Header.Get("Authorization")
	s.mu.Lock()
	t := s.auth.tokens[strings.TrimPrefix(h, "Bearer ")]
	valid := strings.HasPrefix(h, "Bearer ") && t != nil && s.opts.Clock.Now().Before(t.expires) &&
		slices.ContainsFunc(t.scopes, func(sc string) bool { return slices.Contains(signScopes, sc) })
	var caller string
	if t != nil {
		caller = t.email
	}
	sa := s.oauth.accounts[account]
	allowed := sa != nil && sa.private != nil && slices.Contains(s.oauth.tokenCreators[account], caller)
	s.mu.Unlock()
	if !valid {
		writeAPIError(w, errUnauthenticated("ACCESS_TOKEN_TYPE_UNSUPPORTED"))
		return
	}
	if !allowed {
		// Google answers the same for a missing account and a missing grant.
		writeAPIError(w, &apiError{Code: 403, Status: "PERMISSION_DENIED", Reason: "forbidden",
			Message: "Permission 'iam.serviceAccounts.signJwt' denied on resource (or it may not exist).", InfoReason: "IAM_PERMISSION_DENIED", InfoDomain: "iam.googleapis.com"})
		return
	}
	var req struct {
		Payload   string   `json:"payload"`
		Delegates []string `json:"delegates"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	var claims jwt.MapClaims
	if err := dec.Decode(&req); err != nil || json.Unmarshal([]byte(req.Payload), &claims) != nil {
		writeAPIError(w, &apiError{Code: 400, Status: "INVALID_ARGUMENT", Message: "Invalid JWT payload: a serialized JSON object is required."})
		return
	}
	// "If the JWT Claims Set contains an expiration time (exp) claim, it
	// must be an integer timestamp that is not in the past and no more than
	// 12 hours in the future."
	if v, ok := claims["exp"]; ok {
		exp, isNum := v.(float64)
		now := s.opts.Clock.Now()
		if !isNum || exp != float64(int64(exp)) || time.Unix(int64(exp), 0).Before(now) || time.Unix(int64(exp), 0).After(now.Add(12*time.Hour)) {
			writeAPIError(w, &apiError{Code: 400, Status: "INVALID_ARGUMENT", Message: "Invalid JWT payload: exp must be an integer timestamp, not in the past and at most 12 hours ahead."})
			return
		}
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = sa.keyID
	signed, err := tok.SignedString(sa.private)
	if err != nil {
		writeAPIError(w, &apiError{Code: 500, Status: "INTERNAL", Message: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	json.NewEncoder(w).Encode(map[string]string{"keyId": sa.keyID, "signedJwt": signed})
}
