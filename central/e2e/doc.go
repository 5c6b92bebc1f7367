// Package e2e holds central's end-to-end tests: alerts created and approved
// over the WebSocket admin API (central/wsclient) travel through a real MQTT
// broker (embedded mochi with device authentication and ACLs, or a
// mosquitto process) to real headless agent cores (agent/), whose
// displayed events come back as delivery progress on the WebSocket stream.
// The package has no non-test code.
package e2e
