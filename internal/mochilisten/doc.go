// Package mochilisten wraps a mochi-mqtt v2 listener so that shutting the
// broker down cannot deadlock.
//
// mochi v2.7.9 closes a listener's clients through Clients.GetByListener,
// which takes the client list's read lock and then, inside it, calls Len,
// which takes it again. A client connecting at that moment (its attach
// deletes a previous session under the write lock) queues a writer between
// the two read locks, and Go's RWMutex then blocks the second read lock
// forever: Server.Close hangs (upstream issue mochi-mqtt/server#488, fix
// pending in #489). It was seen here as an agent test hanging for 15 minutes
// while its broker closed during a reconnect; for central it would be a
// shutdown hang whenever a display connects during a restart.
//
// Listener.Close ignores the callback mochi passes and disconnects the
// listener's clients itself from a copy of the client list, taking the
// lock once.
package mochilisten
