package agent

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/atmguard/kiosk/internal/wire"
)

// maxIncomingPacket is the largest MQTT packet the agent reads: a whole
// envelope plus room for the topic and headers. paho allocates a packet's
// announced remaining length (up to 256 MiB) before reading it, so the cap
// must act on the fixed header, below paho.
const maxIncomingPacket = wire.MaxEnvelopeBytes + 64<<10

// errPacketTooLarge ends a connection whose broker announced a packet
// larger than maxIncomingPacket.
var errPacketTooLarge = errors.New("broker sent an MQTT packet larger than the agent accepts")

// openConn dials the broker like paho's built-in dialer (tcp/mqtt, or TLS
// with the configured tls.Config) and wraps the connection, TLS included,
// in a capConn. Proxies from the environment are not used: displays talk
// to their broker directly.
func (a *Agent) openConn(uri *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
	d := &net.Dialer{Timeout: 30 * time.Second}
	if o.Dialer != nil {
		dd := *o.Dialer
		d = &dd
	}
	// paho's default dialer waits 30 s; with a cluster list a black-holed
	// node would hold up the next one that long on every attempt
	if o.ConnectTimeout > 0 && (d.Timeout == 0 || d.Timeout > o.ConnectTimeout) {
		d.Timeout = o.ConnectTimeout
	}
	var c net.Conn
	var err error
	switch uri.Scheme {
	case "tcp", "mqtt":
		c, err = d.Dial("tcp", uri.Host)
	case "ssl", "tls", "mqtts", "mqtt+ssl", "tcps":
		c, err = tls.DialWithDialer(d, "tcp", uri.Host, o.TLSConfig)
	default:
		return nil, fmt.Errorf("broker URL scheme %q is not supported", uri.Scheme)
	}
	if err != nil {
		if len(a.o.brokers) > 1 {
			a.log.Warn("broker unreachable; trying the next one", "broker", uri.Redacted(), "err", err)
		}
		return nil, err
	}
	cc := &capConn{Conn: c, max: maxIncomingPacket, onOversize: a.oversizePacket, down: make(chan struct{})}
	a.link.Lock()
	a.link.url = uri.Redacted()
	a.link.down = cc.down
	a.link.Unlock()
	return cc, nil
}

// oversizePacket counts a packet refused by the capConn. The connection is
// going down, so the rejected event waits for the next connect
// (reportOversize).
func (a *Agent) oversizePacket(announced int) {
	err := &wire.LimitError{Limit: "MQTT packet bytes from the broker", Max: maxIncomingPacket, Got: announced}
	a.bump(func(s *Stats) { s.Rejected[wire.Reason(err)]++ })
	a.log.Warn("dropped the broker connection: oversized packet", "err", err)
	a.oversize.Lock()
	a.oversize.n++
	a.oversize.last = announced
	a.oversize.Unlock()
}

// reportOversize publishes the rejections of oversized packets that cost
// the previous connections. onConnect calls it.
func (a *Agent) reportOversize() {
	a.oversize.Lock()
	n, last := a.oversize.n, a.oversize.last
	a.oversize.n = 0
	a.oversize.Unlock()
	if n == 0 {
		return
	}
	a.reportLimited("", "", 0, fmt.Errorf("%w (%d connection(s) dropped)", &wire.LimitError{Limit: "MQTT packet bytes from the broker", Max: maxIncomingPacket, Got: last}, n))
}

// capConn follows the MQTT fixed headers of everything it reads and fails
// the connection, before the bytes reach paho, as soon as a packet's
// remaining length exceeds max.
type capConn struct {
	net.Conn
	max        int
	onOversize func(announced int)
	// down is closed when paho closes the connection (it does on every
	// loss), which ends a subscribe retry on this connection. onLost cannot
	// do it: paho runs it concurrently with the reconnect, possibly after
	// the next connection has been opened.
	down     chan struct{}
	downOnce sync.Once

	mu      sync.Mutex // paho reads from one goroutine; the lock is for -race peace of mind
	err     error
	state   int // capHeader, capLength, capBody
	rem     int // remaining length decoded so far
	mult    int
	lenSeen int
	skip    int // body bytes still to pass
}

const (
	capHeader = iota
	capLength
	capBody
)

func (c *capConn) Close() error {
	if c.down != nil {
		c.downOnce.Do(func() { close(c.down) })
	}
	return c.Conn.Close()
}

func (c *capConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return 0, err
	}
	c.mu.Unlock()
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	announced, perr := c.scan(p[:n])
	if perr != nil {
		c.err = perr
	}
	c.mu.Unlock()
	if perr != nil {
		c.Close()
		if announced > 0 && c.onOversize != nil {
			c.onOversize(announced)
		}
		return 0, perr
	}
	return n, err
}

// scan advances the header parser over b. It returns an error (and the
// announced length, if known) for an oversized or malformed header.
func (c *capConn) scan(b []byte) (int, error) {
	for i := 0; i < len(b); {
		switch c.state {
		case capHeader:
			c.state, c.rem, c.mult, c.lenSeen = capLength, 0, 1, 0
			i++
		case capLength:
			x := b[i]
			i++
			c.rem += int(x&0x7f) * c.mult
			c.mult *= 128
			c.lenSeen++
			if c.rem > c.max {
				// keep decoding what is already here only to report the size
				for x&0x80 != 0 && i < len(b) && c.lenSeen < 4 {
					x = b[i]
					i++
					c.rem += int(x&0x7f) * c.mult
					c.mult *= 128
					c.lenSeen++
				}
				return c.rem, fmt.Errorf("%w: remaining length %d (at least), max %d", errPacketTooLarge, c.rem, c.max)
			}
			switch {
			case x&0x80 == 0 && c.rem == 0:
				c.state = capHeader
			case x&0x80 == 0:
				c.state, c.skip = capBody, c.rem
			case c.lenSeen == 4:
				return 0, errors.New("malformed MQTT remaining length from the broker")
			}
		case capBody:
			k := min(c.skip, len(b)-i)
			i += k
			c.skip -= k
			if c.skip == 0 {
				c.state = capHeader
			}
		}
	}
	return 0, nil
}
