package agent

import (
	"fmt"
	"testing"
)

// The inbox never blocks paho and stays bounded: when full, the oldest
// message of the same topic goes first (a newer snapshot supersedes it),
// else the oldest message.
func TestInboxBoundedDropPolicy(t *testing.T) {
	b := inbox{signal: make(chan struct{}, 1)}
	for i := 0; i < inboxMax; i++ {
		b.put(message{topic: fmt.Sprintf("t%d", i%4), payload: []byte{byte(i)}})
	}
	if dropped := b.put(message{topic: "t1", payload: []byte{200}}); dropped == 0 {
		t.Fatal("full inbox did not report a drop")
	}
	if dropped := b.put(message{topic: "other", payload: []byte{201}}); dropped == 0 {
		t.Fatal("full inbox did not report a drop")
	}
	got := b.drain()
	if len(got) != inboxMax {
		t.Fatalf("inbox holds %d, want %d", len(got), inboxMax)
	}
	// the first t1 message (payload 1) went for the new t1; then the oldest
	// overall (payload 0, topic t0) for "other"
	if got[0].payload[0] != 2 || got[len(got)-2].payload[0] != 200 || got[len(got)-1].payload[0] != 201 {
		t.Fatalf("drop order wrong: first %d, last two %d %d", got[0].payload[0], got[len(got)-2].payload[0], got[len(got)-1].payload[0])
	}
	for _, m := range got {
		if m.payload[0] == 1 || m.payload[0] == 0 {
			t.Fatalf("message %d should have been dropped", m.payload[0])
		}
	}
	if len(b.drain()) != 0 {
		t.Fatal("drain did not empty the inbox")
	}
}
