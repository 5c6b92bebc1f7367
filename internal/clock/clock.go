package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock is the time source injected into anything that waits or expires.
type Clock interface {
	// Now is the wall-clock time.
	Now() time.Time
	// Mono is a monotonic reading: only differences between two readings mean anything.
	Mono() time.Duration
	// NewTimer fires once after d.
	NewTimer(d time.Duration) Timer
	// NewTicker fires every d until stopped.
	NewTicker(d time.Duration) Ticker
}

// Timer is the part of *time.Timer the project uses.
type Timer interface {
	C() <-chan time.Time
	// Stop reports whether the call stopped the timer before it fired.
	Stop() bool
	// Reset re-arms the timer to fire after d.
	Reset(d time.Duration)
}

// Ticker is the part of *time.Ticker the project uses.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Real is the system clock.
type Real struct{}

var realStart = time.Now()

func (Real) Now() time.Time                   { return time.Now() }
func (Real) Mono() time.Duration              { return time.Since(realStart) }
func (Real) NewTimer(d time.Duration) Timer   { return realTimer{time.NewTimer(d)} }
func (Real) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time   { return r.t.C }
func (r realTimer) Stop() bool            { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) { r.t.Reset(d) }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// Fake is a manual clock for tests. The zero value is not usable; use NewFake.
type Fake struct {
	mu      sync.Mutex
	wall    time.Time     // wall time at mono == 0
	mono    time.Duration // elapsed "real" time
	waiters []*fakeWaiter
	changed chan struct{} // closed and replaced whenever a waiter is added
}

// NewFake returns a fake clock whose wall time starts at start.
func NewFake(start time.Time) *Fake {
	return &Fake{wall: start, changed: make(chan struct{})}
}

func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.wall.Add(f.mono)
}

func (f *Fake) Mono() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mono
}

// SetWall moves the wall clock to t without any elapsed time: Mono does not
// change and no timer fires. It models a display whose clock was set wrong.
func (f *Fake) SetWall(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.wall = t.Add(-f.mono)
}

// Advance moves time forward by d, firing every timer and ticker that falls
// due, in order of their deadlines.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	target := f.mono + d
	for {
		w := f.nextDueLocked(target)
		if w == nil {
			break
		}
		f.mono = w.due
		now := f.wall.Add(f.mono)
		if w.period > 0 {
			w.due += w.period
		} else {
			w.active = false
			f.removeLocked(w)
		}
		select { // like time.Ticker: drop a tick nobody has read
		case w.ch <- now:
		default:
		}
	}
	f.mono = target
	f.mu.Unlock()
}

// Waiters is the number of armed timers and tickers. Tests use BlockUntil
// instead of sleeping until the code under test has armed its timer.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// BlockUntil returns when at least n timers or tickers are armed, or when
// done is closed (it then returns false).
func (f *Fake) BlockUntil(n int, done <-chan struct{}) bool {
	for {
		f.mu.Lock()
		if len(f.waiters) >= n {
			f.mu.Unlock()
			return true
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-done:
			return false
		}
	}
}

func (f *Fake) nextDueLocked(limit time.Duration) *fakeWaiter {
	sort.SliceStable(f.waiters, func(i, j int) bool { return f.waiters[i].due < f.waiters[j].due })
	if len(f.waiters) > 0 && f.waiters[0].due <= limit {
		return f.waiters[0]
	}
	return nil
}

func (f *Fake) addLocked(w *fakeWaiter) {
	w.active = true
	f.waiters = append(f.waiters, w)
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *Fake) removeLocked(w *fakeWaiter) {
	for i, x := range f.waiters {
		if x == w {
			f.waiters = append(f.waiters[:i], f.waiters[i+1:]...)
			return
		}
	}
}

type fakeWaiter struct {
	f      *Fake
	ch     chan time.Time
	due    time.Duration
	period time.Duration
	active bool
}

func (f *Fake) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &fakeWaiter{f: f, ch: make(chan time.Time, 1), due: f.mono + d}
	f.addLocked(w)
	return w
}

func (f *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive ticker interval")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &fakeWaiter{f: f, ch: make(chan time.Time, 1), due: f.mono + d, period: d}
	f.addLocked(w)
	return fakeTicker{w}
}

func (w *fakeWaiter) C() <-chan time.Time { return w.ch }

func (w *fakeWaiter) Stop() bool {
	w.f.mu.Lock()
	defer w.f.mu.Unlock()
	was := w.active
	w.active = false
	w.f.removeLocked(w)
	return was
}

func (w *fakeWaiter) Reset(d time.Duration) {
	w.f.mu.Lock()
	defer w.f.mu.Unlock()
	w.due = w.f.mono + d
	if !w.active {
		w.f.addLocked(w)
	}
}

type fakeTicker struct{ w *fakeWaiter }

func (t fakeTicker) C() <-chan time.Time { return t.w.ch }
func (t fakeTicker) Stop()               { t.w.Stop() }
