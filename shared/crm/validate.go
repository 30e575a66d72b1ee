package crm

import (
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/crmsync/crmsync/shared/failure"
)

// invalid is a failure.Invalid error naming the field.
func invalid(op, field, format string, args ...any) error {
	return failure.Errorf(op, failure.Invalid, "%s: %s", field, fmt.Sprintf(format, args...))
}

// NormalizeEmail checks that s is one bare address (no display name) and
// returns it trimmed; the comparison form is strings.ToLower of it.
func NormalizeEmail(op, field, s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", invalid(op, field, "%q is not an e-mail address", s)
	}
	return s, nil
}

// ValidDate checks a YYYY-MM-DD date.
func ValidDate(op, field, s string) error {
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return invalid(op, field, "%q is not a date (YYYY-MM-DD)", s)
	}
	return nil
}

// CheckContact validates a contact's fields and normalizes its addresses.
func CheckContact(op string, c *Contact) error {
	if c.Type == "" {
		c.Type = TypeContact
	}
	if !c.Type.Valid() {
		return invalid(op, "type", "%q is not one of contact, advisor, dependent", c.Type)
	}
	if strings.TrimSpace(c.FirstName+c.LastName) == "" && len(c.Emails) == 0 {
		return invalid(op, "lastName", "a contact needs a name or an e-mail address")
	}
	seen := map[string]bool{}
	var emails []string
	for i, e := range c.Emails {
		n, err := NormalizeEmail(op, fmt.Sprintf("emails[%d]", i), e)
		if err != nil {
			return err
		}
		if !seen[strings.ToLower(n)] {
			seen[strings.ToLower(n)] = true
			emails = append(emails, n)
		}
	}
	c.Emails = emails
	if c.BirthDate != "" {
		if err := ValidDate(op, "birthDate", c.BirthDate); err != nil {
			return err
		}
	}
	return nil
}

// CheckEmail validates the content of a posted e-mail.
func CheckEmail(op string, e *Email, maxBytes int64) error {
	if e.Date.IsZero() {
		return invalid(op, "date", "required")
	}
	var total int64
	for i, a := range e.Attachments {
		if strings.TrimSpace(a.Filename) == "" {
			return invalid(op, fmt.Sprintf("attachments[%d].filename", i), "required")
		}
		if a.ContentType == "" {
			e.Attachments[i].ContentType = "application/octet-stream"
		}
		e.Attachments[i].Size = int64(len(a.Data))
		total += int64(len(a.Data))
	}
	total += int64(len(e.Text) + len(e.HTML))
	if maxBytes > 0 && total > maxBytes {
		return invalid(op, "attachments", "the note is %d bytes, over the limit of %d", total, maxBytes)
	}
	return nil
}

// CheckActivity validates a calendar activity's times.
func CheckActivity(op string, a *Activity) error {
	if a.Owner == "" {
		return invalid(op, "owner", "required")
	}
	if strings.TrimSpace(a.Title) == "" {
		return invalid(op, "title", "required")
	}
	switch {
	case a.StartDate != "" || a.EndDate != "":
		if !a.Start.IsZero() || !a.End.IsZero() {
			return invalid(op, "start", "an all-day activity has startDate and endDate, not start and end")
		}
		if err := ValidDate(op, "startDate", a.StartDate); err != nil {
			return err
		}
		if err := ValidDate(op, "endDate", a.EndDate); err != nil {
			return err
		}
		if a.EndDate <= a.StartDate {
			return invalid(op, "endDate", "must be after startDate (the end date is exclusive)")
		}
	default:
		if a.Start.IsZero() || a.End.IsZero() {
			return invalid(op, "start", "an activity needs start and end, or startDate and endDate")
		}
		if a.End.Before(a.Start) {
			return invalid(op, "end", "is before start")
		}
		if a.TimeZone == "" {
			a.TimeZone = "UTC"
		}
		if _, err := time.LoadLocation(a.TimeZone); err != nil {
			return invalid(op, "timeZone", "%q is not a time zone", a.TimeZone)
		}
	}
	for i, r := range a.Recurrence {
		name, _, _ := strings.Cut(r, ":")
		name, _, _ = strings.Cut(name, ";")
		switch strings.ToUpper(name) {
		case "RRULE", "RDATE", "EXDATE":
		default:
			return invalid(op, fmt.Sprintf("recurrence[%d]", i), "%q is not an RRULE, RDATE or EXDATE line", r)
		}
	}
	if a.SeriesID != "" && a.OriginalStart == "" {
		return invalid(op, "originalStart", "required for an exception to a series")
	}
	return nil
}
