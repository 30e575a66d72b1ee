package fakegoogle

import (
	"bytes"
	"encoding/base64"
	"html"
	"io"
	"mime"
	"mime/quotedprintable"
	"regexp"
	"strings"
	"unicode/utf8"
)

// header is one header field, in message order.
type header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// partBody is Gmail's MessagePartBody.
type partBody struct {
	AttachmentID string `json:"attachmentId,omitempty"`
	Size         int    `json:"size"`
	Data         string `json:"data,omitempty"`
}

// messagePart is Gmail's MessagePart.
type messagePart struct {
	PartID   string         `json:"partId"`
	MimeType string         `json:"mimeType"`
	Filename string         `json:"filename"`
	Headers  []header       `json:"headers"`
	Body     partBody       `json:"body"`
	Parts    []*messagePart `json:"parts,omitempty"`

	data []byte // decoded content of a leaf, served by attachments.get
}

// maxMIMEDepth bounds multipart nesting; deeper parts are kept as opaque
// leaves, as a hostile message must not exhaust the stack.
const maxMIMEDepth = 32

// nextLine splits b after its first line feed (or at its end).
func nextLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i+1], b[i+1:]
	}
	return b, nil
}

// splitHeader separates a message or part into its unfolded header fields
// (in order) and its body. Lines may end in CRLF or LF.
func splitHeader(raw []byte) ([]header, []byte) {
	var hs []header
	rest := raw
	for len(rest) > 0 {
		start := rest
		var line []byte
		line, rest = nextLine(rest)
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if len(line) == 0 {
			return hs, rest
		}
		if (line[0] == ' ' || line[0] == '\t') && len(hs) > 0 {
			hs[len(hs)-1].Value += " " + strings.TrimSpace(string(line))
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			// Not a header: the message has no blank line before its body.
			return hs, start
		}
		hs = append(hs, header{Name: strings.TrimSpace(string(name)), Value: strings.TrimSpace(string(value))})
	}
	return hs, nil
}

func headerValue(hs []header, name string) string {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

var wordDecoder = &mime.WordDecoder{CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
	return input, nil // unknown charsets pass through undecoded, as bytes
}}

func decodeWords(s string) string {
	if d, err := wordDecoder.DecodeHeader(s); err == nil {
		return d
	}
	return s
}

// parsePart builds the payload tree of raw. newID names attachments.
func parsePart(raw []byte, partID string, depth int, defaultType string, newID func() string) *messagePart {
	hs, body := splitHeader(raw)
	if hs == nil {
		hs = []header{}
	}
	p := &messagePart{PartID: partID, Headers: hs}
	mediaType, params, err := mime.ParseMediaType(headerValue(hs, "Content-Type"))
	if err != nil || mediaType == "" {
		mediaType, params = defaultType, map[string]string{}
	}
	p.MimeType = mediaType

	if strings.HasPrefix(mediaType, "multipart/") && params["boundary"] != "" && depth < maxMIMEDepth {
		childType := "text/plain"
		if mediaType == "multipart/digest" {
			childType = "message/rfc822"
		}
		for i, sub := range splitMultipart(body, params["boundary"]) {
			id := partID + "." + itoa(i)
			if partID == "" {
				id = itoa(i)
			}
			p.Parts = append(p.Parts, parsePart(sub, id, depth+1, childType, newID))
		}
		p.Body = partBody{Size: 0}
		return p
	}

	p.data = decodeTransfer(headerValue(hs, "Content-Transfer-Encoding"), body)
	if _, dp, err := mime.ParseMediaType(headerValue(hs, "Content-Disposition")); err == nil && dp["filename"] != "" {
		p.Filename = decodeWords(dp["filename"])
	} else if params["name"] != "" {
		p.Filename = decodeWords(params["name"])
	}
	p.Body.Size = len(p.data)
	if p.Filename != "" {
		p.Body.AttachmentID = "ANGjdJ" + newID()
	} else if len(p.data) > 0 {
		p.Body.Data = base64.URLEncoding.EncodeToString(p.data)
	}
	return p
}

// splitMultipart returns the raw parts between boundary lines. A missing
// closing boundary ends the last part at the end of the body.
func splitMultipart(body []byte, boundary string) [][]byte {
	delim := []byte("--" + boundary)
	var parts [][]byte
	var cur []byte
	in := false
	for len(body) > 0 {
		var line []byte
		line, body = nextLine(body)
		trimmed := bytes.TrimRight(line, " \t\r\n")
		if bytes.HasPrefix(trimmed, delim) {
			rest := trimmed[len(delim):]
			if in {
				parts = append(parts, bytes.TrimSuffix(bytes.TrimSuffix(cur, []byte("\n")), []byte("\r")))
			}
			cur = nil
			if bytes.Equal(rest, []byte("--")) {
				return parts
			}
			if len(rest) == 0 {
				in = true
				continue
			}
		}
		if in {
			cur = append(cur, line...)
		}
	}
	if in && len(cur) > 0 {
		parts = append(parts, cur)
	}
	return parts
}

func decodeTransfer(encoding string, body []byte) []byte {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, body)
		out := make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
		n, err := base64.StdEncoding.Decode(out, clean)
		if err != nil {
			n2, err2 := base64.RawStdEncoding.Decode(out, bytes.TrimRight(clean, "="))
			if err2 != nil {
				return out[:n] // what decoded before the damage
			}
			n = n2
		}
		return out[:n]
	case "quoted-printable":
		b, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		if err != nil {
			return body
		}
		return b
	}
	return body
}

var (
	tagPattern   = regexp.MustCompile(`(?s)<(script|style)[^>]*>.*?</(script|style)>|<[^>]*>`)
	spacePattern = regexp.MustCompile(`\s+`)
)

// snippet is the start of the message's text, as Gmail shows it in lists:
// whitespace folded, HTML-escaped, at most 200 characters.
func snippet(p *messagePart) string {
	text := firstText(p, "text/plain")
	if text == "" {
		text = html.UnescapeString(tagPattern.ReplaceAllString(firstText(p, "text/html"), " "))
	}
	text = strings.TrimSpace(spacePattern.ReplaceAllString(text, " "))
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	if r := []rune(text); len(r) > 200 {
		text = string(r[:200])
	}
	return html.EscapeString(text)
}

func firstText(p *messagePart, mimeType string) string {
	if len(p.Parts) == 0 {
		if p.MimeType == mimeType && p.Filename == "" {
			return string(p.data)
		}
		return ""
	}
	for _, c := range p.Parts {
		if t := firstText(c, mimeType); t != "" {
			return t
		}
	}
	return ""
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
