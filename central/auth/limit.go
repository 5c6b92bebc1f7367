package auth

import "time"

// limiter counts failed logins per key and imposes a doubling backoff once
// a key has failed threshold times. The count is forgotten only after a
// whole window without failures, so a patient attacker gains nothing by
// waiting out each backoff. Callers hold Service.mu.
type limiter struct {
	threshold int
	window    time.Duration
	base, max time.Duration
	m         map[string]*limitEntry
}

type limitEntry struct {
	failures int
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

func (l *limiter) fail(key string, now time.Time) {
	e, ok := l.m[key]
	if !ok || l.stale(e, now) {
		e = &limitEntry{}
		l.m[key] = e
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

func (l *limiter) reset(key string) { delete(l.m, key) }

// prune forgets keys whose window and backoff are over, so the map does not
// grow with every address that ever failed once.
func (l *limiter) prune(now time.Time) {
	for k, e := range l.m {
		if l.stale(e, now) {
			delete(l.m, k)
		}
	}
}

func (l *limiter) stale(e *limitEntry, now time.Time) bool {
	return now.Sub(e.last) > l.window && !now.Before(e.until)
}
