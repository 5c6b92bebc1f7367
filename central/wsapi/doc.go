// Package wsapi is central's WebSocket admin API at /ws: the only way the
// browser console and admin tools change anything. docs/ADMIN_API.md is its
// specification; this package implements it on top of the central service
// interfaces.
//
// # Basics
//
// Server.ServeHTTP checks the Origin before upgrading (same host or an
// allow-listed origin; anything else gets 403 and no WebSocket), accepts an
// optional bearer token, and then runs one connection:
//
//   - the reader (the ServeHTTP goroutine) reads frames with a soft size limit
//     (too large: typed error, frame skipped) under a hard one (the connection
//     closes), parses the request and hands it to a bounded set of handler
//     goroutines;
//   - one writer goroutine owns every write: responses, pushes, pings;
//   - a push goroutine, started by the first streams.subscribe, forwards the
//     central.DeliveryService changes the connection asked for;
//   - a session goroutine tells the console when its session ends.
//
// Every method is authorized by role here (central.Permission) and again by
// the service, which receives the acting user; mutating calls are logged
// with slog (user, role, method, object, remote, result code).
//
// # Caveats
//
//   - Timers (authentication deadline, ping/pong) run on the injected clock;
//     socket write deadlines are necessarily real time.
//   - A connection whose pushes back up loses the oldest and receives a
//     resync event; responses are never dropped.
//   - Server.Close closes every connection and waits for all goroutines.
package wsapi
