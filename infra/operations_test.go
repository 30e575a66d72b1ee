package infra_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// What issue 26 asks of the deployment, read from the real provider's
// plan: the database can be restored to any moment of the last week and
// is backed up daily; each way a user silently stops being synced has an
// alert whose documentation links a runbook section that exists; the
// log-based metrics count log lines the product really writes.
func TestPlanOperations(t *testing.T) {
	rs, _ := load(t)
	t.Run("Firestore point-in-time recovery and a daily backup", func(t *testing.T) {
		dbs := ofType(rs, "google_firestore_database")
		if len(dbs) != 1 || dbs[0].Values["point_in_time_recovery_enablement"] != "POINT_IN_TIME_RECOVERY_ENABLED" {
			t.Errorf("point-in-time recovery is not on: %v", dbs)
		}
		bs := ofType(rs, "google_firestore_backup_schedule")
		if len(bs) != 1 || bs[0].Values["retention"] != "1209600s" || first(bs[0].Values["daily_recurrence"]) == nil {
			t.Errorf("want one daily backup kept 14 days: %v", bs)
		}
	})

	runbook, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#+ (.+)$`).FindAllStringSubmatch(string(runbook), -1) {
		anchors[githubAnchor(m[1])] = true
	}
	metrics := map[string]string{}
	for _, r := range ofType(rs, "google_logging_metric") {
		metrics[fmt.Sprint(r.Values["name"])] = fmt.Sprint(r.Values["filter"])
	}
	t.Run("every alert links an existing runbook section", func(t *testing.T) {
		alerts := ofType(rs, "google_monitoring_alert_policy")
		if len(alerts) != 7 {
			t.Errorf("%d alert policies, want 7 (dead letters, failing passes, renewals, rate limits, lost access, configuration, function errors)", len(alerts))
		}
		link := regexp.MustCompile(`Runbook: docs/operations\.md#([a-z0-9-]+)`)
		for _, a := range alerts {
			doc := fmt.Sprint(first(a.Values["documentation"])["content"])
			m := link.FindStringSubmatch(doc)
			if m == nil || !anchors[m[1]] {
				t.Errorf("%s: its documentation links no existing section of docs/operations.md: %q", a.Values["display_name"], doc)
			}
			cond := fmt.Sprint(first(first(a.Values["conditions"])["condition_threshold"])["filter"])
			if name, ok := strings.CutPrefix(regexp.MustCompile(`logging\.googleapis\.com/user/([a-z_/]+)`).FindString(cond), "logging.googleapis.com/user/"); ok {
				if _, exists := metrics[name]; !exists {
					t.Errorf("%s watches the metric %s, which the plan does not make", a.Values["display_name"], name)
				}
			}
		}
		if len(ofType(rs, "google_monitoring_dashboard")) != 1 {
			t.Error("no dashboard")
		}
	})
	t.Run("log-based metrics count lines the product writes", func(t *testing.T) {
		var source strings.Builder
		for _, root := range []string{"../shared", "../functions"} {
			filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
				if err == nil && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
					b, _ := os.ReadFile(path)
					source.Write(b)
				}
				return nil
			})
		}
		quoted := regexp.MustCompile(`jsonPayload\.(?:message|err)(?:=~|=)"\^?([^"$]+)\$?"`)
		for name, filter := range metrics {
			ms := quoted.FindAllStringSubmatch(filter, -1)
			if len(ms) == 0 {
				t.Errorf("%s: no message in its filter %q", name, filter)
			}
			for _, m := range ms {
				if !strings.Contains(source.String(), strings.TrimPrefix(m[1], ": ")) {
					t.Errorf("%s counts lines with %q, which no code of the product writes", name, m[1])
				}
			}
		}
	})
}

// githubAnchor is the fragment GitHub gives a Markdown heading.
func githubAnchor(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	var b strings.Builder
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}
