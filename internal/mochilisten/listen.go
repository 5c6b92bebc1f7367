package mochilisten

import (
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Listener is a mochi listener whose Close never takes the broker's
// client-list lock recursively.
type Listener struct {
	listeners.Listener
	srv *mochi.Server
}

// Wrap returns l for srv.AddListener.
func Wrap(srv *mochi.Server, l listeners.Listener) *Listener {
	return &Listener{Listener: l, srv: srv}
}

// NewTCP is listeners.NewTCP, wrapped.
func NewTCP(srv *mochi.Server, cfg listeners.Config) *Listener {
	return Wrap(srv, listeners.NewTCP(cfg))
}

// Close stops accepting connections, then disconnects this listener's
// clients. The CloseFn mochi passes (Server.closeListenerClients, the
// deadlocking path) is not called.
func (l *Listener) Close(listeners.CloseFn) {
	l.Listener.Close(func(string) {})
	id := l.ID()
	for _, cl := range l.srv.Clients.GetAll() {
		if cl.Net.Listener == id && !cl.Closed() {
			_ = l.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
		}
	}
}
