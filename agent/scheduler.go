package agent

import (
	"sort"
	"strconv"
	"time"

	"github.com/atmguard/kiosk/display"
	"github.com/atmguard/kiosk/internal/wire"
)

// Content is the merge of the device's scopes at one moment.
type Content struct {
	Alerts []wire.Alert
	Items  []wire.CampaignItem
	// Boundaries are central times at which something starts or ends
	// (alert/item effective and expires, snapshot expires); the scheduler
	// wakes at the next one.
	Boundaries []time.Time
}

// Merge combines snapshots in scope order (all, pref, branch, device). An id
// present in several scopes keeps the highest version (ties: the narrower
// scope). Snapshots expired at now are ignored entirely; alerts and items
// outside their effective..expires window are left out. ready reports
// whether every image of an item is in the cache: an item whose images are
// not all there yet is held back (never shown with missing images).
func Merge(scopes []wire.Scope, snaps map[wire.Scope]*wire.Snapshot, now time.Time, ready func(*wire.CampaignItem) bool) Content {
	var c Content
	alertAt := map[string]int{}
	itemAt := map[string]int{}
	for _, sc := range scopes {
		s := snaps[sc]
		if s == nil {
			continue
		}
		if !now.Before(s.Expires) {
			continue
		}
		c.Boundaries = append(c.Boundaries, s.Expires)
		for _, a := range s.Alerts {
			c.Boundaries = append(c.Boundaries, a.Effective, a.Expires)
			if !active(a.Effective, a.Expires, now) {
				continue
			}
			if i, ok := alertAt[a.ID]; ok {
				if a.Version >= c.Alerts[i].Version {
					c.Alerts[i] = a
				}
				continue
			}
			alertAt[a.ID] = len(c.Alerts)
			c.Alerts = append(c.Alerts, a)
		}
		for _, it := range s.Campaign {
			c.Boundaries = append(c.Boundaries, it.Effective, it.Expires)
			if !active(it.Effective, it.Expires, now) {
				continue
			}
			if ready != nil && !ready(&it) {
				continue
			}
			if i, ok := itemAt[it.ID]; ok {
				if it.Version >= c.Items[i].Version {
					c.Items[i] = it
				}
				continue
			}
			itemAt[it.ID] = len(c.Items)
			c.Items = append(c.Items, it)
		}
	}
	return c
}

func active(eff, exp, now time.Time) bool {
	return (eff.IsZero() || !now.Before(eff)) && now.Before(exp)
}

// Scheduler decides what to show. It is pure apart from its own rotation
// state: Decide takes the time (central-time estimate and a monotonic
// reading) as arguments, so tests drive it with a fake clock.
//
// Precedence, highest first:
//  1. identify screen (field tech, for IdentifyDuration);
//  2. a local trigger override (phone-detected -> "Hang up!" for N s);
//  3. outside opening hours or inside quiet hours: the highest alert if its
//     priority is at least Schedule.QuietMinPriority, else the standing
//     warning (the rotation pauses);
//  4. the highest-priority active urgent alert (priority >= 50; ties: the
//     later effective, then the smaller id);
//  5. the rotation: non-urgent alerts (by priority) then campaign items, each
//     for its duration;
//  6. nothing active: the built-in standing warning.
//
// Alerts and slides rotate their language every Schedule.LangInterval
// through the texts they carry, starting with the primary one.
type Scheduler struct {
	sched Schedule

	identify      *display.IdentifyInfo
	identifyUntil time.Duration
	trigger       *display.Screen
	triggerUntil  time.Duration

	slideKey   string // key of the current rotation slide
	slideStart time.Duration

	shownKey   string // key of the content on screen (for language rotation)
	shownSince time.Duration
}

// NewScheduler returns a scheduler for sched (defaults already applied).
func NewScheduler(sched Schedule) *Scheduler { return &Scheduler{sched: sched} }

// Identify shows the identify screen until mono+d.
func (s *Scheduler) Identify(info display.IdentifyInfo, mono, d time.Duration) {
	s.identify = &info
	s.identifyUntil = mono + d
}

// Trigger applies a local trigger at mono.
func (s *Scheduler) Trigger(t Trigger, mono time.Duration) {
	if t.Clear {
		s.trigger = nil
		return
	}
	if t.Kind == "" {
		return
	}
	s.trigger = &display.Screen{Kind: t.Kind, Message: t.Message}
	s.triggerUntil = mono + t.Duration
}

// slide is one entry of the rotation.
type slide struct {
	key   string
	dur   time.Duration
	alert *wire.Alert
	item  *wire.CampaignItem
}

// Decide returns the screen to show at (now, mono) and how long until the
// decision may change (the caller re-decides then, or earlier on new input).
func (s *Scheduler) Decide(now time.Time, mono time.Duration, c Content) (display.Screen, time.Duration) {
	const maxWait = time.Minute // re-check opening hours at least this often
	wait := maxWait
	limit := func(d time.Duration) {
		if d > 0 && d < wait {
			wait = d
		}
	}
	for _, b := range c.Boundaries {
		if !b.IsZero() && b.After(now) {
			limit(b.Sub(now))
		}
	}

	if s.identify != nil && mono < s.identifyUntil {
		limit(s.identifyUntil - mono)
		info := *s.identify
		return s.shown(display.Screen{Kind: display.KindIdentify, Identify: &info}, "identify", mono), wait
	}
	s.identify = nil
	if s.trigger != nil && mono < s.triggerUntil {
		limit(s.triggerUntil - mono)
		return s.shown(*s.trigger, "trigger:"+string(s.trigger.Kind), mono), wait
	}
	s.trigger = nil

	var urgent *wire.Alert
	var slides []slide
	alerts := append([]wire.Alert(nil), c.Alerts...)
	sort.SliceStable(alerts, func(i, j int) bool {
		a, b := alerts[i], alerts[j]
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		if !a.Effective.Equal(b.Effective) {
			return a.Effective.After(b.Effective)
		}
		return a.ID < b.ID
	})
	for i := range alerts {
		a := &alerts[i]
		if a.Priority >= wire.PriorityUrgent {
			if urgent == nil {
				urgent = a
			}
			continue
		}
		slides = append(slides, slide{key: contentKey("alert", a.ID, a.Version), dur: s.sched.AlertSlide, alert: a})
	}
	local := now.In(s.sched.Location)
	if s.restricted(local) {
		// closed or quiet: the rotation pauses; only alerts at or above
		// QuietMinPriority break through
		if len(alerts) > 0 && alerts[0].Priority >= s.sched.QuietMinPriority {
			a := &alerts[0]
			return s.withLang(display.Screen{Kind: display.KindAlert, Alert: a}, contentKey("alert", a.ID, a.Version), a.Texts, mono, limit), wait
		}
		return s.shown(display.Screen{Kind: display.KindStanding}, "standing", mono), wait
	}
	if urgent != nil {
		sc := display.Screen{Kind: display.KindAlert, Alert: urgent}
		return s.withLang(sc, contentKey("alert", urgent.ID, urgent.Version), urgent.Texts, mono, limit), wait
	}

	for i := range c.Items {
		it := &c.Items[i]
		slides = append(slides, slide{key: contentKey("campaign", it.ID, it.Version), dur: time.Duration(it.DurationSec) * time.Second, item: it})
	}
	if len(slides) == 0 {
		s.slideKey = ""
		return s.shown(display.Screen{Kind: display.KindStanding}, "standing", mono), wait
	}
	cur := -1
	for i, sl := range slides {
		if sl.key == s.slideKey {
			cur = i
			break
		}
	}
	switch {
	case cur < 0: // first slide, or the current one went away
		cur = 0
		s.slideKey, s.slideStart = slides[0].key, mono
	case mono-s.slideStart >= slides[cur].dur:
		// advance; if we were away (interrupt) for several durations, just
		// move one step: the rotation resumes, it does not catch up.
		cur = (cur + 1) % len(slides)
		s.slideKey, s.slideStart = slides[cur].key, mono
	}
	sl := slides[cur]
	limit(s.slideStart + sl.dur - mono)
	if sl.alert != nil {
		return s.withLang(display.Screen{Kind: display.KindAlert, Alert: sl.alert}, sl.key, sl.alert.Texts, mono, limit), wait
	}
	return s.withLang(display.Screen{Kind: display.KindCampaign, Item: sl.item}, sl.key, sl.item.Texts, mono, limit), wait
}

func contentKey(kind, id string, version int) string {
	return kind + ":" + id + "@" + strconv.Itoa(version)
}

func (s *Scheduler) shown(sc display.Screen, key string, mono time.Duration) display.Screen {
	if key != s.shownKey {
		s.shownKey, s.shownSince = key, mono
	}
	return sc
}

func (s *Scheduler) withLang(sc display.Screen, key string, texts []wire.Text, mono time.Duration, limit func(time.Duration)) display.Screen {
	s.shown(sc, key, mono)
	if len(texts) > 1 {
		step := s.sched.LangInterval
		n := int((mono - s.shownSince) / step)
		sc.Lang = texts[n%len(texts)].Lang
		limit(s.shownSince + time.Duration(n+1)*step - mono)
	} else if len(texts) == 1 {
		sc.Lang = texts[0].Lang
	}
	return sc
}

func (s *Scheduler) restricted(local time.Time) bool {
	if len(s.sched.Open) > 0 {
		open := false
		for _, w := range s.sched.Open {
			if w.Contains(local) {
				open = true
				break
			}
		}
		if !open {
			return true
		}
	}
	for _, w := range s.sched.Quiet {
		if w.Contains(local) {
			return true
		}
	}
	return false
}
