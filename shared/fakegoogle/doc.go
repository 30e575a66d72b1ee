// Package fakegoogle is a fake Google Workspace for tests and the sandbox:
// an HTTP server on the real REST paths of Gmail v1, People v1, Calendar v3
// and Google's OAuth 2.0 / OpenID Connect endpoints, so the official Go
// clients and golang.org/x/oauth2 talk to it unchanged:
//
//	fake := fakegoogle.New(fakegoogle.Options{Clock: clk})
//	url := fake.Start()
//	fake.AddUser(fakegoogle.User{Email: "ann@acme.test"})
//	tok := fake.Token("ann@acme.test", fakegoogle.ScopeGmailModify)
//	ts := option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok}))
//	mail, _ := gmail.NewService(ctx, option.WithEndpoint(url+"/"), ts)
//	contacts, _ := people.NewService(ctx, option.WithEndpoint(url+"/"), ts)
//	cal, _ := calendar.NewService(ctx, option.WithEndpoint(url+"/calendar/v3/"), ts)
//	cfg := oauth2.Config{Endpoint: fake.Endpoint(), …} // after fake.AddClient
//
// Tests of the product hand fake.Tokens to workspace.Factory as its
// TokenSourceFunc: one lasting grant per user, as a stored refresh token
// is. InsertMessage and LabelMessages deliver and label mail as Gmail and
// its user do, without spending API quota.
//
// The sandbox serves it with Listen on port 8090 (CRMSYNC_GOOGLE_PORT).
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
// bucket) answering, when spent, 403 usageLimits userRateLimitExceeded
// "User Rate Limit Exceeded" as Gmail's and Calendar's "Resolve errors"
// guides document it (or 429 RESOURCE_EXHAUSTED with Retry-After, the other
// shape Google answers, with Options.QuotaExceededStatus); fault injection
// per method (a rate of 403/429/5xx or a scripted sequence, plus latency;
// an injected 403 is the usage-limit 403 rateLimitExceeded), deterministic
// for a seed; an injectable clock; seeding from Go or JSON.
//
// Gmail: getProfile; labels list/get/create/patch/update/delete with the
// system labels; messages insert/import/send/get (minimal, metadata, full,
// raw)/list (labelIds and a query subset, see gmailQuery)/modify/
// batchModify (≤1000 ids)/trash/untrash/delete; attachments.get; history
// with increasing, non-contiguous ids, messageAdded/messageDeleted/
// labelAdded/labelRemoved records, historyTypes, labelId, pages of ≤500 and
// 404 for a startHistoryId older than the retained history; watch (label
// filter include/exclude, 7-day expiration; no notification for the watch
// itself, only for changes after it) and stop. While a watch is live, each matching change publishes
// {"emailAddress","historyId"} to the topic through Options.Publisher, at
// most once per NotifyInterval per user; changes in between coalesce into
// one notification with the latest history id (the history itself is never
// lost).
//
// People: connections.list (personFields required; pageSize ≤1000;
// sortOrder; requestSyncToken, with nextSyncToken only on the last page;
// page and sync tokens refused with other parameters than they were issued
// for; incremental results include deleted people with metadata.deleted;
// sync tokens expire after PeopleSyncTokenLifetime, 7 days, or on
// InvalidateSyncTokens, answering 400 FAILED_PRECONDITION with ErrorInfo
// EXPIRED_SYNC_TOKEN; changes reach incremental results after
// PeopleSyncDelay); people.get (also people/me); createContact;
// updateContact (updatePersonFields, etag required, a stale etag → 400
// failedPrecondition); deleteContact; batchCreateContacts and
// batchUpdateContacts (≤200, all or nothing), batchDeleteContacts (≤500);
// contactGroups list/get (maxMembers)/create (duplicate name → 409)/
// members.modify (≤1000 names; system groups other than myContacts and
// starred refuse additions; a contact's last group is not removed). A
// contact keeps names, emailAddresses, phoneNumbers, birthdays,
// memberships, organizations and biographies, with field metadata,
// display names and formatted types as Google fills them.
//
// Calendar: calendarList.list; calendars.get ("primary" too)/insert;
// events list/get/insert/patch (merge semantics)/update/delete/instances.
// events.list pages (maxResults ≤2500), issues nextSyncToken on the last
// page, returns changes since a sync token with deleted events as
// status=cancelled, refuses iCalUID, orderBy, privateExtendedProperty, q,
// sharedExtendedProperty, timeMin, timeMax and updatedMin with a sync token,
// and answers 410 fullSyncRequired for a token it no longer honours
// (InvalidateSyncTokens). singleEvents=true expands RRULE/RDATE/EXDATE
// series server-side (rrule-go, in the event's time zone across DST) into
// instances with recurringEventId and originalStartTime, ids
// "<series>_20261102T140000Z" (timed) or "<series>_20261102" (all-day);
// singleEvents=false returns series and their exceptions, cancelled
// instances included. Listed cancelled events come in Google's minimal
// shape (the Events resource, field "status"): a cancelled occurrence
// with only id, status, recurringEventId and originalStartTime; a deleted
// event in an incremental sync without showDeleted with only id and
// status; events.get keeps the details. Every page must repeat the first
// page's parameters ("perform the exact same request as previously and
// append a pageToken", the pagination guide); a page token sent with other
// parameters is refused 400 invalid (Google's pages do not say what it
// answers; the fake is strict). Patching, updating or deleting an instance makes an
// exception. All-day events use date and an exclusive end date. Attachments
// are kept only with supportsAttachments=true (≤25, fileUrl required);
// extendedProperties.private/shared are kept and filterable; client-chosen
// ids must be base32hex of 5–1024 characters (409 on reuse). events.watch
// opens a web_hook channel (default and maximum lifetimes 7 and 30 days):
// a "sync" POST right away, then "exists" after each change, with
// X-Goog-Channel-ID/-Token/-Expiration, X-Goog-Resource-ID/-URI/-State and
// X-Goog-Message-Number, in order per channel; channels.stop ends it.
//
// OAuth and OpenID Connect: an authorization endpoint with a consent page
// (an account chooser honouring login_hint, a ticked checkbox per scope
// other than sign-in's that the user may untick, as Google's granular
// consent does, Allow and Cancel buttons; the code and the token answer
// carry the scopes granted; include_granted_scopes=true adds the user's
// earlier grants to the client, as incremental authorization does) that
// checks the client and its registered redirect URIs, returns state, and
// honours PKCE (S256, plain), access_type=offline and prompt=consent (a
// refresh token on a user's first offline consent to a client, and again
// only when consent is forced); a token endpoint for authorization_code
// (codes single-use, 10 minutes), refresh_token and the JWT-bearer grant of
// service accounts (AddServiceAccount returns a JSON key; sub acts as a
// user only for scopes granted with AuthorizeDelegation, as in the Admin
// console); invalid_grant after revocation (the revoke endpoint or
// RevokeUser), and "Invalid email or User ID" for a user a delegation
// assertion names who does not exist or is suspended (SuspendUser); id_tokens (RS256, iss https://accounts.google.com, email,
// email_verified, hd, nonce) verifiable with the keys at JWKSURL, which
// also verify OIDCToken's tokens, as Pub/Sub push and Cloud Scheduler send.
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
//   - People: other person fields (addresses, photos, urls, …) are accepted
//     in read masks but not stored, and updates naming them are refused
//     rather than dropped; phone numbers get no canonicalForm; contact
//     groups have no sync tokens, update or delete; otherContacts,
//     searchContacts and the directory are not served. As strict as
//     Google about singletons (one name, one birthday), the etag (the
//     person's or the contact source's in metadata.sources) and
//     memberships; more lenient by default in two ways tests turn off:
//     changes reach sync results after PeopleSyncDelay (default 0; Google
//     documents minutes), and the first page of a full sync has its own
//     quota only with FullSyncFirstPagesPerMinute. Every People and
//     Calendar call costs 1 quota unit (Google counts requests per minute).
//   - Calendar: only the user's own calendars exist (others' answer 404);
//     a series overlaps timeMin/timeMax when one of its instances does, and
//     open-ended series expand at most two years past now (or to timeMax)
//     and 2,500 instances; changing a series' times keeps its exceptions;
//     events.instances of a single event is empty; If-Match, sendUpdates,
//     conferenceData and colours are not interpreted; channel addresses may
//     be http; a failed push is counted (PushFailures), not retried.
//   - OAuth: no prompt=none or user info endpoint; the consent page lists
//     every user of the fake; JWT
//     assertions are checked against Options.Clock, so tests that sign with
//     the real time use clock.Real; id_tokens carry no at_hash.
//   - Quota: a budget per user and API and one per project and API, each
//     the units of any rolling minute (Gmail's quota page, updated 1 May
//     2026: 6,000 per minute per user per project and 1,200,000 per minute
//     per project; QuotaBurst turns the per-user one into the older token
//     bucket). The daily threshold (80 million units a day per project,
//     a billing threshold, not a refusal) is not modelled. Gmail's daily
//     sending limit is (Options.SendLimitPerDay, recipients over a rolling
//     day: 429 "User-rate limit exceeded. Retry after …").
package fakegoogle
