// Package agent is the display daemon's core: it keeps a verified warning on
// the screen under every failure (no network, no broker, a hostile broker, a
// power cut mid-update, a wrong clock).
//
// # Pieces
//
//   - MQTT (paho): persistent session, retained online/offline status with a
//     Last Will, subscriptions to the device's four state scopes and its
//     command topic, made in the on-connect handler.
//   - Verification: every snapshot and command goes through internal/wire
//     (signature against pinned keys, scope/device, per-scope seq strictly
//     above the persisted last one, expiry judged on an estimate of central's
//     time). Every rejection is logged and published as a "rejected" event.
//   - Cache (bbolt): the raw signed envelopes per scope, last seqs, content
//     blobs by sha256, remembered command ids. One transaction per accepted
//     snapshot; blobs no longer referenced are deleted in that transaction.
//   - Scheduler: merges the four scopes into one display.Screen at a time.
//   - Local trigger API: loopback HTTP for the ATM side (docs/AGENT.md).
//
// The core never imports ebiten: the screen is driven through the Presenter
// interface, so the same core runs headless in tests and in the fleet
// simulator. An Agent has no globals and binds no port unless configured, so
// many can run in one process.
//
// # Caveats
//
//   - Network timing (keepalive, reconnect backoff) is paho's and uses real
//     time; everything about content (expiry, rotation, overrides) uses the
//     injected clock.
//   - Time-to-first-screen: Run presents the cached (or built-in standing)
//     screen before it starts connecting.
package agent
