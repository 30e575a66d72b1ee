// Package crmapi is the CRMAPI function: the reference CRM's REST API
// (docs/crm-api.md) for firms that have no CRM of their own. Its data lives
// in the product's Firestore database under refcrm/{CRM_INSTANCE}; its API
// key is the crm-api-key secret.
//
//	GET /v1/contacts?email=carol@client.test   (Authorization: Bearer <key>)
package crmapi

import (
	"context"
	"net/http"
	"os"

	"cloud.google.com/go/firestore"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/failure"
	"github.com/crmsync/crmsync/shared/instance"
	"github.com/crmsync/crmsync/shared/secrets"
)

func init() {
	functions.HTTP("CRMAPI", instance.HTTP("CRMAPI", build))
}

// build opens the CRM's Firestore client and reads the API key; while
// either fails the function answers 503 and tries again.
func build(env *instance.Env) (http.Handler, error) {
	ctx := context.Background()
	key, err := env.Secrets.Secret(ctx, secrets.CRMAPIKey)
	if err != nil {
		return nil, err
	}
	if err := refcrm.CheckAPIKey(string(key)); err != nil {
		return nil, failure.Errorf("crmapi", failure.Permanent, "the %s secret: %v", secrets.CRMAPIKey, err)
	}
	fs, err := firestore.NewClientWithDatabase(ctx, env.Config.ProjectID, env.Config.FirestoreDatabase)
	if err != nil {
		return nil, failure.E("crmapi: firestore client", failure.Transient, err)
	}
	name := os.Getenv("CRM_INSTANCE")
	if name == "" {
		name = "default"
	}
	return refcrm.Handler(refcrm.New(fs, name, nil), string(key), env.Log), nil
}
