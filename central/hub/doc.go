// Package hub fans central.Change events out to subscribers (the WebSocket
// sessions) without ever blocking the publisher: a subscriber that falls
// behind loses events and then receives one central.ChangeResync, after which
// it refetches what it shows.
package hub
