// Package app wires central together: store, keys, embedded or external
// broker, registry, alert lifecycle, enrollment, users (central/auth), the
// WebSocket admin API (central/wsapi), the console and the HTTP API. The
// thin main (central/cmd/central) and the test harness (NewTest) both use it.
package app
