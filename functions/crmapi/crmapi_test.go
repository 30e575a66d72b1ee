package crmapi

import (
	"context"
	"testing"

	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/secrets"
)

// The CRMAPI function starts only with both keys set, each long enough,
// and different.
func TestKeys(t *testing.T) {
	const long, other = "a-key-of-at-least-thirty-two-characters", "another-key-of-thirty-two-characters"
	for name, c := range map[string]struct {
		vals map[string]string
		ok   bool
	}{
		"both":         {map[string]string{secrets.CRMAPIKey: long, secrets.CRMAdminKey: other}, true},
		"no admin key": {map[string]string{secrets.CRMAPIKey: long}, false},
		"a short key":  {map[string]string{secrets.CRMAPIKey: long, secrets.CRMAdminKey: "short"}, false},
		"the same key": {map[string]string{secrets.CRMAPIKey: long, secrets.CRMAdminKey: long}, false},
		"no sync key":  {map[string]string{secrets.CRMAdminKey: other}, false},
	} {
		src, _ := secrets.NewLocal("", func(k string) (string, bool) {
			for name, v := range c.vals {
				if secrets.EnvName(name) == k {
					return v, true
				}
			}
			return "", false
		})
		k, err := Keys(context.Background(), src)
		if (err == nil) != c.ok {
			t.Errorf("%s: %+v, %v", name, k, err)
		}
		if err != nil && failure.Is(err, failure.Configuration) && (k.Sync != "" || k.Admin != "") {
			t.Errorf("%s: keys returned with the error", name)
		}
	}
}
