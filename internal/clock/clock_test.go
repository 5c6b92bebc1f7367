package clock

import (
	"testing"
	"time"
)

var epoch = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

func TestFakeTimerFiresOnlyWhenDue(t *testing.T) {
	f := NewFake(epoch)
	tm := f.NewTimer(10 * time.Second)
	f.Advance(9 * time.Second)
	select {
	case <-tm.C():
		t.Fatal("timer fired early")
	default:
	}
	f.Advance(time.Second)
	select {
	case got := <-tm.C():
		if want := epoch.Add(10 * time.Second); !got.Equal(want) {
			t.Fatalf("fired at %v, want %v", got, want)
		}
	default:
		t.Fatal("timer did not fire when due")
	}
	if tm.Stop() {
		t.Fatal("Stop after firing reported true")
	}
	if f.Waiters() != 0 {
		t.Fatalf("waiters = %d after fire", f.Waiters())
	}
}

func TestFakeTickerAndReset(t *testing.T) {
	f := NewFake(epoch)
	tk := f.NewTicker(time.Second)
	n := 0
	for i := 0; i < 5; i++ {
		f.Advance(time.Second)
		select {
		case <-tk.C():
			n++
		default:
		}
	}
	if n != 5 {
		t.Fatalf("ticks = %d, want 5", n)
	}
	tk.Stop()
	f.Advance(time.Hour)
	select {
	case <-tk.C():
		t.Fatal("tick after Stop")
	default:
	}

	tm := f.NewTimer(time.Minute)
	if !tm.Stop() {
		t.Fatal("Stop of armed timer reported false")
	}
	tm.Reset(time.Second)
	f.Advance(time.Second)
	select {
	case <-tm.C():
	default:
		t.Fatal("reset timer did not fire")
	}
}

func TestFakeSetWallKeepsMono(t *testing.T) {
	f := NewFake(epoch)
	f.Advance(time.Minute)
	m := f.Mono()
	wrong := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	f.SetWall(wrong)
	if !f.Now().Equal(wrong) {
		t.Fatalf("Now = %v, want %v", f.Now(), wrong)
	}
	if f.Mono() != m {
		t.Fatalf("Mono moved on SetWall: %v -> %v", m, f.Mono())
	}
	f.Advance(time.Second)
	if !f.Now().Equal(wrong.Add(time.Second)) || f.Mono() != m+time.Second {
		t.Fatalf("after Advance: Now %v Mono %v", f.Now(), f.Mono())
	}
}

func TestBlockUntil(t *testing.T) {
	f := NewFake(epoch)
	done := make(chan struct{})
	go func() {
		f.NewTimer(time.Second)
	}()
	if !f.BlockUntil(1, done) {
		t.Fatal("BlockUntil returned false")
	}
	close(done)
	if f.BlockUntil(2, done) {
		t.Fatal("BlockUntil(2) returned true with one waiter")
	}
}

func TestRealClockMonotonic(t *testing.T) {
	var c Clock = Real{}
	a := c.Mono()
	b := c.Mono()
	if b < a {
		t.Fatalf("Mono went backwards: %v then %v", a, b)
	}
}
