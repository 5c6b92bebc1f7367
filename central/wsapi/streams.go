package wsapi

import (
	"github.com/atmguard/kiosk/central"
)

// Stream names.
const (
	StreamFleet    = "fleet"
	StreamDelivery = "delivery"
	StreamAlerts   = "alerts"
	StreamAudit    = "audit"
	StreamSession  = "session"
)

// streamOf says which stream a change belongs to.
func streamOf(k central.ChangeKind) string {
	switch k {
	case central.ChangeDevice, central.ChangeFleet:
		return StreamFleet
	case central.ChangeDelivery:
		return StreamDelivery
	case central.ChangeAlert, central.ChangeCampaign:
		return StreamAlerts
	case central.ChangeAudit:
		return StreamAudit
	}
	return ""
}

type streamParams struct {
	Stream  string `json:"stream"`
	AlertID string `json:"alert_id"`
}

func (cl *call) streamParams() (streamParams, error) {
	var p streamParams
	if err := cl.decode(&p); err != nil {
		return p, err
	}
	switch p.Stream {
	case StreamFleet:
		if !cl.actor.Can(central.PermViewFleet) {
			return p, central.Forbidden(cl.actor, "watch the fleet")
		}
	case StreamDelivery, StreamAlerts:
		if !cl.actor.Can(central.PermViewContent) {
			return p, central.Forbidden(cl.actor, "watch alerts and deliveries")
		}
	case StreamAudit:
		if !cl.actor.Can(central.PermViewAudit) {
			return p, central.Forbidden(cl.actor, "watch the audit log")
		}
	default:
		return p, central.Invalid("stream", "unknown stream %q (fleet, delivery, alerts, audit)", truncate(p.Stream, 32))
	}
	if p.AlertID != "" && p.Stream != StreamDelivery {
		return p, central.Invalid("alert_id", "only the delivery stream takes an alert_id")
	}
	return p, nil
}

func hSubscribe(cl *call) (any, error) {
	p, err := cl.streamParams()
	if err != nil {
		return nil, err
	}
	c := cl.c
	c.mu.Lock()
	if c.subs[p.Stream] == nil {
		c.subs[p.Stream] = map[string]bool{}
	}
	if len(c.subs[p.Stream]) >= 256 {
		c.mu.Unlock()
		return nil, central.Invalid("alert_id", "too many subscriptions on one connection (max 256)")
	}
	c.subs[p.Stream][p.AlertID] = true
	start := !c.pushing
	c.pushing = true
	c.mu.Unlock()
	if start {
		ch := c.s.svc.Delivery.Subscribe(c.ctx)
		c.bg.Add(1)
		go c.pusher(ch)
	}
	return struct{}{}, nil
}

func hUnsubscribe(cl *call) (any, error) {
	var p streamParams
	if err := cl.decode(&p); err != nil {
		return nil, err
	}
	c := cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.subs[p.Stream]; m != nil {
		delete(m, p.AlertID)
		if len(m) == 0 {
			delete(c.subs, p.Stream)
		}
	}
	return struct{}{}, nil
}

// wants reports whether the connection (still logged in) subscribed to the
// change, and under which stream.
func (c *conn) wants(ch central.Change) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.authed {
		return nil
	}
	if ch.Kind == central.ChangeResync {
		out := make([]string, 0, len(c.subs))
		for s := range c.subs {
			out = append(out, s)
		}
		return out
	}
	st := streamOf(ch.Kind)
	m := c.subs[st]
	if m == nil {
		return nil
	}
	if st == StreamDelivery && !m[""] {
		if ch.Delivery == nil || !m[ch.Delivery.AlertID] {
			return nil
		}
	}
	if st == StreamAudit && !c.actor.Can(central.PermViewAudit) {
		return nil
	}
	return []string{st}
}

// pusher forwards subscribed changes until the connection ends (the
// subscription's context is the connection's).
func (c *conn) pusher(changes <-chan central.Change) {
	defer c.bg.Done()
	for {
		select {
		case <-c.ctx.Done():
			// Drain until the service closes the channel, so its sender
			// never blocks on us.
			for range changes {
			}
			return
		case ch, ok := <-changes:
			if !ok {
				return
			}
			c.forward(ch)
		}
	}
}

func (c *conn) forward(ch central.Change) {
	streams := c.wants(ch)
	c.mu.Lock()
	owed := c.dropped
	c.mu.Unlock()
	if owed && len(streams) > 0 {
		// Tell the console first that it missed something.
		ok := true
		for _, s := range c.allStreams() {
			ok = ok && c.push(s, central.Change{Kind: central.ChangeResync, Time: ch.Time})
		}
		if ok {
			c.mu.Lock()
			c.dropped = false
			c.mu.Unlock()
		}
	}
	for _, s := range streams {
		if !c.push(s, ch) {
			c.mu.Lock()
			c.dropped = true
			c.mu.Unlock()
			c.s.log.Warn("admin websocket push queue full; client will get a resync", "remote", c.remote, "stream", s)
		}
	}
}

func (c *conn) allStreams() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.subs))
	for s := range c.subs {
		out = append(out, s)
	}
	return out
}
