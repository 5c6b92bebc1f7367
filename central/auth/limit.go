package auth

import "time"

// limiter counts failed logins per key and imposes a doubling backoff once
// a key has failed threshold times. The count is forgotten only after a
// whole window without failures, so a patient attacker gains nothing by
// waiting out each backoff. Callers hold Service.mu.
//
// Attempts still being verified count too (acquire before the slow hash,
// release after): otherwise a burst of parallel guesses all pass the check
// before the first of them has failed.
type limiter struct {
	threshold int
	window    time.Duration
	base, max time.Duration
	m         map[string]*limitEntry
}

type limitEntry struct {
	failures int
	inflight int // attempts acquired and not yet released
	last     time.Time
	until    time.Time
}

func newLimiter(threshold int, o Options) *limiter {
	return &limiter{threshold: threshold, window: o.FailureWindow, base: o.BackoffBase, max: o.BackoffMax, m: map[string]*limitEntry{}}
}

// blocked returns how long key must still wait, or 0.
func (l *limiter) blocked(key string, now time.Time) time.Duration {
	e, ok := l.m[key]
	if !ok || !now.Before(e.until) {
		return 0
	}
	return e.until.Sub(now)
}

// acquire reserves an attempt for key. It refuses (returning how long to
// wait, at least base) during a backoff, or when the attempts in flight
// could take key past its threshold: below the threshold, failures plus
// in-flight attempts stay under it; at or past it (backoff over), one
// attempt at a time. Every successful acquire must be released.
func (l *limiter) acquire(key string, now time.Time) (time.Duration, bool) {
	if w := l.blocked(key, now); w > 0 {
		return w, false
	}
	e, ok := l.m[key]
	if !ok {
		e = &limitEntry{}
		l.m[key] = e
	}
	if l.stale(e, now) {
		e.failures, e.until = 0, time.Time{}
	}
	if e.inflight >= max(1, l.threshold-e.failures) {
		return l.base, false
	}
	e.inflight++
	return 0, true
}

// release ends an attempt acquired for key; failed counts it as a failure.
func (l *limiter) release(key string, failed bool, now time.Time) {
	if e, ok := l.m[key]; ok && e.inflight > 0 {
		e.inflight--
	}
	if failed {
		l.fail(key, now)
	}
}

func (l *limiter) fail(key string, now time.Time) {
	e, ok := l.m[key]
	if !ok {
		e = &limitEntry{}
		l.m[key] = e
	}
	if l.stale(e, now) {
		e.failures, e.until = 0, time.Time{}
	}
	e.last = now
	e.failures++
	if e.failures >= l.threshold {
		d := l.base
		for i := l.threshold; i < e.failures && d < l.max; i++ {
			d *= 2
		}
		d = min(d, l.max)
		e.until = now.Add(d)
	}
}

// reset forgets key's failures; attempts still in flight stay counted.
func (l *limiter) reset(key string) {
	e, ok := l.m[key]
	if !ok {
		return
	}
	if e.inflight > 0 {
		e.failures, e.until = 0, time.Time{}
		return
	}
	delete(l.m, key)
}

// prune forgets keys whose window and backoff are over, so the map does not
// grow with every address that ever failed once.
func (l *limiter) prune(now time.Time) {
	for k, e := range l.m {
		if e.inflight == 0 && l.stale(e, now) {
			delete(l.m, k)
		}
	}
}

func (l *limiter) stale(e *limitEntry, now time.Time) bool {
	return now.Sub(e.last) > l.window && !now.Before(e.until)
}
