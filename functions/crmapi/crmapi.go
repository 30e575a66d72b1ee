// Package crmapi is the CRMAPI function: the reference CRM's REST API
// (docs/crm-api.md) for firms that have no CRM of their own. Its data lives
// in the product's Firestore database under refcrm/{CRM_INSTANCE}. Its
// keys are two secrets: crm-api-key, which the product's engines use and
// which acts only for a named CRM user, and crm-admin-key, the
// administrator's, for import, users and the integration right.
//
//	GET /v1/contacts?email=carol@client.test   (Authorization: Bearer <key>, X-CRM-User: <user id>)
package crmapi

import (
	"context"
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/instance"
	"github.com/crmsync/crmsync/shared/secrets"
)

func init() {
	functions.HTTP("CRMAPI", instance.HTTP("CRMAPI", build))
}

// build reads the two keys and serves the CRM over the instance's
// Firestore client; while a key is missing or too short the function
// answers 503 and tries again.
func build(env *instance.Env) (http.Handler, error) {
	keys, err := Keys(context.Background(), env.Secrets)
	if err != nil {
		return nil, err
	}
	return refcrm.Handler(refcrm.New(env.Store.Client(), env.Config.CRMInstance, env.Clock), keys, env.Log), nil
}

// Keys reads the CRM API's two keys: each long enough to be secret, and
// not the same.
func Keys(ctx context.Context, src secrets.Source) (refcrm.Keys, error) {
	var k refcrm.Keys
	for name, dst := range map[string]*string{secrets.CRMAPIKey: &k.Sync, secrets.CRMAdminKey: &k.Admin} {
		v, err := src.Secret(ctx, name)
		if err != nil {
			return refcrm.Keys{}, err
		}
		if err := refcrm.CheckAPIKey(string(v)); err != nil {
			return refcrm.Keys{}, failure.Errorf("crmapi", failure.Configuration, "the %s secret: %v", name, err)
		}
		*dst = string(v)
	}
	if k.Sync == k.Admin {
		return refcrm.Keys{}, failure.Errorf("crmapi", failure.Configuration, "%s and %s hold the same key; the admin key must be a different one", secrets.CRMAPIKey, secrets.CRMAdminKey)
	}
	return k, nil
}
