package fakegoogle_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	iamcredentials "google.golang.org/api/iamcredentials/v1"
	"google.golang.org/api/option"

	"github.com/crmsync/crmsync/shared/fakegoogle"
)

// signJwt as the IAM Credentials reference documents it
// (projects.serviceAccounts/signJwt): the caller needs the token creator
// role on the account (403 otherwise, the same for an account that does
// not exist), the name's project is "-", and an exp claim must be an
// integer no more than 12 hours ahead and not past. The signed JWT
// verifies with the account's key, under its keyId.
func TestSignJwtAsGoogleDocumentsIt(t *testing.T) {
	f := newFake(t, fakegoogle.Options{})
	const sa, caller = "deleg@p.iam.gserviceaccount.com", "fn@p.iam.gserviceaccount.com"
	if _, err := f.AddKeylessServiceAccount(sa); err != nil {
		t.Fatal(err)
	}
	svc, err := iamcredentials.NewService(context.Background(), option.WithEndpoint(f.URL()+"/"),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: f.IdentityToken(caller)})))
	if err != nil {
		t.Fatal(err)
	}
	sign := func(name, payload string) (*iamcredentials.SignJwtResponse, error) {
		return svc.Projects.ServiceAccounts.SignJwt(name, &iamcredentials.SignJwtRequest{Payload: payload}).Do()
	}
	now := t0.Unix()
	ok := fmt.Sprintf(`{"iss":%q,"sub":"ann@acme.test","iat":%d,"exp":%d}`, sa, now, now+3600)
	_, err = sign("projects/-/serviceAccounts/"+sa, ok)
	apiMessage(t, err, 403, "signJwt")
	_, err = sign("projects/-/serviceAccounts/nobody@p.iam.gserviceaccount.com", ok)
	apiMessage(t, err, 403, "signJwt")
	f.GrantTokenCreator(caller, sa)
	resp, err := sign("projects/-/serviceAccounts/"+sa, ok)
	if err != nil || resp.KeyId == "" {
		t.Fatalf("signJwt with the role: %+v, %v", resp, err)
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(resp.SignedJwt, jwt.MapClaims{})
	if err != nil || parsed.Header["kid"] != resp.KeyId || parsed.Claims.(jwt.MapClaims)["sub"] != "ann@acme.test" {
		t.Errorf("the signed JWT: %v, %v", parsed, err)
	}
	_, err = sign("projects/-/serviceAccounts/"+sa, fmt.Sprintf(`{"iss":%q,"exp":%d}`, sa, now+13*int64(time.Hour/time.Second)))
	apiMessage(t, err, 400, "12 hours")
	_, err = sign("projects/-/serviceAccounts/"+sa, fmt.Sprintf(`{"iss":%q,"exp":%d}`, sa, now-60))
	apiMessage(t, err, 400, "past")
	_, err = sign("projects/-/serviceAccounts/"+sa, "not json")
	apiMessage(t, err, 400, "JSON")
	_, err = sign("projects/p/serviceAccounts/"+sa, ok)
	apiMessage(t, err, 400, `"-"`)
}

// apiMessage checks an API error's code and that its message says what.
func apiMessage(t *testing.T, err error, code int, what string) {
	t.Helper()
	ge := apiErr(t, err, code, "")
	if !strings.Contains(ge.Message, what) {
		t.Errorf("message %q does not say %q", ge.Message, what)
	}
}
