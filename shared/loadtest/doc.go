// Package loadtest holds the firm-scale benchmark: a simulated firm of N
// users (50 to 500) on the fake Google Workspace with realistic added
// latency, the Firestore emulator and the reference CRM over HTTP, running
// a working day's mix of mail, contact and calendar changes compressed
// into minutes through the product's engines. It reports throughput,
// per-user latency of each feature, Google quota units, Firestore RPCs,
// CRM calls and peak heap, per user, so growth from 50 to 500 users shows
// whether cost is linear in work rather than in users. The benchmark is
// in firm_test.go; run it with scripts/bench.sh (BENCH=Firm).
package loadtest
