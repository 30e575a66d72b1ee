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
	"testing"

	"cloud.google.com/go/firestore"

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
