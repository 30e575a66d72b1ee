package matching

import (
	"mime"
	"net/mail"
	"regexp"
	"strings"

	"golang.org/x/net/html/charset"
)

// addressParser decodes RFC 2047 display names in any charset Go knows.
var addressParser = &mail.AddressParser{WordDecoder: &mime.WordDecoder{CharsetReader: charset.NewReaderLabel}}

// looseAddress finds address-like tokens in a header that does not parse.
var looseAddress = regexp.MustCompile(`[A-Za-z0-9.!#$%&'*+/=?^_{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+`)

// Addresses extracts the e-mail addresses of an address header's value
// (From, To, Cc, Bcc), lower-cased and without duplicates, in order.
// Display names, comments, groups and RFC 2047 encoded words are handled;
// a value that is not a valid address list still yields the address-like
// tokens in it, so a sloppy mailer's header is not silently ignored.
func Addresses(header string) []string {
	header = strings.TrimSpace(header)
	if header == "" {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	add := func(a string) {
		a = strings.ToLower(strings.TrimSpace(a))
		if a != "" && !seen[a] && strings.Contains(a, "@") {
			seen[a] = true
			out = append(out, a)
		}
	}
	if list, err := addressParser.ParseList(header); err == nil {
		for _, a := range list {
			add(a.Address)
		}
		return out
	}
	for _, m := range looseAddress.FindAllString(header, -1) {
		add(m)
	}
	return out
}

// Domain is the part of an address after its last "@", lower-cased.
func Domain(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(addr[i+1:])
}
