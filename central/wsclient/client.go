package wsclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/atmguard/kiosk/central"
)

// Error is an error answered by the server.
type Error struct {
	Code          string `json:"code"`
	Message       string `json:"message"`
	Field         string `json:"field,omitempty"`
	Text          string `json:"text,omitempty"`
	RetryAfterSec int    `json:"retry_after_sec,omitempty"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s (%s): %s", e.Code, e.Field, e.Message)
	}
	return e.Code + ": " + e.Message
}

// Code returns the API error code of err, or "" if it is not an *Error.
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Push is one stream event.
type Push struct {
	Stream string          `json:"stream"`
	Event  json.RawMessage `json:"event"`
}

// Change decodes the event as a central.Change (fleet, delivery, alerts,
// audit streams).
func (p Push) Change() (central.Change, error) {
	var c central.Change
	err := json.Unmarshal(p.Event, &c)
	return c, err
}

// ErrClosed is returned by calls on a closed connection.
var ErrClosed = errors.New("wsclient: connection closed")

// Options for Dial.
type Options struct {
	Origin string // sent as the Origin header when set
	Token  string // sent as Authorization: Bearer when set
	Header http.Header
}

type frame struct {
	ID     string          `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
	Stream string          `json:"stream"`
	Event  json.RawMessage `json:"event"`
}

// Client is one admin API connection.
type Client struct {
	ws      *websocket.Conn
	nextID  atomic.Uint64
	wmu     sync.Mutex
	mu      sync.Mutex
	pending map[string]chan frame
	pushes  chan Push
	orphans chan Error
	dropped atomic.Int64
	done    chan struct{}
	err     error
}

// Dial connects to url (ws://host/ws). On a refused upgrade the HTTP
// response is returned with the error (403 for a foreign origin, 401 for a
// bad token).
func Dial(ctx context.Context, url string, opt Options) (*Client, *http.Response, error) {
	h := http.Header{}
	for k, v := range opt.Header {
		h[k] = v
	}
	if opt.Origin != "" {
		h.Set("Origin", opt.Origin)
	}
	if opt.Token != "" {
		h.Set("Authorization", "Bearer "+opt.Token)
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, resp, err := d.DialContext(ctx, url, h)
	if err != nil {
		return nil, resp, fmt.Errorf("dial %s: %w", url, err)
	}
	c := &Client{ws: ws, pending: map[string]chan frame{}, pushes: make(chan Push, 4096), orphans: make(chan Error, 64), done: make(chan struct{})}
	go c.read()
	return c, resp, nil
}

func (c *Client) read() {
	defer close(c.done)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.err = err
			for id, ch := range c.pending {
				close(ch)
				delete(c.pending, id)
			}
			c.mu.Unlock()
			close(c.pushes)
			return
		}
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			continue
		}
		switch {
		case f.ID != "":
			c.mu.Lock()
			ch := c.pending[f.ID]
			delete(c.pending, f.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- f
			}
		case f.Stream != "":
			select {
			case c.pushes <- Push{Stream: f.Stream, Event: f.Event}:
			default:
				c.dropped.Add(1)
			}
		case f.Error != nil:
			select {
			case c.orphans <- *f.Error:
			default:
			}
		}
	}
}

// Call sends method with params and decodes the result into result (which
// may be nil). An API error is returned as *Error.
func (c *Client) Call(ctx context.Context, method string, params, result any) error {
	id := strconv.FormatUint(c.nextID.Add(1), 10)
	req := map[string]any{"id": id, "method": method}
	if params != nil {
		req["params"] = params
	}
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("%s: encode params: %w", method, err)
	}
	ch := make(chan frame, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return fmt.Errorf("%s: %w: %v", method, ErrClosed, c.err)
	}
	c.pending[id] = ch
	c.mu.Unlock()
	if err := c.WriteRaw(websocket.TextMessage, b); err != nil {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case f, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: %w", method, ErrClosed)
		}
		if f.Error != nil {
			return f.Error
		}
		if result != nil {
			if err := json.Unmarshal(f.Result, result); err != nil {
				return fmt.Errorf("%s: decode result: %w", method, err)
			}
		}
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// WriteRaw sends a frame as is (tests use it for malformed input).
func (c *Client) WriteRaw(messageType int, data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
	return c.ws.WriteMessage(messageType, data)
}

// Pushes delivers stream events; it is closed when the connection ends.
// Events are dropped (counted by Dropped) if nobody reads.
func (c *Client) Pushes() <-chan Push { return c.pushes }

// Dropped is how many pushes were dropped because Pushes was not read.
func (c *Client) Dropped() int64 { return c.dropped.Load() }

// Orphans delivers errors without a request id (too_large, bad_request).
func (c *Client) Orphans() <-chan Error { return c.orphans }

// Done is closed when the connection has ended; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is the reason the connection ended (nil while open).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection and waits for the reader.
func (c *Client) Close() error {
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	err := c.ws.Close()
	<-c.done
	return err
}

// LoginResult is the result of auth.login.
type LoginResult struct {
	Token   string       `json:"token"`
	Expires time.Time    `json:"expires"`
	User    central.User `json:"user"`
}

// Login calls auth.login.
func (c *Client) Login(ctx context.Context, name, password string) (*LoginResult, error) {
	var r LoginResult
	if err := c.Call(ctx, "auth.login", map[string]string{"name": name, "password": password}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ChangePassword calls auth.change_password.
func (c *Client) ChangePassword(ctx context.Context, oldPassword, newPassword string) error {
	return c.Call(ctx, "auth.change_password", map[string]string{"old_password": oldPassword, "new_password": newPassword}, nil)
}

// Subscribe calls streams.subscribe (alertID only for the delivery stream).
func (c *Client) Subscribe(ctx context.Context, stream, alertID string) error {
	p := map[string]string{"stream": stream}
	if alertID != "" {
		p["alert_id"] = alertID
	}
	return c.Call(ctx, "streams.subscribe", p, nil)
}

// WaitPush returns the first push on stream for which match returns true.
func (c *Client) WaitPush(ctx context.Context, stream string, match func(Push) bool) (Push, error) {
	for {
		select {
		case p, ok := <-c.pushes:
			if !ok {
				return Push{}, ErrClosed
			}
			if p.Stream == stream && (match == nil || match(p)) {
				return p, nil
			}
		case <-ctx.Done():
			return Push{}, ctx.Err()
		}
	}
}
