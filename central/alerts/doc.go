// Package alerts implements the alert and campaign lifecycle
// (central.AlertService, central.CampaignService, central.GuardService):
// validation, the content guard, the two-person rule, and publishing.
//
// # Publishing
//
// What displays show is one retained, signed snapshot per scope. Any change
// to what is live (publish, approve, cancel, expiry) runs, under one lock:
//
//  1. a bbolt transaction that changes the alert, rebuilds every affected
//     scope's snapshot with seq = stored seq + 1, signs it, stores it with
//     the new seq (not yet acknowledged), and appends the audit entry;
//  2. a QoS 1 retained publish of each new snapshot, waiting for the
//     broker's acknowledgement, then marks the scope acknowledged.
//
// Seqs are therefore persisted before they are published and never go
// backwards, even across kill -9. A method returns success only after step
// 2; if the broker is unreachable the change stays stored and the error says
// so, and the re-issuer publishes it (with a fresh seq) when the broker is
// back (Reissue on every (re)connect).
//
// The re-issuer (Run) also re-signs every scope well before its snapshot
// expires (at half its lifetime by default) and moves alerts and items
// whose expiry passed to the expired state.
package alerts
