package matching

import (
	"slices"
	"strings"
	"testing"
)

// The CRM of these tests: contact ids by address, as Ann may see them.
var crmContacts = map[string][]string{
	"carol@client.test":  {"c-carol"},
	"dan@client.test":    {"c-dan"},
	"shared@client.test": {"c-carol", "c-dan"},
	"frank@corp.test":    {"c-frank"},
	"ann@firm.test":      {"c-ann"}, // Ann's own record: never a target by her address
}

var ann = User{Email: "ann@firm.test", Domains: []string{"firm.test", "firm-mail.test"}, OwnContactID: "c-ann", AttachmentLimit: 1000}

func lookup(addrs []string) map[string][]string {
	out := map[string][]string{}
	for _, a := range addrs {
		out[a] = crmContacts[a]
	}
	return out
}

func TestRules(t *testing.T) {
	def := DefaultOptions()
	with := func(f func(*Options)) Options {
		o := DefaultOptions()
		f(&o)
		return o
	}
	cases := []struct {
		name    string
		msg     Message
		user    User
		opts    Options
		status  Status
		targets []string
		own     bool
		attach  bool
		reason  string
	}{
		{name: "incoming from a contact", msg: Message{From: "Carol <carol@client.test>", To: "ann@firm.test"},
			opts: def, status: Posted, targets: []string{"c-carol"}, attach: true},
		{name: "addresses compare case-insensitively", msg: Message{From: "CAROL@Client.TEST", To: "Ann@Firm.test"},
			opts: def, status: Posted, targets: []string{"c-carol"}, attach: true},
		{name: "RFC 2047 display name", msg: Message{From: "=?UTF-8?B?Q2Fyb2wgQ2zDrWVudGU=?= <carol@client.test>", To: "ann@firm.test"},
			opts: def, status: Posted, targets: []string{"c-carol"}, attach: true},
		{name: "ISO-8859-1 encoded word", msg: Message{From: "=?ISO-8859-1?Q?Dan_D=E9pendant?= <dan@client.test>", To: "ann@firm.test"},
			opts: def, status: Posted, targets: []string{"c-dan"}, attach: true},
		{name: "incoming: To not compared by default", msg: Message{From: "stranger@else.test", To: "ann@firm.test, carol@client.test"},
			opts: def, status: Unmatched, reason: "no CRM contact"},
		{name: "incoming: To compared when chosen", msg: Message{From: "stranger@else.test", To: "ann@firm.test, carol@client.test"},
			opts: with(func(o *Options) { o.Incoming = []Header{From, To} }), status: Posted, targets: []string{"c-carol"}, attach: true},
		{name: "incoming: Cc compared when chosen", msg: Message{From: "stranger@else.test", To: "ann@firm.test", Cc: "Frank <frank@corp.test>"},
			opts: with(func(o *Options) { o.Incoming = []Header{Cc} }), status: Posted, targets: []string{"c-frank"}, attach: true},
		{name: "outgoing: To, Cc and Bcc by default", msg: Message{From: "ann@firm.test", To: "carol@client.test", Cc: "frank@corp.test", Bcc: "dan@client.test", Sent: true},
			opts: def, status: Posted, targets: []string{"c-carol", "c-frank", "c-dan"}, attach: true},
		{name: "outgoing: only the chosen headers", msg: Message{From: "ann@firm.test", To: "carol@client.test", Bcc: "dan@client.test", Sent: true},
			opts: with(func(o *Options) { o.Outgoing = []Header{Bcc} }), status: Posted, targets: []string{"c-dan"}, attach: true},
		{name: "outgoing recognised by the From address", msg: Message{From: "Ann <ann@firm.test>", To: "carol@client.test"},
			opts: def, status: Posted, targets: []string{"c-carol"}, attach: true},
		{name: "one contact for two addresses posts once", msg: Message{From: "ann@firm.test", To: "carol@client.test, shared@client.test", Sent: true},
			opts: def, status: Posted, targets: []string{"c-carol", "c-dan"}, attach: true},
		{name: "the user's own address never matches", msg: Message{From: "ann@firm.test", To: "ann@firm.test", Sent: true},
			opts: with(func(o *Options) { o.SkipInternal = false }), status: Unmatched, reason: "no address other than yours"},
		{name: "internal incoming mail fails", msg: Message{From: "bob@firm.test", To: "ann@firm.test, carol@client.test"},
			opts: def, status: Failed, reason: "the sender bob@firm.test is in the firm's domains"},
		{name: "another firm domain is internal too", msg: Message{From: "bob@firm-mail.test", To: "ann@firm.test"},
			opts: def, status: Failed, reason: "internal e-mail"},
		{name: "internal outgoing mail fails", msg: Message{From: "ann@firm.test", To: "bob@firm.test", Sent: true},
			opts: def, status: Failed, reason: "every recipient"},
		{name: "outgoing to a client and a colleague is not internal", msg: Message{From: "ann@firm.test", To: "bob@firm.test, carol@client.test", Sent: true},
			opts: def, status: Posted, targets: []string{"c-carol"}, attach: true},
		{name: "internal mail posts when the option is off", msg: Message{From: "bob@firm.test", To: "ann@firm.test", Cc: "carol@client.test"},
			opts: with(func(o *Options) { o.SkipInternal = false; o.Incoming = []Header{From, Cc} }), status: Posted, targets: []string{"c-carol"}, attach: true},
		{name: "attachment over the limit fails", msg: Message{From: "carol@client.test", To: "ann@firm.test", Attachments: []Attachment{{"big.pdf", 1001}}},
			opts: def, status: Failed, reason: `attachment "big.pdf" is 1001 bytes`},
		{name: "attachment at the limit posts", msg: Message{From: "carol@client.test", To: "ann@firm.test", Attachments: []Attachment{{"ok.pdf", 1000}}},
			opts: def, status: Posted, targets: []string{"c-carol"}, attach: true},
		{name: "attachments off: posted without them, whatever their size", msg: Message{From: "carol@client.test", To: "ann@firm.test", Attachments: []Attachment{{"big.pdf", 5000}}},
			opts: with(func(o *Options) { o.IncludeAttachments = false }), status: Posted, targets: []string{"c-carol"}},
		{name: "no limit set", msg: Message{From: "carol@client.test", To: "ann@firm.test", Attachments: []Attachment{{"big.pdf", 1 << 30}}},
			user: User{Email: "ann@firm.test", OwnContactID: "c-ann"}, opts: def, status: Posted, targets: []string{"c-carol"}, attach: true},
		{name: "unmatched goes to the own record with the option", msg: Message{From: "stranger@else.test", To: "ann@firm.test"},
			opts: with(func(o *Options) { o.PostUnmatchedToOwnRecord = true }), status: Posted, targets: []string{"c-ann"}, own: true, attach: true},
		{name: "unmatched without an own record stays unmatched", msg: Message{From: "stranger@else.test", To: "ann@firm.test"},
			user: User{Email: "ann@firm.test"}, opts: with(func(o *Options) { o.PostUnmatchedToOwnRecord = true }), status: Unmatched},
		{name: "Bcc with the option: only the own record", msg: Message{From: "carol@client.test", To: "frank@corp.test"},
			opts: with(func(o *Options) { o.PostUnmatchedToOwnRecord = true; o.Incoming = []Header{From, To} }), status: Posted, targets: []string{"c-ann"}, own: true, attach: true},
		{name: "Bcc without the option: unmatched, never the recipients", msg: Message{From: "carol@client.test", To: "frank@corp.test"},
			opts: with(func(o *Options) { o.Incoming = []Header{From, To} }), status: Unmatched, reason: "received as Bcc"},
		{name: "Bcc still checks internal mail first", msg: Message{From: "bob@firm.test", To: "frank@corp.test"},
			opts: with(func(o *Options) { o.PostUnmatchedToOwnRecord = true }), status: Failed, reason: "internal"},
		{name: "linked records are offered with the option", msg: Message{From: "carol@client.test", To: "ann@firm.test"},
			opts: with(func(o *Options) { o.OfferLinkedRecords = true }), status: Posted, targets: []string{"c-carol"}, attach: true},
		{name: "a malformed header still yields its addresses", msg: Message{From: "Carol Client carol@client.test (broken", To: "ann@firm.test"},
			opts: def, status: Posted, targets: []string{"c-carol"}, attach: true},
		{name: "groups and comments", msg: Message{From: "ann@firm.test", To: "Clients: carol@client.test, Dan (son) <dan@client.test>;", Sent: true},
			opts: def, status: Posted, targets: []string{"c-carol", "c-dan"}, attach: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.user
			if u.Email == "" {
				u = ann
			}
			if err := tc.opts.Check(); err != nil {
				t.Fatal(err)
			}
			p := Prepare(tc.msg, u, tc.opts)
			out := Decide(p, lookup(p.Lookup), u, tc.opts)
			if out.Status != tc.status || !slices.Equal(out.Contacts, tc.targets) || out.OwnRecord != tc.own || out.WithAttachments != tc.attach {
				t.Errorf("outcome %+v\nwant status %s, contacts %v, own %v, attachments %v", out, tc.status, tc.targets, tc.own, tc.attach)
			}
			if !strings.Contains(out.Reason, tc.reason) {
				t.Errorf("reason %q does not say %q", out.Reason, tc.reason)
			}
			if tc.status != Posted && out.Reason == "" {
				t.Error("a message that is not posted has no reason")
			}
			if slices.Contains(p.Lookup, "ann@firm.test") {
				t.Error("the user's own address was looked up")
			}
			if tc.opts.OfferLinkedRecords && out.Status == Posted && !out.OwnRecord && !out.OfferLinkedRecords {
				t.Error("linked records not offered")
			}
		})
	}
}

func TestOptionsCheck(t *testing.T) {
	if err := (Options{Incoming: []Header{Bcc}}).Check(); err == nil {
		t.Error("Bcc accepted for incoming mail")
	}
	if err := (Options{Outgoing: []Header{"Reply-To"}}).Check(); err == nil {
		t.Error("Reply-To accepted")
	}
	if err := DefaultOptions().Check(); err != nil {
		t.Error(err)
	}
}

func TestAddresses(t *testing.T) {
	for in, want := range map[string][]string{
		"":                                    nil,
		"a@x.test":                            {"a@x.test"},
		`"Doe, Jane" <Jane@X.test>, b@y.test`: {"jane@x.test", "b@y.test"},
		"a@x.test, A@X.TEST":                  {"a@x.test"},
		"undisclosed-recipients:;":            nil,
		"=?utf-8?q?J=C3=BCrgen?= <j@x.test>":  {"j@x.test"},
		"not an address at all":               nil,
		"<broken@x.test":                      {"broken@x.test"},
	} {
		if got := Addresses(in); !slices.Equal(got, want) {
			t.Errorf("Addresses(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzAddresses(f *testing.F) {
	for _, s := range []string{"a@x.test", `"Doe, Jane" <jane@x.test>`, "=?UTF-8?B?w6k=?= <e@x.test>", "g: a@b.c;", "<@@@>", "a@b@c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		for _, a := range Addresses(header) {
			if a != strings.ToLower(a) || !strings.Contains(a, "@") {
				t.Errorf("Addresses(%q) yielded %q", header, a)
			}
		}
		// Prepare never panics on any header.
		Prepare(Message{From: header, To: header, Cc: header, Bcc: header}, ann, DefaultOptions())
	})
}
