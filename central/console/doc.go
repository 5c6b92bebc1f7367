// Package console is the browser admin console for central: a small
// single-page application (plain ES modules, no build step) embedded in the
// binary with go:embed and served by Handler.
//
// The console talks to central only over the WebSocket admin API at /ws
// (docs/ADMIN_API.md); it has no HTTP API of its own. Everything it shows
// that came from the server is inserted with textContent, never parsed as
// HTML: alert texts, device ids and audit details are attacker-reachable.
//
// Handler serves index.html at "/" and the assets next to it, with a strict
// Content-Security-Policy (scripts, styles and sockets only from the same
// origin; images from the same origin and data: URLs for previews and
// screenshots), so even a bug that let markup through could not run script.
//
// Mounting: central's HTTP mux registers Handler at "/" after its own
// routes (/ws, /content/, /healthz, /metrics, /api/...), which keep
// precedence because they are more specific patterns.
package console
