package restcrm_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/crm/restcrm"
)

// A CRM that serves docs/crm-api.md needs no Go code to work with the
// product: restcrm is the product's side of that contract. This CRM
// answers the lookup behind e-mail posting for the acting user it is told
// (X-CRM-User), as its office security allows, and refuses what it does
// not know with the API's error shape.
func Example() {
	yourCRM := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Header.Get("Authorization") != "Bearer the-sync-key":
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":{"code":401,"status":"UNAUTHENTICATED","message":"a valid API key is required"}}`)
		case r.URL.Path == "/v1/contacts" && r.Header.Get("X-CRM-User") == "u-ann":
			fmt.Fprintf(w, `{"contacts":[{"id":"c-1","type":"contact","firstName":"Carol","emails":[%q],"version":3}]}`, r.URL.Query().Get("email"))
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":{"code":404,"status":"NOT_FOUND","message":"no such route"}}`)
		}
	})
	srv := httptest.NewServer(yourCRM)
	defer srv.Close()

	var port crm.ContactFinder = restcrm.New(srv.URL+"/", "the-sync-key")
	found, err := port.FindContacts(context.Background(), "u-ann", "carol@client.test")
	fmt.Println(found[0].ID, found[0].FirstName, found[0].Emails, err)
	_, err = restcrm.New(srv.URL+"/", "a-wrong-key").FindContacts(context.Background(), "u-ann", "carol@client.test")
	fmt.Println(err)
	// Output:
	// c-1 Carol [carol@client.test] <nil>
	// restcrm: find contacts: HTTP 401: a valid API key is required
}
