package config

import "time"

// Quiet hours semantics (also in docs/CONFIG.md): the display is "quiet"
// when the branch is closed (outside schedule.hours) or inside a
// schedule.quiet window. While quiet the campaign rotation pauses and the
// display shows the built-in standing warning, still, at
// schedule.quiet_brightness (or the brightness schedule, if lower); alerts
// with priority >= schedule.quiet_min_priority still interrupt, and local
// triggers still work (someone at the ATM is someone to warn). The screen
// never goes dark: a warning display that looks switched off warns no one.

// Open reports whether the branch is open at t (always true without
// schedule.hours).
func (c *Config) Open(t time.Time) bool {
	h := c.Schedule.Hours
	if h == nil {
		return true
	}
	t = t.In(c.Location())
	m := t.Hour()*60 + t.Minute()
	for _, r := range h.day(weekdays[t.Weekday()]) {
		a, b, err := parseRange(r)
		if err == nil && m >= a && m < b {
			return true
		}
	}
	return false
}

// InQuietWindow reports whether t falls in one of the schedule.quiet windows.
func (c *Config) InQuietWindow(t time.Time) bool {
	t = t.In(c.Location())
	m := t.Hour()*60 + t.Minute()
	today := weekdays[t.Weekday()]
	yesterday := weekdays[(t.Weekday()+6)%7]
	for _, w := range c.Schedule.Quiet {
		a, err1 := parseClock(w.From, false)
		b, err2 := parseClock(w.To, true)
		if err1 != nil || err2 != nil {
			continue
		}
		if a < b {
			if m >= a && m < b && w.startsOn(today) {
				return true
			}
			continue
		}
		// Crosses midnight: the evening part belongs to today, the
		// morning part to the window that started yesterday.
		if (m >= a && w.startsOn(today)) || (m < b && w.startsOn(yesterday)) {
			return true
		}
	}
	return false
}

func (w Window) startsOn(day string) bool {
	if len(w.Days) == 0 {
		return true
	}
	for _, d := range w.Days {
		if d == day {
			return true
		}
	}
	return false
}

// Quiet reports whether the display is quiet at t: branch closed or in a
// quiet window.
func (c *Config) Quiet(t time.Time) bool { return !c.Open(t) || c.InQuietWindow(t) }

// BrightnessAt is the backlight percent at t: the brightness schedule entry
// in force (the last entry wraps over midnight), capped at
// schedule.quiet_brightness while quiet. Never below 1.
func (c *Config) BrightnessAt(t time.Time) int {
	lt := t.In(c.Location())
	m := lt.Hour()*60 + lt.Minute()
	pct := 100
	if bs := c.Display.Brightness; len(bs) > 0 {
		pct = bs[len(bs)-1].Percent
		for _, b := range bs {
			if at, err := parseClock(b.At, false); err == nil && at <= m {
				pct = b.Percent
			}
		}
	}
	if c.Quiet(t) && c.Schedule.QuietBrightness < pct {
		pct = c.Schedule.QuietBrightness
	}
	return max(pct, 1)
}

// ShowsDuringQuiet reports whether an alert of this priority interrupts
// the standing warning during quiet hours.
func (c *Config) ShowsDuringQuiet(priority int) bool {
	return priority >= c.Schedule.QuietMinPriority
}
