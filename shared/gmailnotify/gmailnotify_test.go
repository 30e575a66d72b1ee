package gmailnotify

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/shared/failure"
)

func envelopeOf(data string) []byte {
	return []byte(fmt.Sprintf(`{"message":{"data":%q,"messageId":"136969346945","publishTime":"2026-11-22T10:00:00.123Z"},"subscription":"projects/p/subscriptions/s"}`, data))
}

func TestDecode(t *testing.T) {
	payload := `{"emailAddress":"Ann@Demo.test","historyId":9876}`
	// Extra fields are ignored; these bytes put + and / (- and _) in the base64.
	odd := `{"emailAddress":"Ann@Demo.test","historyId":9876,"pad":"??>>??>>"}`
	for name, data := range map[string]string{
		"standard, padded":    base64.StdEncoding.EncodeToString([]byte(payload)),
		"standard, unpadded":  base64.RawStdEncoding.EncodeToString([]byte(payload)),
		"URL-safe, padded":    base64.URLEncoding.EncodeToString([]byte(odd)),
		"URL-safe, unpadded":  base64.RawURLEncoding.EncodeToString([]byte(odd)),
		"standard, odd bytes": base64.StdEncoding.EncodeToString([]byte(odd)),
		"historyId as string": base64.StdEncoding.EncodeToString([]byte(`{"emailAddress":"ann@demo.test","historyId":"9876"}`)),
	} {
		t.Run(name, func(t *testing.T) {
			if strings.HasPrefix(name, "URL-safe") && !strings.ContainsAny(data, "-_") {
				t.Fatalf("test data %q does not exercise the URL alphabet", data)
			}
			n, err := Decode(envelopeOf(data))
			if err != nil {
				t.Fatal(err)
			}
			if n.Email != "ann@demo.test" || n.HistoryID != 9876 {
				t.Errorf("decoded %+v", n)
			}
		})
	}
	n, err := Decode(envelopeOf(base64.StdEncoding.EncodeToString([]byte(payload))))
	if err != nil || n.MessageID != "136969346945" || n.PublishTime.IsZero() {
		t.Errorf("envelope fields: %+v, %v", n, err)
	}
}

func TestDecodeRefusesWhatCannotBeUsed(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for name, body := range map[string][]byte{
		"not JSON":             []byte("hello"),
		"no data":              envelopeOf(""),
		"bad base64":           envelopeOf("***"),
		"data not JSON":        envelopeOf(b64("not json")),
		"no address":           envelopeOf(b64(`{"historyId":1}`)),
		"address with a name":  envelopeOf(b64(`{"emailAddress":"Ann <ann@demo.test>","historyId":1}`)),
		"no historyId":         envelopeOf(b64(`{"emailAddress":"ann@demo.test"}`)),
		"negative historyId":   envelopeOf(b64(`{"emailAddress":"ann@demo.test","historyId":-4}`)),
		"zero historyId":       envelopeOf(b64(`{"emailAddress":"ann@demo.test","historyId":0}`)),
		"fractional historyId": envelopeOf(b64(`{"emailAddress":"ann@demo.test","historyId":1.5}`)),
		"historyId too big":    envelopeOf(b64(`{"emailAddress":"ann@demo.test","historyId":99999999999999999999999}`)),
	} {
		if _, err := Decode(body); failure.KindOf(err) != failure.Invalid {
			t.Errorf("%s: %v, want an Invalid error", name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(envelopeOf(base64.StdEncoding.EncodeToString([]byte(`{"emailAddress":"a@b.test","historyId":1}`))))
	f.Add(envelopeOf(base64.RawURLEncoding.EncodeToString([]byte(`{"emailAddress":"a@b.test","historyId":"2"}`))))
	f.Add([]byte(`{"message":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := Decode(body)
		if err == nil && (n.Email == "" || n.HistoryID == 0 || n.Email != strings.ToLower(n.Email)) {
			t.Errorf("accepted %q as %+v", body, n)
		}
		if err != nil && failure.KindOf(err) != failure.Invalid {
			t.Errorf("error of kind %v for %q", failure.KindOf(err), body)
		}
	})
}
