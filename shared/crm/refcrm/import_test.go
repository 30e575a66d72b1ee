package refcrm_test

import (
	"context"
	"testing"

	"github.com/crmsync/crmsync/shared/crm"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/failure"
)

func TestImportIsIdempotentAndChecksReferences(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	d := refcrm.Dataset{
		Sets:    []string{"VIP"},
		Clients: []refcrm.ImportClient{{Key: "smith", Name: "Smith household"}},
		Contacts: []refcrm.ImportContact{
			{Key: "carol", FirstName: "Carol", Emails: []string{"carol@client.test"}, Sets: []string{"VIP"}, Clients: []string{"smith"}},
			{Key: "ann", Type: crm.TypeAdvisor, FirstName: "Ann", Emails: []string{"ann@firm.test"}},
		},
		Records: []refcrm.ImportRecord{{Key: "p1", Type: crm.RecordPolicy, Contact: "carol", Title: "Life L-1"}},
		Users:   []refcrm.ImportUser{{Key: "ann", Email: "ann@firm.test", Contact: "ann", IntegrationEnabled: true}},
	}
	first, err := s.Import(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.Import(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if first.Contacts["carol"] != second.Contacts["carol"] || first.Sets["VIP"] != second.Sets["VIP"] || first.Records["p1"] != second.Records["p1"] {
		t.Errorf("re-import made new records: %+v then %+v", first, second)
	}
	carol, _ := s.FindContacts(ctx, "", "carol@client.test")
	if len(carol) != 1 || carol[0].ClientIDs[0] != first.Clients["smith"] || carol[0].Sets[0] != first.Sets["VIP"] {
		t.Fatalf("imported carol: %+v", carol)
	}
	u, err := s.UserByEmail(ctx, "ann@firm.test")
	if err != nil || u.ContactID != first.Contacts["ann"] || !u.IntegrationEnabled {
		t.Errorf("imported user %+v, %v", u, err)
	}
	bad := refcrm.Dataset{Contacts: []refcrm.ImportContact{{Key: "x", FirstName: "X", Clients: []string{"nobody"}}}}
	if _, err := s.Import(ctx, bad); failure.KindOf(err) != failure.Invalid {
		t.Errorf("a dangling reference: %v, want Invalid", err)
	}
}
