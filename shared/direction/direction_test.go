package direction

import (
	"testing"

	"github.com/crmsync/crmsync/shared/twoway"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]twoway.Direction{"": twoway.Off, "off": twoway.Off, "crm-to-google": twoway.BToA, "google-to-crm": twoway.AToB, "both": twoway.Both} {
		d, err := Parse(in)
		if err != nil || d.Flow() != want {
			t.Errorf("Parse(%q) = %v (%v), %v", in, d, d.Flow(), err)
		}
	}
	if _, err := Parse("sideways"); err == nil {
		t.Error("an unknown direction was accepted")
	}
	for _, d := range All() {
		if back, err := Parse(string(d)); err != nil || back != d || d.Text() == "" {
			t.Errorf("%q does not round-trip: %v, %v", d, back, err)
		}
	}
	if Off.Text() != "do not sync" || Both.Text() != "both ways" {
		t.Errorf("texts: %q %q", Off.Text(), Both.Text())
	}
}
