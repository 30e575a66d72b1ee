package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func decodeLines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestCloudLoggingFieldNames(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelDebug, "acme-crm-sync")
	ctx := WithTrace(context.Background(), Trace{TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "42", Sampled: true})
	log.WarnContext(ctx, "watch renewal failed", "user", "ann@acme.test")

	lines := decodeLines(t, &buf)
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1", len(lines))
	}
	l := lines[0]
	for k, want := range map[string]any{
		"severity":        "WARNING",
		"message":         "watch renewal failed",
		"user":            "ann@acme.test",
		FieldTrace:        "projects/acme-crm-sync/traces/0af7651916cd43dd8448eb211c80319c",
		FieldSpanID:       "42",
		FieldTraceSampled: true,
	} {
		if l[k] != want {
			t.Errorf("field %q = %v, want %v", k, l[k], want)
		}
	}
	if _, ok := l[FieldSource].(map[string]any); !ok {
		t.Errorf("no %s object in %v", FieldSource, l)
	}
	if _, ok := l["msg"]; ok {
		t.Error("slog's msg key leaked; Cloud Logging reads message")
	}
}

func TestSeverityNames(t *testing.T) {
	for l, want := range map[slog.Level]string{slog.LevelDebug: "DEBUG", slog.LevelInfo: "INFO", slog.LevelWarn: "WARNING", slog.LevelError: "ERROR", LevelCritical: "CRITICAL"} {
		if got := severity(l); got != want {
			t.Errorf("severity(%v) = %q, want %q", l, got, want)
		}
	}
}

func TestParseTrace(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   Trace
		ok     bool
	}{
		{"cloud trace", http.Header{"X-Cloud-Trace-Context": {"105445AA7843BC8BF206B12000100000/1;o=1"}}, Trace{"105445aa7843bc8bf206b12000100000", "1", true}, true},
		{"cloud trace without span", http.Header{"X-Cloud-Trace-Context": {"105445aa7843bc8bf206b12000100000"}}, Trace{TraceID: "105445aa7843bc8bf206b12000100000"}, true},
		{"traceparent wins", http.Header{
			"Traceparent":           {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
			"X-Cloud-Trace-Context": {"105445aa7843bc8bf206b12000100000/1;o=1"},
		}, Trace{"0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", true}, true},
		{"garbage", http.Header{"X-Cloud-Trace-Context": {"<script>"}}, Trace{}, false},
		{"none", http.Header{}, Trace{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseTrace(tt.header)
			if ok != tt.ok || got != tt.want {
				t.Errorf("ParseTrace = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// A panic in a handler is logged with its stack and the trace, and the
// caller gets a generic 500 that reveals nothing.
func TestMiddlewareRecoversPanics(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelInfo, "p-123456")
	h := Middleware(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("secret detail: token=abc")
	}))
	req := httptest.NewRequest("GET", "/Health", nil)
	req.Header.Set("X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", rec.Code)
	}
	if body := rec.Body.String(); strings.Contains(body, "secret") || !strings.Contains(body, "internal error") {
		t.Errorf("body = %q, want a generic message", body)
	}
	lines := decodeLines(t, &buf)
	if len(lines) != 1 {
		t.Fatalf("got %d log lines, want 1", len(lines))
	}
	if lines[0]["severity"] != "ERROR" || !strings.Contains(lines[0]["stack"].(string), "logging_test.go") {
		t.Errorf("log line = %v, want ERROR with a stack", lines[0])
	}
	if lines[0][FieldTrace] != "projects/p-123456/traces/105445aa7843bc8bf206b12000100000" {
		t.Errorf("trace = %v", lines[0][FieldTrace])
	}
}

func TestRecoverTurnsPanicIntoError(t *testing.T) {
	var buf bytes.Buffer
	err := Recover(context.Background(), New(&buf, slog.LevelInfo, ""), "contact sync", func() error { panic("boom") })
	if err == nil || err.Error() != "contact sync: internal error" {
		t.Errorf("Recover = %v", err)
	}
	want := errors.New("plain")
	if got := Recover(context.Background(), Discard(), "x", func() error { return want }); got != want {
		t.Errorf("Recover passed %v, want %v", got, want)
	}
}

// An attribute named like the entry's own fields does not hide them.
func TestAttributesDoNotHideTheEntrysFields(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, slog.LevelDebug, "p").Info("mail: message failed", "message", "18c2f", "severity", "x")
	l := decodeLines(t, &buf)[0]
	if l["message"] != "mail: message failed" || l["severity"] != "INFO" || l["messageField"] != "18c2f" || l["severityField"] != "x" {
		t.Errorf("entry %v", l)
	}
}
