package workspace

import (
	"context"
	"io"
	"net/http"
)

// BodyMeter is told the size of each chunk of an answer's body as it
// arrives, before the client decodes it. An error refuses the rest: the
// read fails with it, and so does the call.
type BodyMeter func(n int) error

type meterKey struct{}

// WithBodyMeter returns ctx under which the answers of the calls made with
// it are read through meter. It is how a caller bounds the memory a
// download takes as it arrives, instead of asking for its size first.
func WithBodyMeter(ctx context.Context, meter BodyMeter) context.Context {
	return context.WithValue(ctx, meterKey{}, meter)
}

// meteredTransport hands each answer's body to the meter of its request's
// context, when there is one.
type meteredTransport struct{ base http.RoundTripper }

func (t meteredTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if m, ok := req.Context().Value(meterKey{}).(BodyMeter); ok && err == nil && resp.Body != nil {
		resp.Body = &meteredBody{ReadCloser: resp.Body, meter: m}
	}
	return resp, err
}

type meteredBody struct {
	io.ReadCloser
	meter BodyMeter
	err   error
}

func (b *meteredBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		if merr := b.meter(n); merr != nil {
			b.err = merr
			return 0, merr
		}
	}
	return n, err
}
