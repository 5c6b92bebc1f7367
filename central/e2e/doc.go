// Package e2e holds central's end-to-end tests of the admin API: central as
// assembled by central/app, driven only over the WebSocket API
// (central/wsclient). Alerts created and approved there travel through a
// real MQTT broker (the embedded mochi with device authentication and ACLs,
// or a mosquitto process) to real headless agent cores (agent/), whose
// displayed events come back as delivery progress on the WebSocket stream.
// The package has no non-test code.
package e2e
