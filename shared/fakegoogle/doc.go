// Package fakegoogle is a fake Google Workspace for tests and the sandbox:
// an HTTP server on the real REST paths of Gmail v1 (and, as they are
// added, People v1, Calendar v3 and OAuth), so the official Go clients talk
// to it unchanged:
//
//	fake := fakegoogle.New(fakegoogle.Options{Clock: clk})
//	url := fake.Start()
//	fake.AddUser(fakegoogle.User{Email: "ann@acme.test"})
//	tok := fake.Token("ann@acme.test", fakegoogle.ScopeGmailModify)
//	svc, _ := gmail.NewService(ctx, option.WithEndpoint(url+"/"),
//		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok})))
//
// # What it implements
//
// Common to every API: bearer-token authentication (401 UNAUTHENTICATED
// without a valid, unexpired, unrevoked token; 403 insufficientPermissions
// when none of the token's scopes is among the method's scopes in the
// discovery document; 403 "Delegation denied" for another user's data);
// errors in Google's JSON shape with legacy errors[] and a
// google.rpc.ErrorInfo detail; quota accounting per user and method with
// Google's published unit costs and a per-user budget per minute (a token
// bucket) answering 429 userRateLimitExceeded when spent; fault injection
// per method (a rate of 429/5xx or a scripted sequence, plus latency),
// deterministic for a seed; an injectable clock; seeding from Go or JSON.
//
// Gmail: getProfile; labels list/get/create/patch/update/delete with the
// system labels; messages insert/import/send/get (minimal, metadata, full,
// raw)/list (labelIds and a query subset, see gmailQuery)/modify/
// batchModify (≤1000 ids)/trash/untrash/delete; attachments.get; history
// with increasing, non-contiguous ids, messageAdded/messageDeleted/
// labelAdded/labelRemoved records, historyTypes, labelId, pages of ≤500 and
// 404 for a startHistoryId older than the retained history; watch (label
// filter include/exclude, 7-day expiration, a notification right after
// watch) and stop. While a watch is live, each matching change publishes
// {"emailAddress","historyId"} to the topic through Options.Publisher, at
// most once per NotifyInterval per user; changes in between coalesce into
// one notification with the latest history id (the history itself is never
// lost).
//
// # Where it knowingly differs from Google
//
//   - Gmail: search supports the subset documented on gmailQuery; threads
//     are formed by In-Reply-To/References only; send delivers only to users
//     of the fake and drops other recipients; no spam classification,
//     filters, drafts or threads.* methods; media upload paths
//     (/upload/gmail/...) are not served (use the raw field); watch does not
//     check that gmail-api-push@system.gserviceaccount.com may publish to the
//     topic; notifications carry historyId as a JSON number; every part with
//     a filename gets an attachmentId, other parts carry their data inline
//     whatever their size; the notification coalescing interval runs on the
//     real clock, not Options.Clock.
//   - Quota: one per-minute budget per user and API; Google's per-project
//     limits and daily limits are not modelled.
package fakegoogle
