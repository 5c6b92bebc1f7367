package mochilisten

import (
	"net"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

type allow struct{ mochi.HookBase }

func (allow) ID() string { return "allow" }
func (allow) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}
func (allow) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }
func (allow) OnACLCheck(*mochi.Client, string, bool) bool              { return true }

// spyCloseFn records whether mochi's own (deadlock-prone) client closing ran.
type spy struct{ called bool }

func (s *spy) fn(string) { s.called = true }

func TestCloseDisconnectsClientsWithoutMochisPath(t *testing.T) {
	srv := mochi.New(&mochi.Options{InlineClient: true})
	if err := srv.AddHook(new(allow), nil); err != nil {
		t.Fatal(err)
	}
	l := NewTCP(srv, listeners.Config{ID: "tcp", Address: "127.0.0.1:0"})
	if err := srv.AddListener(l); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	lost := make(chan error, 1)
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + l.Address()).SetClientID("c1").
		SetAutoReconnect(false).SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err }))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(0)

	s := &spy{}
	done := make(chan struct{})
	go func() { l.Close(s.fn); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return")
	}
	if s.called {
		t.Fatal("mochi's closeListenerClients path (GetByListener, mochi#488) was used")
	}
	select {
	case <-lost:
	case <-time.After(20 * time.Second):
		t.Fatal("the connected client was not disconnected by Close")
	}
	if _, err := net.DialTimeout("tcp", l.Address(), time.Second); err == nil {
		t.Fatal("listener still accepts connections after Close")
	}
	srv.Close()
}
