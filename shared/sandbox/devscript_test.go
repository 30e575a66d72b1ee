package sandbox_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crmsync/crmsync/shared/logging"
	"github.com/crmsync/crmsync/shared/store/storetest"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func listening(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
	if err == nil {
		c.Close()
	}
	return err == nil
}

type devRun struct {
	cmd              *exec.Cmd
	out              *logging.Buffer
	web, google, crm int
	pubsub           int
	firestore        int
	ready            chan struct{}
}

// startDev runs scripts/dev.sh on free ports and waits until it says it is
// ready.
func startDev(t *testing.T) *devRun {
	t.Helper()
	storetest.RequireCommand(t, "gcloud")
	root, _ := filepath.Abs("../..")
	d := &devRun{out: &logging.Buffer{}, web: freePort(t), google: freePort(t), crm: freePort(t), pubsub: freePort(t), firestore: freePort(t), ready: make(chan struct{})}
	// Started with SIGINT ignored, as a script's background job is
	// (`scripts/dev.sh &`): Ctrl-C must stop it all the same.
	d.cmd = exec.Command("bash", "-c", `trap "" INT; exec scripts/dev.sh`)
	d.cmd.Dir = root
	d.cmd.Env = append(os.Environ(),
		fmt.Sprint("CRMSYNC_WEB_PORT=", d.web), fmt.Sprint("CRMSYNC_GOOGLE_PORT=", d.google), fmt.Sprint("CRMSYNC_CRM_PORT=", d.crm), "CRMSYNC_SECRET_CRM_API_KEY=", fmt.Sprint("CRMSYNC_PUBSUB_PORT=", d.pubsub), fmt.Sprint("CRMSYNC_FIRESTORE_PORT=", d.firestore),
		"GOOGLE_CLOUD_PROJECT=dev-script-test", "FIRESTORE_EMULATOR_HOST=", "PUBSUB_EMULATOR_HOST=")
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	d.cmd.Stdout, d.cmd.Stderr = pw, pw
	go func() {
		sc := bufio.NewScanner(pr)
		once := sync.Once{}
		for sc.Scan() {
			d.out.Write(append(sc.Bytes(), '\n'))
			if strings.HasPrefix(sc.Text(), "Ready in ") {
				once.Do(func() { close(d.ready) })
			}
		}
	}()
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		pw.Close()
	})
	select {
	case <-d.ready:
	case <-time.After(3 * time.Minute):
		t.Fatalf("dev.sh did not get ready within 3 minutes:\n%s", d.out)
	}
	return d
}

func (d *devRun) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		t.Fatalf("dev.sh did not exit within %v:\n%s", within, d.out)
		return nil
	}
}

func (d *devRun) assertNothingLeft(t *testing.T) {
	t.Helper()
	for _, p := range []int{d.web, d.google, d.crm, d.pubsub, d.firestore} {
		if listening(p) {
			t.Errorf("port %d still listens after dev.sh stopped", p)
		}
	}
	out, _ := exec.Command("pgrep", "-f", fmt.Sprintf("port=%d|port=%d", d.firestore, d.pubsub)).Output()
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("emulator processes left behind: %s", s)
	}
}

// The newcomer's path: dev.sh brings everything up, Health answers ok,
// Ctrl-C stops it all and leaves no process behind, also when dev.sh was
// started in the background by a script (SIGINT ignored at its start).
func TestDevScriptStartsServesAndStopsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole sandbox")
	}
	d := startDev(t)
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/Health", d.web))
	if err != nil {
		t.Fatalf("GET /Health: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"status":"ok"`) {
		t.Errorf("GET /Health = %d %s", resp.StatusCode, body)
	}
	// The fake Google Workspace serves the demo users' data.
	googleURL := fmt.Sprintf("http://127.0.0.1:%d", d.google)
	resp, err = http.Get(googleURL + "/.well-known/openid-configuration")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("fake Google at %s: %v", googleURL, err)
	} else {
		resp.Body.Close()
	}
	req, _ := http.NewRequest("GET", googleURL+"/gmail/v1/users/me/profile", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("fake Gmail without a token: %v %v, want 401", resp, err)
	}
	// The reference CRM serves the demo firm behind the default key.
	crmURL := fmt.Sprintf("http://127.0.0.1:%d", d.crm)
	users := crmGet(t, crmURL+"/v1/users", "sandbox-crm-key")
	if !strings.Contains(users, "ann@demo.test") || !strings.Contains(users, "bob@demo.test") {
		t.Errorf("reference CRM users: %s", users)
	}
	// As the docs show it: the sync key acts for a named CRM user.
	if crmGet(t, crmURL+"/v1/contacts?email=carol@client.test", "sandbox-crm-key", "X-CRM-User", "ann") == "" {
		t.Error("the demo contact is missing")
	}
	if code := crmStatus(t, crmURL+"/v1/users", ""); code != 401 {
		t.Errorf("reference CRM without a key: %d, want 401", code)
	}
	for _, want := range []string{"Demo Advisors", fmt.Sprintf("http://127.0.0.1:%d/Health", d.web), googleURL, crmURL, "ann@demo.test"} {
		if !strings.Contains(d.out.String(), want) {
			t.Errorf("banner does not show %q:\n%s", want, d.out)
		}
	}

	syscall.Kill(d.cmd.Process.Pid, syscall.SIGINT) // Ctrl-C reaches the script
	if err := d.wait(t, 30*time.Second); err != nil {
		t.Errorf("dev.sh exit after Ctrl-C: %v", err)
	}
	d.assertNothingLeft(t)
}

func crmStatus(t *testing.T, url, key string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func crmGet(t *testing.T, url, key string, header ...string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
		return ""
	}
	return string(b)
}

// When any child dies, dev.sh says so, stops the rest and fails.
func TestDevScriptStopsWhenAChildDies(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole sandbox")
	}
	d := startDev(t)
	exec.Command("pkill", "-KILL", "-f", fmt.Sprintf("port=%d", d.firestore)).Run()
	err := d.wait(t, 30*time.Second)
	if err == nil {
		t.Error("dev.sh exited 0 after the Firestore emulator died")
	}
	if !strings.Contains(d.out.String(), "stopping everything") {
		t.Errorf("dev.sh did not say why it stopped:\n%s", d.out)
	}
	d.assertNothingLeft(t)
}

// A busy port is named, with the variable that moves it; nothing starts.
func TestDevScriptNamesABusyPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	root, _ := filepath.Abs("../..")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "scripts/dev.sh")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), fmt.Sprint("CRMSYNC_WEB_PORT=", port))
	out, err := cmd.CombinedOutput()
	want := fmt.Sprintf("port %d (the functions) is already in use: stop whatever listens there, or choose another port with CRMSYNC_WEB_PORT=<port>.", port)
	if err == nil || !strings.Contains(string(out), want) {
		t.Errorf("dev.sh with a busy port: err %v, output:\n%s\nwant %q", err, out, want)
	}
}
