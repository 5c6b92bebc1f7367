// Package wsclient is a small Go client for central's WebSocket admin API
// (docs/ADMIN_API.md), used by tests and admin tools.
//
// Dial connects, Call sends one request and waits for its response
// (responses are matched by id, so calls may run concurrently), Pushes
// delivers stream events, Orphans delivers errors the server could not tie
// to a request (a frame too large or not JSON). Close stops the reader and
// waits for it.
package wsclient
