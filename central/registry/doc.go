// Package registry is the device fleet as central sees it
// (central.DeviceService, central.DeliveryService): it ingests device status
// and events from MQTT, keeps the fleet in memory with incremental
// aggregates (so summaries and pages stay fast at 100k devices), persists
// changes to bbolt in batches, tracks per-alert delivery and pushes changes
// to subscribers.
//
// # Ingest
//
// Handle is the MQTT handler: it only parses the topic and enqueues. One
// goroutine (Run) applies messages in order and, every FlushInterval, writes
// the changed devices and delivery records in one bbolt transaction and
// pushes coalesced changes (delivery stats per alert, fleet totals, and up
// to MaxDeviceChanges individual device changes).
//
// # Delivery
//
// Agents report "received" and "rejected" with the scope and seq of a
// snapshot, and "displayed" with the alert id. The alert service tells the
// registry which alerts each signed snapshot carries (NoteSnapshot), so a
// scope/seq maps back to alerts. "Still displayed on N" counts devices whose
// last status names the screen alert:<id>.
package registry
