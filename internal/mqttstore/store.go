package mqttstore

import (
	"bytes"
	"sync"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// Store is an in-memory paho Store holding private copies of packets.
type Store struct {
	mu sync.Mutex
	m  *mqtt.MemoryStore
}

var _ mqtt.Store = (*Store)(nil)

// New returns an empty Store; pass it to ClientOptions.SetStore.
func New() *Store { return &Store{m: mqtt.NewMemoryStore()} }

func (s *Store) Open() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m.Open()
}

// Put stores a copy. paho calls Put before the packet is handed to its
// writer goroutine, so reading the packet here races with nothing.
func (s *Store) Put(key string, p packets.ControlPacket) {
	c := clone(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m.Put(key, c)
}

// Get returns a copy the caller may change (resume sets DUP on it).
func (s *Store) Get(key string) packets.ControlPacket {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.m.Get(key)
	if p == nil {
		return nil
	}
	return clone(p)
}

func (s *Store) All() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.All()
}

func (s *Store) Del(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m.Del(key)
}

func (s *Store) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m.Close()
}

func (s *Store) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m.Reset()
}

// clone copies a packet through its wire form, which every packet type
// round-trips exactly. A packet that cannot be re-read (it would not be
// sendable either) is kept as is rather than lost.
func clone(p packets.ControlPacket) packets.ControlPacket {
	if p == nil {
		return nil
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		return p
	}
	c, err := packets.ReadPacket(&buf)
	if err != nil {
		return p
	}
	return c
}
