package contactsync

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/crmsync/crmsync/shared/direction"
	"github.com/crmsync/crmsync/shared/store"
	"github.com/crmsync/crmsync/shared/twoway"
)

// Options turns the stored options into the planner's.
func Options(c store.ContactsSetup) (twoway.Options, error) {
	var o twoway.Options
	d, err := direction.Parse(c.Direction)
	if err != nil {
		return o, fmt.Errorf("contactsync: %w", err)
	}
	o.Direction = d.Flow()
	switch c.OnGoogleDelete {
	case "", "delete":
		o.OnDeleteA = twoway.Propagate
	case "keep":
		o.OnDeleteA = twoway.Keep
	case "remove-from-set":
		if c.SetID == "" {
			return o, fmt.Errorf("contactsync: \"remove from set\" needs a synced set")
		}
		o.OnDeleteA = twoway.Detach
	default:
		return o, fmt.Errorf("contactsync: deletion option %q is not delete, keep or remove-from-set", c.OnGoogleDelete)
	}
	o.OnDeleteB = twoway.Propagate
	o.OneWay = map[string]twoway.Side{"birthday": twoway.B}
	o.MaxDeleteShare = c.MaxDeleteShare
	return o, nil
}

// AttentionPrefix starts the user's attention message when the
// mass-deletion guard stops a pass; the settings page offers to confirm.
const AttentionPrefix = "Contact sync stopped: "

// scopeKey names the synced scope (label, set, types) that the stored
// cursors were read under; it prefixes both cursors' values.
func scopeKey(c store.ContactsSetup) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%t\x00%t", strings.ToLower(c.Group), c.SetID, c.IncludeAdvisors, c.IncludeDependents)
	return fmt.Sprintf("scope-%x ", h.Sum64())
}
