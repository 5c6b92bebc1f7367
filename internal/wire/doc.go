// Package wire is the protocol shared by the display agent and central: the
// signed envelope, the message types, the MQTT topics and the hard limits.
// It imports nothing of this project, so both ends, the field-tech tool and
// the fleet simulator agree on one definition.
//
// # Trust model
//
// Every message a display shows is signed end to end by central with ed25519.
// The broker and the network are not trusted. An envelope carries the exact
// payload bytes, the id of the signing key and the signature over those bytes.
// Receivers verify first and decode second (Open, then a Decode function), so
// there is no canonical-JSON problem: the bytes that were signed are the bytes
// that are parsed.
//
// # Replay and expiry
//
// Signatures alone do not stop a hostile broker from replaying an old, validly
// signed snapshot. Each snapshot therefore carries a per-scope Seq that only
// grows, and Issued/Expires times. The rules a receiver applies (CheckSeq,
// Snapshot.Validate, Command.Validate) are here; persisting the last accepted
// seq is the receiver's job.
//
// # Caveats
//
//   - Open limits the envelope size before parsing anything; callers should
//     still cap what they read from the network at MaxEnvelopeBytes.
//   - Time fields are RFC 3339 in UTC. Validate does not look at the clock;
//     expiry is checked by the receiver, which knows how far to trust its clock.
package wire
