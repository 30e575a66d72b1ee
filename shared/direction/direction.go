// Package direction is the one definition of a sync's direction: the
// values the settings store and the form offers, their words on the pages
// and in e-mail, and the planner's direction they mean (Google is side A
// and the CRM side B in both sync engines).
package direction

import (
	"fmt"

	"github.com/crmsync/crmsync/shared/twoway"
)

// Direction is a sync direction as stored ("" is Off: never chosen).
type Direction string

// The directions.
const (
	Off         Direction = "off"
	CRMToGoogle Direction = "crm-to-google"
	GoogleToCRM Direction = "google-to-crm"
	Both        Direction = "both"
)

// All lists the directions in the order the settings form offers them.
func All() []Direction { return []Direction{Off, CRMToGoogle, GoogleToCRM, Both} }

// Parse reads a stored direction; "" is Off.
func Parse(s string) (Direction, error) {
	switch d := Direction(s); d {
	case "":
		return Off, nil
	case Off, CRMToGoogle, GoogleToCRM, Both:
		return d, nil
	}
	return Off, fmt.Errorf("direction %q is not off, crm-to-google, google-to-crm or both", s)
}

// Text names the direction as the pages and e-mails do.
func (d Direction) Text() string {
	switch d {
	case CRMToGoogle:
		return "CRM to Google only"
	case GoogleToCRM:
		return "Google to CRM only"
	case Both:
		return "both ways"
	}
	return "do not sync"
}

// Flow is the planner's direction: Google is side A, the CRM side B.
func (d Direction) Flow() twoway.Direction {
	switch d {
	case CRMToGoogle:
		return twoway.BToA
	case GoogleToCRM:
		return twoway.AToB
	case Both:
		return twoway.Both
	}
	return twoway.Off
}
