package fakegoogle

import (
	"strings"
	"testing"
)

// A fault on a method the fake does not serve would fault nothing: it
// panics with the name instead.
func TestSetFaultRefusesAnUnknownMethod(t *testing.T) {
	s := New(Options{})
	s.SetFault("gmail.users.messages.get", &Fault{Rate: 1}) // a real one is taken
	s.SetFault("*", nil)
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "people.connections.list") {
			t.Errorf("recovered %v, want a panic naming the method", r)
		}
	}()
	s.SetFault("people.connections.list", &Fault{Rate: 1})
}
