// Package broker runs central's MQTT side: the embedded mochi-mqtt v2
// broker (Embedded) with per-device authentication and topic ACLs, and the
// client central itself uses to publish snapshots and commands and to read
// device status and events (Client), against the embedded broker or an
// external one (mosquitto, a cluster).
//
// # Embedded broker settings (see ARCHITECTURE.md, measured pitfalls)
//
//   - MaximumMessageExpiryInterval 0: otherwise mochi expires retained 3.1.1
//     messages after a day, and displays that reconnect later would find no
//     snapshot.
//   - MaximumClientWritesPending 256 instead of 8192 (~64 KiB per client).
//     When a client's write queue is full mochi drops messages to it, QoS 1
//     included, so central does not read the fleet's status and events
//     through a network client: it subscribes inside the broker
//     (Embedded.Subscribe), where a slow reader slows the publishers instead.
//   - Retained messages, sessions and subscriptions are persisted with
//     mochi's bolt storage hook in broker.db; mochi writes a retained message
//     to the hook before it acknowledges the publish, so a snapshot central
//     saw acknowledged survives a kill -9. In-flight QoS 1 messages are not
//     persisted (an fsync per message per subscriber; see persistHook).
//
// # Access control
//
// A device connects with username = its device id and the password central
// generated at enrollment (only a SHA-256 of it is stored: the password is
// 256 random bits, so a slow hash adds nothing but connect-storm latency).
// Its client id must be the device id or "kiosk-" + device id. It may
// publish only to kiosk/v1/device/<id>/status and .../event, and subscribe
// only to kiosk/v1/state/... and kiosk/v1/device/<id>/cmd. Central's own
// client authenticates with a random per-start credential and may do
// anything.
//
// # Central's client
//
// Client keeps a persistent session (CleanSession false) so the broker
// queues the fleet's status and events while central is away. paho then
// resends unacknowledged publishes after a reconnect, alongside the
// on-connect handler in which central re-signs its snapshots with newer
// seqs; Publish therefore waits (at most ResumeWait) until the resent ones
// are acknowledged, so the broker never ends up retaining an older
// snapshot. The store is internal/mqttstore (paho's MemoryStore races on
// the DUP flag, upstream #703). Subscriptions the broker refuses (SUBACK
// 0x80, as NATS does after a cluster change) are retried while connected.
package broker
