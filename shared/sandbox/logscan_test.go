package sandbox_test

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/shared/logging"
)

// capturedLogs is everything the sandbox's functions and the sandbox
// itself write to stdout and stderr during the end-to-end run (the
// functions log there, as on Cloud Run), still echoed to the test's own.
type capturedLogs = logging.Buffer

// captureLogs redirects os.Stdout and os.Stderr for the rest of the test
// process, still echoing to the originals. They are not put back: the
// Functions Framework's server cannot be stopped, and requests Pub/Sub
// pushes after the test still log (and read os.Stderr) while the process
// ends.
func captureLogs(t *testing.T) *capturedLogs {
	logs := &capturedLogs{}
	for _, f := range []**os.File{&os.Stdout, &os.Stderr} {
		orig := *f
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		*f = w
		go io.Copy(io.MultiWriter(logs, orig), r)
	}
	return logs
}

// scanLogs fails for every forbidden string found in the logs: tokens,
// secrets, message bodies and attachment data.
func scanLogs(t *testing.T, logs string, forbidden map[string]string) {
	if !strings.Contains(logs, "mail: pass done") || !strings.Contains(logs, "web: signed in") {
		t.Fatalf("the capture holds no function logs (%d bytes); the scan would prove nothing", len(logs))
	}
	for what, s := range forbidden {
		if s == "" {
			t.Errorf("nothing to look for as %s", what)
			continue
		}
		if i := strings.Index(logs, s); i >= 0 {
			start, end := max(0, i-200), min(len(logs), i+len(s)+100)
			t.Errorf("the logs contain %s:\n…%s…", what, logs[start:end])
		}
	}
	t.Logf("scanned %d bytes of logs for %d kinds of secret", len(logs), len(forbidden))
}
