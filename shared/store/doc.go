// Package store keeps the product's state in Firestore. The engines and
// functions reach Firestore only through it; the reference CRM (package
// refcrm) keeps its own documents in the same database with the client
// Store.Client gives, and the sandbox and tests open clients of their own.
//
// A Store is opened once per function instance (Open) and hands out typed
// repositories, each over one part of the data model:
//
//	tenants/{tenantID}                    Tenants: a firm's settings
//	users/{userID}                        Users: one Google account of a firm (ID is the lowercased address)
//	users/{userID}/cursors/{name}         Cursors: per-user sync positions (Gmail historyId, sync tokens, CRM cursors)
//	users/{userID}/leases/{scope}         Leases: one pass per user and scope at a time
//	ledger/{scope}:{key}                  Ledger: idempotency records of side effects
//	users/{userID}/links-{kind}/{id}      Links: sync link tables (contacts, calendar)
//	oauthStates/{state}                   OAuthStates: pending sign-ins and connections
//	previews/{user}:{version}             Previews: preview reports, decided once
//
// Every write that depends on what is stored runs in a transaction or is a
// conditional write (the document absent, or unchanged since it was read),
// so repositories are safe for concurrent use by many instances. Errors carry a
// failure.Kind: NotFound for a missing document, Conflict for a failed
// precondition (a lease held by another, a stale cursor, an existing key),
// Transient for contention and unavailability.
//
// Documents that expire (leases, ledger entries) carry an expireAt field that
// a Firestore TTL policy (infra/) deletes; the code never relies on the
// deletion having happened.
//
// Tests run against the Firestore emulator; see package storetest.
package store
