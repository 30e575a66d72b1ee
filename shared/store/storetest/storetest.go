// Package storetest connects tests to the Firestore emulator.
//
// scripts/test.sh starts the emulator and sets FIRESTORE_EMULATOR_HOST and
// CRMSYNC_REQUIRE_EMULATORS=1. A test calls New(t) for a Store over a fresh
// project of its own, so tests never see each other's data and may run in
// parallel. Without the emulator the test is skipped with a message saying
// how to run it, unless CRMSYNC_REQUIRE_EMULATORS is set, in which case it
// fails: CI never passes by skipping.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/crmsync/crmsync/shared/clock"
	"github.com/crmsync/crmsync/shared/store"
)

// RequireEmulator skips or fails t when the named emulator variable is unset.
func RequireEmulator(t testing.TB, variable string) string {
	t.Helper()
	v := os.Getenv(variable)
	if v != "" {
		return v
	}
	if os.Getenv("CRMSYNC_REQUIRE_EMULATORS") != "" {
		t.Fatalf("%s is not set but CRMSYNC_REQUIRE_EMULATORS is: scripts/test.sh should have started the emulator", variable)
	}
	t.Skipf("%s is not set: run scripts/test.sh, which starts the emulators", variable)
	return ""
}

// RequireCommand skips or fails t, like RequireEmulator, when the program
// name is not on PATH.
func RequireCommand(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return
	}
	if os.Getenv("CRMSYNC_REQUIRE_EMULATORS") != "" {
		t.Fatalf("%s is not on PATH but CRMSYNC_REQUIRE_EMULATORS is set", name)
	}
	t.Skipf("%s is not on PATH", name)
}

// ProjectID returns a fresh project ID, so a test's data is its own.
func ProjectID(t testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "test-" + hex.EncodeToString(b)
}

// Client returns a Firestore client on the emulator for a fresh project.
func Client(t testing.TB) *firestore.Client {
	t.Helper()
	RequireEmulator(t, "FIRESTORE_EMULATOR_HOST")
	c, err := firestore.NewClient(context.Background(), ProjectID(t))
	if err != nil {
		t.Fatalf("firestore.NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// New returns a Store on the emulator for a fresh project, telling time by clk
// (nil for the real clock).
func New(t testing.TB, clk clock.Clock) *store.Store {
	t.Helper()
	return store.New(Client(t), clk)
}

// RPCCounter counts a client's Firestore RPCs by method ("Commit",
// "BatchGetDocuments", "RunQuery", …) and the document operations
// Firestore bills, for benchmarks that report the store's cost.
type RPCCounter struct {
	mu sync.Mutex
	u  Usage
}

// Usage is what a client spent: its RPCs by method, and the billed document
// reads (each document a get or query returns; a query or get that finds
// nothing still costs one), writes and deletes.
type Usage struct {
	RPCs map[string]int
	// Time is the time spent in each method's RPCs (a stream's until its
	// end).
	Time                   map[string]time.Duration
	Reads, Writes, Deletes int
}

func (c *RPCCounter) add(method string, reads, writes, deletes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if method != "" {
		c.u.RPCs[short(method)]++
	}
	c.u.Reads += reads
	c.u.Writes += writes
	c.u.Deletes += deletes
}

func short(method string) string { return method[strings.LastIndexByte(method, '/')+1:] }

func (c *RPCCounter) spent(method string, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.u.Time[short(method)] += d
}

// Take returns the usage since the last Take and starts again.
func (c *RPCCounter) Take() Usage {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.u
	c.u = Usage{RPCs: map[string]int{}, Time: map[string]time.Duration{}}
	return out
}

// countedStream counts the documents a read stream returns.
type countedStream struct {
	grpc.ClientStream
	c      *RPCCounter
	method string
	start  time.Time
	found  int
	done   bool
}

func (s *countedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err == nil {
		switch r := m.(type) {
		case *firestorepb.BatchGetDocumentsResponse:
			if r.GetFound() != nil || r.GetMissing() != "" {
				s.found++ // found or missing, each document asked for is billed
			}
		case *firestorepb.RunQueryResponse:
			if r.Document != nil {
				s.found++
			}
		}
		return nil
	}
	if !s.done {
		s.done = true
		s.c.add("", max(s.found, 1), 0, 0)
		s.c.spent(s.method, time.Since(s.start))
	}
	return err
}

// ownerCreds is the emulator's credential, as the Firestore client sends it.
type ownerCreds struct{}

func (ownerCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}
func (ownerCreds) RequireTransportSecurity() bool { return false }

// CountingClient is Client with every RPC counted.
func CountingClient(tb testing.TB) (*firestore.Client, *RPCCounter) {
	tb.Helper()
	RequireEmulator(tb, "FIRESTORE_EMULATOR_HOST")
	rpcs := &RPCCounter{u: Usage{RPCs: map[string]int{}, Time: map[string]time.Duration{}}}
	unary := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		t0 := time.Now()
		err := invoker(ctx, method, req, reply, cc, opts...)
		rpcs.spent(method, time.Since(t0))
		var writes []*firestorepb.Write
		switch r := req.(type) {
		case *firestorepb.CommitRequest:
			writes = r.Writes
		case *firestorepb.BatchWriteRequest:
			writes = r.Writes
		}
		var w, d int
		if err == nil {
			for _, x := range writes {
				if x.GetDelete() != "" {
					d++
				} else {
					w++
				}
			}
		}
		rpcs.add(method, 0, w, d)
		return err
	}
	stream := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		rpcs.add(method, 0, 0, 0)
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			return cs, err
		}
		return &countedStream{ClientStream: cs, c: rpcs, method: method, start: time.Now()}, nil
	}
	conn, err := grpc.NewClient(os.Getenv("FIRESTORE_EMULATOR_HOST"), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(ownerCreds{}), grpc.WithChainUnaryInterceptor(unary), grpc.WithChainStreamInterceptor(stream))
	if err != nil {
		tb.Fatal(err)
	}
	fs, err := firestore.NewClient(context.Background(), ProjectID(tb), option.WithGRPCConn(conn))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { fs.Close() })
	return fs, rpcs
}
