package web

import "testing"

// A post-sign-in destination stays on this product's own pages, whatever
// the attacker puts in ?next= (a browser reads "/\t/evil.example" as
// "//evil.example").
func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/settings":                  "/settings",
		"/admin":                     "/admin",
		"/":                          "/",
		"/review?client=c1&page=2":   "/review?client=c1&page=2",
		"/preview/approve?v=3":       "/preview/approve?v=3",
		"":                           "/settings",
		"//evil.example":             "/settings",
		"/\t/evil.example":           "/settings",
		"/%09/evil.example":          "/settings",
		"/\n/evil.example":           "/settings",
		"/\\evil.example":            "/settings",
		"\\\\evil.example":           "/settings",
		"/%5cevil.example":           "/settings",
		"/%2f%2fevil.example":        "/settings",
		"https://evil.example/":      "/settings",
		"javascript:alert(1)":        "/settings",
		"evil.example":               "/settings",
		"/settings/../../evil":       "/settings",
		"/settings#x":                "/settings",
		"/review?x=1#frag":           "/settings",
		"/review?x=%zz":              "/settings",
		"/ settings":                 "/settings",
		"/settings\x7f":              "/settings",
		"/sеttings":                  "/settings", // a Cyrillic е
		"/unknown":                   "/settings",
		"/admin?next=//evil.example": "/admin?next=//evil.example",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
