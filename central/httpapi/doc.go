// Package httpapi is central's plain HTTP surface: content blobs for agents
// (GET /content/<sha256>), alert preview PNGs for the console, /healthz,
// /metrics (Prometheus), device screenshot upload (basic auth with the
// device's broker credentials) and device enrollment (POST /api/v1/enroll,
// docs/PROTOCOL.md). The WebSocket admin API and the console assets are
// mounted from outside (Config.WS, Config.Console).
package httpapi
