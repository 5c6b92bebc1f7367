package mqttstore

import (
	"bytes"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

func publish(id uint16, payload string) *packets.PublishPacket {
	p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	p.Qos = 1
	p.Retain = true
	p.TopicName = "kiosk/v1/device/atm-1/status"
	p.MessageID = id
	p.Payload = []byte(payload)
	return p
}

func TestStoreKeepsPrivateCopies(t *testing.T) {
	s := New()
	s.Open()
	orig := publish(7, `{"state":"online"}`)
	s.Put("o.7", orig)

	// Mutating what paho still holds must not reach the store...
	orig.Payload[2] = 'X'
	got := s.Get("o.7").(*packets.PublishPacket)
	if !bytes.Equal(got.Payload, []byte(`{"state":"online"}`)) {
		t.Fatalf("stored payload changed with the original: %q", got.Payload)
	}
	if got.MessageID != 7 || got.Qos != 1 || !got.Retain || got.TopicName != orig.TopicName {
		t.Fatalf("copy lost fields: %+v", got)
	}
	// ...and what resume changes on a Get result must not reach the next Get
	// or the original (this is the DUP race of paho issue 703).
	got.Dup = true
	if again := s.Get("o.7").(*packets.PublishPacket); again.Dup {
		t.Fatal("Dup set on a Get result leaked into the store")
	}
	if orig.Dup {
		t.Fatal("Dup leaked into the original packet")
	}
	if keys := s.All(); len(keys) != 1 || keys[0] != "o.7" {
		t.Fatalf("All = %v", keys)
	}
	s.Del("o.7")
	if s.Get("o.7") != nil {
		t.Fatal("Get after Del returned a packet")
	}
	s.Put("o.8", publish(8, "x"))
	s.Reset()
	if len(s.All()) != 0 {
		t.Fatal("Reset left packets")
	}
	s.Close()
}

func TestStoreConcurrentGetWhileOriginalIsWritten(t *testing.T) {
	// Under -race this fails with MemoryStore and passes with Store: one
	// goroutine writes the original packet (paho's outgoing comms) while
	// another Gets it and sets DUP (paho's resume).
	s := New()
	s.Open()
	orig := publish(9, "payload")
	s.Put("o.9", orig)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			var b bytes.Buffer
			_ = orig.Write(&b)
		}
	}()
	for i := 0; i < 200; i++ {
		if p, ok := s.Get("o.9").(*packets.PublishPacket); ok {
			p.Dup = true
		}
	}
	<-done
}
