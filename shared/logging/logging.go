// Package logging writes structured logs in the shape Cloud Logging reads
// from a function's standard output, and recovers panics in handlers.
//
// A process builds one *slog.Logger with New and passes it down as a
// dependency. HTTP handlers are wrapped with Middleware, which puts the
// request's trace into the context (so every log line written with the
// request's context carries logging.googleapis.com/trace) and turns a panic
// into a logged stack and a generic 500 for the caller.
//
// Logs carry ids (tenant, user, message id), never tokens, message bodies or
// attachment data.
package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
)

// Cloud Logging's special field names.
const (
	FieldTrace        = "logging.googleapis.com/trace"
	FieldSpanID       = "logging.googleapis.com/spanId"
	FieldTraceSampled = "logging.googleapis.com/trace_sampled"
	FieldSource       = "logging.googleapis.com/sourceLocation"
)

// LevelCritical is above slog.LevelError; Cloud Logging shows it as CRITICAL.
const LevelCritical = slog.Level(12)

// New returns a JSON logger writing to w at level, with Cloud Logging field
// names. projectID qualifies trace ids ("projects/P/traces/T"); it may be
// empty in tests.
func New(w io.Writer, level slog.Leveler, projectID string) *slog.Logger {
	inner := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       level,
		AddSource:   true,
		ReplaceAttr: replaceAttr,
	})
	return slog.New(&traceHandler{inner: inner, projectID: projectID})
}

// Discard returns a logger that writes nothing, for tests that do not read logs.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func replaceAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.LevelKey:
		return slog.String("severity", severity(a.Value.Any().(slog.Level)))
	case slog.MessageKey:
		a.Key = "message"
	case "message", "severity":
		// An attribute of that name would hide the entry's own text or
		// severity in Cloud Logging: it keeps its value under another key.
		a.Key += "Field"
	case slog.SourceKey:
		if src, ok := a.Value.Any().(*slog.Source); ok {
			return slog.Any(FieldSource, map[string]any{"file": src.File, "line": fmt.Sprint(src.Line), "function": src.Function})
		}
	}
	return a
}

func severity(l slog.Level) string {
	switch {
	case l >= LevelCritical:
		return "CRITICAL"
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	default:
		return "DEBUG"
	}
}

// Trace identifies the request a log line belongs to.
type Trace struct {
	TraceID string
	SpanID  string
	Sampled bool
}

type traceKey struct{}

// WithTrace returns ctx carrying t.
func WithTrace(ctx context.Context, t Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

// TraceFrom returns the trace in ctx, if any.
func TraceFrom(ctx context.Context) (Trace, bool) {
	t, ok := ctx.Value(traceKey{}).(Trace)
	return t, ok && t.TraceID != ""
}

var (
	cloudTraceHeader = regexp.MustCompile(`^([0-9a-fA-F]{32})(?:/(\d+))?(?:;o=([01]))?$`)
	traceparent      = regexp.MustCompile(`^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$`)
)

// ParseTrace reads the request's trace from the W3C traceparent header or,
// failing that, from Google's X-Cloud-Trace-Context header.
func ParseTrace(h http.Header) (Trace, bool) {
	if m := traceparent.FindStringSubmatch(strings.TrimSpace(h.Get("traceparent"))); m != nil {
		return Trace{TraceID: m[1], SpanID: m[2], Sampled: m[3] == "01"}, true
	}
	if m := cloudTraceHeader.FindStringSubmatch(strings.TrimSpace(h.Get("X-Cloud-Trace-Context"))); m != nil {
		return Trace{TraceID: strings.ToLower(m[1]), SpanID: m[2], Sampled: m[3] == "1"}, true
	}
	return Trace{}, false
}

// traceHandler adds the context's trace to each record.
type traceHandler struct {
	inner     slog.Handler
	projectID string
}

func (h *traceHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if t, ok := TraceFrom(ctx); ok {
		trace := t.TraceID
		if h.projectID != "" {
			trace = "projects/" + h.projectID + "/traces/" + t.TraceID
		}
		r.AddAttrs(slog.String(FieldTrace, trace), slog.Bool(FieldTraceSampled, t.Sampled))
		if t.SpanID != "" {
			r.AddAttrs(slog.String(FieldSpanID, t.SpanID))
		}
	}
	return h.inner.Handle(ctx, r)
}

func (h *traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &traceHandler{inner: h.inner.WithAttrs(as), projectID: h.projectID}
}

// WithGroup nests later attributes. Trace fields added after a group is
// opened land inside it, so the product's loggers do not open groups.
func (h *traceHandler) WithGroup(name string) slog.Handler {
	return &traceHandler{inner: h.inner.WithGroup(name), projectID: h.projectID}
}

// Middleware puts the request's trace into its context and recovers panics:
// the stack goes to the log at ERROR and the caller sees a generic 500.
func Middleware(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t, ok := ParseTrace(r.Header); ok {
			r = r.WithContext(WithTrace(r.Context(), t))
		}
		rw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.ErrorContext(r.Context(), "panic in handler",
					"panic", fmt.Sprint(p), "stack", string(debug.Stack()),
					"method", r.Method, "path", r.URL.Path)
				if !rw.wrote {
					WriteError(rw, http.StatusInternalServerError, "internal error")
				}
			}
		}()
		next.ServeHTTP(rw, r)
	})
}

// Recover runs fn and turns a panic into an error, logging the stack. Event
// handlers use it so a panic is retried like any other failure.
func Recover(ctx context.Context, log *slog.Logger, op string, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			log.ErrorContext(ctx, "panic in handler", "op", op, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("%s: internal error", op)
		}
	}()
	return fn()
}

// WriteError answers with a JSON error body {"error": msg}.
func WriteError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

type statusWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) { w.wrote = true; w.ResponseWriter.WriteHeader(code) }
func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Buffer collects output written from many goroutines at once (a log
// shared by concurrent passes, a child process's output); String reads
// what it has so far. The zero value is ready to use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
