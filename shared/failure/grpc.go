package failure

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// FromGRPC classifies an error of a gRPC client (Firestore, Pub/Sub,
// Secret Manager) by its status code and names the call that failed. An
// error that already has a kind keeps it; nil stays nil.
func FromGRPC(op string, err error) error {
	if err == nil {
		return nil
	}
	var fe *Error
	if errors.As(err, &fe) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return E(op, Transient, err)
	}
	switch status.Code(err) {
	case codes.NotFound:
		return E(op, NotFound, err)
	case codes.AlreadyExists, codes.FailedPrecondition:
		return E(op, Conflict, err)
	case codes.Aborted, codes.Unavailable, codes.DeadlineExceeded, codes.Internal, codes.Canceled:
		return E(op, Transient, err)
	case codes.ResourceExhausted:
		return E(op, Quota, err)
	case codes.InvalidArgument, codes.OutOfRange:
		return E(op, Invalid, err)
	case codes.PermissionDenied, codes.Unauthenticated:
		return E(op, Permanent, err)
	}
	return E(op, Other, err)
}
