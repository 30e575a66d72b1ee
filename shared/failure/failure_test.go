package failure

import (
	"errors"
	"fmt"
	"testing"
)

func TestKindOfWalksTheChain(t *testing.T) {
	base := errors.New("connection reset")
	tests := []struct {
		name string
		err  error
		want Kind
	}{
		{"nil", nil, Other},
		{"plain", base, Other},
		{"direct", E("history.list", CursorExpired, base), CursorExpired},
		{"wrapped with %w", fmt.Errorf("pass: %w", E("crm: post note", Transient, base)), Transient},
		{"outermost classified wins", E("engine", Permanent, E("crm", Transient, base)), Permanent},
		{"unclassified outer falls through", E("engine", Other, E("crm", Quota, base)), Quota},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KindOf(tt.err); got != tt.want {
				t.Errorf("KindOf(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorNamesTheCall(t *testing.T) {
	err := E("messages.batchModify", Transient, errors.New("503"))
	if got, want := err.Error(), "messages.batchModify: 503"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(fmt.Errorf("x: %w", err), err) {
		t.Error("errors.Is does not find the wrapped error")
	}
}

func TestRetryable(t *testing.T) {
	for k, want := range map[Kind]bool{Transient: true, Quota: true, Other: true, Permanent: false, AuthRevoked: false, CursorExpired: false, Invalid: false} {
		if got := k.Retryable(); got != want {
			t.Errorf("%v.Retryable() = %v, want %v", k, got, want)
		}
	}
}
