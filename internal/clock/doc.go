// Package clock is the one source of time for everything that has timers,
// expiry or schedules. Production code takes a Clock; tests pass a *Fake and
// move time with Advance, so nothing waits on the real clock.
//
// A Clock has two readings, because the agent must keep expiring content when
// the wall clock of a display is wrong:
//
//   - Now is the wall clock (can jump, can be set wrong by a bad RTC or NTP);
//   - Mono is a monotonic reading that only moves forward with real elapsed time.
//
// The Fake lets a test move the wall clock on its own (SetWall) to model a
// display whose clock is wrong, while Mono keeps counting real elapsed time.
package clock
