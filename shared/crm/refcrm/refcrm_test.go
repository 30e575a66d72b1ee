package refcrm_test

import (
	"testing"

	"github.com/crmsync/crmsync/shared/crm/crmtest"
	"github.com/crmsync/crmsync/shared/crm/refcrm"
	"github.com/crmsync/crmsync/shared/store/storetest"
)

func newStore(t *testing.T) *refcrm.Store {
	s := refcrm.New(storetest.Client(t), "test", nil)
	s.MaxNoteBytes = crmtest.MaxNoteBytes
	return s
}

func TestConformance(t *testing.T) {
	crmtest.Run(t, func(t *testing.T) crmtest.Subject { return newStore(t) })
}
