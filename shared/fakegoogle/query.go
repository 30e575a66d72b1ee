package fakegoogle

import (
	"net/mail"
	"strconv"
	"strings"
	"time"
)

// gmailQuery is the subset of Gmail's search syntax the fake understands:
// label:NAME, in:inbox|sent|trash|spam|anywhere, is:unread|read|starred,
// from:ADDR, to:ADDR (To, Cc or Bcc), subject:WORD, after:/before:
// (YYYY/MM/DD or Unix seconds), newer_than:/older_than: (Nd, Nm, Ny), and
// plain words matched in the subject and snippet. Terms are ANDed;
// OR, braces and quotes are not supported.
type gmailQuery struct {
	terms    []queryTerm
	anywhere bool
}

type queryTerm struct {
	op, value string
	t         time.Time
}

func parseQuery(q string, now time.Time) (gmailQuery, error) {
	var out gmailQuery
	for _, f := range strings.Fields(q) {
		op, val, ok := strings.Cut(f, ":")
		if !ok {
			out.terms = append(out.terms, queryTerm{op: "word", value: strings.ToLower(f)})
			continue
		}
		op, val = strings.ToLower(op), strings.ToLower(val)
		term := queryTerm{op: op, value: val}
		switch op {
		case "label", "from", "to", "subject", "is":
		case "in":
			if val == "anywhere" {
				out.anywhere = true
			}
		case "after", "before":
			t, err := parseQueryDate(val)
			if err != nil {
				return out, errInvalidParam("q", "Invalid date in query: %s", f)
			}
			term.t = t
		case "newer_than", "older_than":
			d, err := parseQueryAge(val)
			if err != nil {
				return out, errInvalidParam("q", "Invalid age in query: %s", f)
			}
			term.t = now.Add(-d)
		default:
			term = queryTerm{op: "word", value: strings.ToLower(f)}
		}
		out.terms = append(out.terms, term)
	}
	return out, nil
}

func parseQueryDate(v string) (time.Time, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.ParseInLocation("2006/1/2", v, time.UTC)
}

func parseQueryAge(v string) (time.Duration, error) {
	if len(v) < 2 {
		return 0, strconv.ErrSyntax
	}
	n, err := strconv.Atoi(v[:len(v)-1])
	if err != nil {
		return 0, err
	}
	day := 24 * time.Hour
	switch v[len(v)-1] {
	case 'd':
		return time.Duration(n) * day, nil
	case 'm':
		return time.Duration(n) * 30 * day, nil
	case 'y':
		return time.Duration(n) * 365 * day, nil
	}
	return 0, strconv.ErrSyntax
}

// labelSearchName is how a label name is written in a query: lower case,
// spaces and slashes as dashes.
func labelSearchName(name string) string {
	return strings.NewReplacer(" ", "-", "/", "-").Replace(strings.ToLower(name))
}

func (q gmailQuery) match(m *message, mb *mailbox) bool {
	for _, t := range q.terms {
		if !t.match(m, mb) {
			return false
		}
	}
	return true
}

func (t queryTerm) match(m *message, mb *mailbox) bool {
	hs := m.payload.Headers
	date := time.UnixMilli(m.internalDate)
	switch t.op {
	case "label":
		for id := range m.labels {
			if l := mb.labels[id]; l != nil && (labelSearchName(l.Name) == t.value || strings.EqualFold(l.ID, t.value)) {
				return true
			}
		}
		return false
	case "in":
		switch t.value {
		case "anywhere":
			return true
		case "inbox", "sent", "trash", "spam", "draft":
			return m.labels[strings.ToUpper(t.value)]
		}
		return false
	case "is":
		switch t.value {
		case "unread":
			return m.labels["UNREAD"]
		case "read":
			return !m.labels["UNREAD"]
		case "starred":
			return m.labels["STARRED"]
		case "important":
			return m.labels["IMPORTANT"]
		}
		return false
	case "from":
		return addressesContain(headerValue(hs, "From"), t.value)
	case "to":
		return addressesContain(headerValue(hs, "To")+", "+headerValue(hs, "Cc")+", "+headerValue(hs, "Bcc"), t.value)
	case "subject":
		return strings.Contains(strings.ToLower(decodeWords(headerValue(hs, "Subject"))), t.value)
	case "after", "newer_than":
		return date.After(t.t)
	case "before", "older_than":
		return date.Before(t.t)
	}
	text := strings.ToLower(decodeWords(headerValue(hs, "Subject")) + " " + m.snippet)
	return strings.Contains(text, t.value)
}

func addressesContain(list, want string) bool {
	addrs, err := mail.ParseAddressList(list)
	if err != nil {
		return strings.Contains(strings.ToLower(list), want)
	}
	for _, a := range addrs {
		if strings.Contains(strings.ToLower(a.Address), want) || strings.Contains(strings.ToLower(a.Name), want) {
			return true
		}
	}
	return false
}
