// Package store is central's bbolt database: users, alerts and campaign items
// with their versions, devices and their credentials, per-scope snapshot
// seqs with the last signed snapshot, content blobs by SHA-256, enrollment
// tokens, settings and the append-only, hash-chained audit log.
//
// # Basics
//
// Open creates or upgrades the file (schema version in the meta bucket,
// migrations applied in order, each in its own transaction) and refuses a
// file written by a newer schema. View and Update run a function in a
// read-only or read-write transaction; Tx has typed accessors so a service
// can change an alert, bump scope seqs, store the signed snapshots and
// append the audit entry atomically.
//
// # Caveats
//
//   - bbolt allows one writer at a time; the device registry batches its
//     writes (PutDevices) instead of one transaction per status message.
//   - Values are JSON; a value that fails to decode is reported with its
//     bucket and key rather than skipped.
//   - The audit chain detects tampering by anyone who cannot also recompute
//     every later hash; export the head hash elsewhere (Verify returns it) to
//     detect a rewrite of the whole tail.
package store
