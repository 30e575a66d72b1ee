package mailbox

import (
	"strings"
	"testing"
)

// xssVectors are known ways to run script from HTML mail: script
// elements, event handlers, javascript: and data: URLs, CSS expressions
// and imports, SVG and MathML payloads, frames and forms, and encoded
// variants of each.
var xssVectors = []string{
	`<script>alert(1)</script>`,
	`<SCRIPT SRC=//evil.test/x.js></SCRIPT>`,
	`<scr<script>ipt>alert(1)</script>`,
	`<img src=x onerror=alert(1)>`,
	`<img src="x" ONERROR="alert(1)">`,
	`<body onload=alert(1)>`,
	`<div onmouseover="alert(1)">hover</div>`,
	`<a href="javascript:alert(1)">click</a>`,
	`<a href="JaVaScRiPt:alert(1)">click</a>`,
	`<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">entities</a>`,
	`<a href="&#x6A;avascript:alert(1)">hex entity</a>`,
	`<a href="java&#x09;script:alert(1)">tab</a>`,
	`<a href=" javascript:alert(1)">leading space</a>`,
	`<a href="vbscript:msgbox(1)">vb</a>`,
	`<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>`,
	`<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">`,
	`<div style="width: expression(alert(1))">css expression</div>`,
	`<div style="background:url(javascript:alert(1))">css url</div>`,
	`<style>@import 'https://evil.test/x.css'; body{behavior:url(x.htc)}</style>`,
	`<link rel="stylesheet" href="https://evil.test/x.css">`,
	`<svg onload=alert(1)>`,
	`<svg><script>alert(1)</script></svg>`,
	`<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>`,
	`<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>`,
	`<iframe src="https://evil.test"></iframe>`,
	`<iframe srcdoc="<script>alert(1)</script>"></iframe>`,
	`<object data="javascript:alert(1)"></object>`,
	`<embed src="javascript:alert(1)">`,
	`<form action="javascript:alert(1)"><button>go</button></form>`,
	`<input autofocus onfocus=alert(1)>`,
	`<meta http-equiv="refresh" content="0;url=javascript:alert(1)">`,
	`<base href="javascript:alert(1)//">`,
	`<details open ontoggle=alert(1)>`,
	`<video><source onerror=alert(1)></video>`,
	`<img src=x:alert(alt) onerror=eval(src) alt=0>`,
	`<a href="#" style="position:fixed;top:0;left:0;width:100%;height:100%">overlay</a>`,
	`<!--<img src="--><img src=x onerror=alert(1)//">`,
	`<noscript><p title="</noscript><img src=x onerror=alert(1)>">`,
}

// forbidden are what must not survive sanitizing, case-insensitively.
var forbidden = []string{"<script", "onerror", "onload", "onmouseover", "onfocus", "ontoggle", "javascript:", "vbscript:", "data:text",
	"data:image/svg", "expression(", "<style", "<link", "<svg", "<math", "<iframe", "<object", "<embed", "<form", "<input",
	"<meta", "<base", "position:fixed", "srcdoc", "&#106;", "&#x6a;"}

func TestTheSanitizerStopsKnownXSSVectors(t *testing.T) {
	for _, v := range xssVectors {
		out := strings.ToLower(htmlPolicy.Sanitize("<p>Hello</p>" + v))
		for _, f := range forbidden {
			if strings.Contains(out, f) {
				t.Errorf("%s\n  → %s\n  still holds %q", v, out, f)
			}
		}
		if !strings.Contains(out, "<p>hello</p>") {
			t.Errorf("%s: the harmless part was lost: %s", v, out)
		}
	}
	// What mail needs survives.
	keep := `<p>Dear <b>Carol</b>, see <a href="https://bank.example/statement">your statement</a>.</p><ul><li>one</li></ul><table><tr><td>1</td></tr></table>`
	if out := htmlPolicy.Sanitize(keep); !strings.Contains(out, `href="https://bank.example/statement"`) || !strings.Contains(out, "<table>") || !strings.Contains(out, "<b>Carol</b>") {
		t.Errorf("ordinary formatting was lost: %s", out)
	}
}

// Remote images in posted mail are tracking beacons: opening the note in
// the CRM would tell the sender. None survives; the text around it does.
func TestRemoteImagesAreNeutralized(t *testing.T) {
	for _, in := range []string{
		`<img src="https://tracker.example/open.gif?u=ann">`,
		`<img src="http://tracker.example/p.png" width="1" height="1">`,
		`<img src="//tracker.example/p.png">`,
		`<img srcset="https://tracker.example/a.png 1x" src="https://tracker.example/b.png">`,
		`<picture><source srcset="https://tracker.example/c.webp"><img src="https://tracker.example/c.png"></picture>`,
		`<video poster="https://tracker.example/v.png" src="https://tracker.example/v.mp4"></video>`,
		`<audio src="https://tracker.example/a.mp3"></audio>`,
		`<table background="https://tracker.example/bg.png"><tr><td>x</td></tr></table>`,
	} {
		out := htmlPolicy.Sanitize("<p>Hello</p>" + in + `<a href="https://bank.example/s">statement</a>`)
		if strings.Contains(out, "tracker.example") {
			t.Errorf("%s\n  → %s\n  still fetches from the tracker", in, out)
		}
		if !strings.Contains(out, "<p>Hello</p>") || !strings.Contains(out, `href="https://bank.example/s"`) {
			t.Errorf("%s: the text or the link was lost: %s", in, out)
		}
	}
}
