package wsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/internal/clock"
)

// Services are what the API drives. Users, Alerts, Devices and Delivery are
// required; a nil optional service makes its methods answer "unavailable".
type Services struct {
	Users     central.UserService
	Alerts    central.AlertService
	Campaigns central.CampaignService
	Devices   central.DeviceService
	Delivery  central.DeliveryService
	Audit     central.AuditService
	Guard     central.GuardService
	Enroll    central.EnrollService
	// Auditor records CAP imports so a later Update or Cancel from the same
	// sender can be traced to the alert (with Audit to look them up).
	Auditor central.Auditor
}

// Optional capabilities of the UserService (central/auth has them).
type (
	// sessionWatcher reports when a session ends, so the console is told at once.
	sessionWatcher interface {
		Ended(token string) (<-chan struct{}, func() string, error)
	}
	// sessionReader returns the session of a token (user, expiry).
	sessionReader interface {
		Session(ctx context.Context, token string) (*central.Session, error)
	}
	// sessionPasswordChanger changes the password and keeps the current session.
	sessionPasswordChanger interface {
		ChangePasswordSession(ctx context.Context, token, oldPassword, newPassword string) error
	}
)

// Options configure a Server. Zero values take the defaults shown.
type Options struct {
	Clock clock.Clock // clock.Real{}
	// AllowedOrigins are origins ("https://console.example.jp") accepted in
	// addition to the request's own host.
	AllowedOrigins  []string
	MaxMessageBytes int64         // 6 MiB: larger frames get too_large and are skipped
	HardLimitBytes  int64         // 16 MiB: larger frames close the connection
	PreAuthMaxBytes int64         // 64 KiB: soft limit while the connection has no session
	WriteTimeout    time.Duration // 10 s per write (real time)
	PingInterval    time.Duration // 30 s
	MissedPings     int           // 2: pings in a row without any frame back close the connection
	AuthTimeout     time.Duration // 2 min without a session (a login page left open) closes
	RequestTimeout  time.Duration // 60 s per request
	MaxInFlight     int           // 16 requests per connection
	PushQueue       int           // 256 pushes buffered per connection
	// NewPassword generates initial passwords for users.create and
	// users.reset_password.
	NewPassword func() (string, error)
	// CAPSender is the sender of exported CAP messages ("atmguard-central").
	CAPSender string
	Logger    *slog.Logger
}

func (o *Options) defaults() {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 6 << 20
	}
	if o.PreAuthMaxBytes <= 0 {
		o.PreAuthMaxBytes = 64 << 10
	}
	if o.HardLimitBytes < o.MaxMessageBytes {
		o.HardLimitBytes = max(16<<20, o.MaxMessageBytes)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.WriteTimeout, 10*time.Second)
	def(&o.PingInterval, 30*time.Second)
	def(&o.AuthTimeout, 2*time.Minute)
	def(&o.RequestTimeout, 60*time.Second)
	if o.MissedPings <= 0 {
		o.MissedPings = 2
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 16
	}
	if o.PushQueue <= 0 {
		o.PushQueue = 256
	}
	if o.NewPassword == nil {
		o.NewPassword = generatePassword
	}
	if o.CAPSender == "" {
		o.CAPSender = "atmguard-central"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Server serves the admin API. Mount it at /ws.
type Server struct {
	svc      Services
	opt      Options
	clk      clock.Clock
	log      *slog.Logger
	upgrader websocket.Upgrader
	origins  map[string]bool

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// New returns a Server.
func New(svc Services, opt Options) *Server {
	opt.defaults()
	s := &Server{svc: svc, opt: opt, clk: opt.Clock, log: opt.Logger, conns: map[*conn]struct{}{}, origins: map[string]bool{}}
	for _, o := range opt.AllowedOrigins {
		s.origins[normOrigin(o)] = true
	}
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// The origin was checked (and refused with 403) before Upgrade.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	return s
}

func normOrigin(o string) string {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || u.Host == "" {
		return strings.ToLower(strings.TrimRight(o, "/"))
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// originAllowed accepts no Origin (not a browser), the request's own host,
// or an allow-listed origin.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return s.origins[normOrigin(origin)]
}

// ServeHTTP upgrades and runs one connection until it ends.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	remote := r.RemoteAddr
	if !s.originAllowed(r) {
		s.log.Warn("admin websocket refused: cross-origin", "origin", r.Header.Get("Origin"), "host", r.Host, "remote", remote)
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	var token string
	var actor central.Actor
	if h := r.Header.Get("Authorization"); h != "" {
		t, ok := strings.CutPrefix(h, "Bearer ")
		a, err := s.svc.Users.Authenticate(r.Context(), strings.TrimSpace(t))
		if !ok || err != nil {
			s.log.Warn("admin websocket refused: bad bearer token", "remote", remote)
			http.Error(w, "invalid or expired session token", http.StatusUnauthorized)
			return
		}
		token, actor = strings.TrimSpace(t), a
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.log.Warn("admin websocket upgrade failed", "remote", remote, "err", err)
		return // Upgrade has answered
	}
	c := s.newConn(ws, remote)
	if !s.track(c) {
		ws.Close()
		return
	}
	defer s.untrack(c)
	if token != "" {
		user, _ := s.userOf(c.ctx, token, actor)
		c.setSession(token, actor, user)
	}
	c.run()
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// Close closes every connection and waits for their goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.shutdown(websocket.CloseGoingAway, "server shutting down")
	}
	s.wg.Wait()
	return nil
}

// Conns is the number of open connections.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// userOf loads the user of a session (for must_change_password and expiry).
func (s *Server) userOf(ctx context.Context, token string, actor central.Actor) (*central.Session, error) {
	if sr, ok := s.svc.Users.(sessionReader); ok {
		return sr.Session(ctx, token)
	}
	u, err := s.svc.Users.GetUser(ctx, actor, actor.UserID)
	if err != nil {
		return nil, err
	}
	return &central.Session{User: *u}, nil
}

// ---- frames

type request struct {
	ID     string
	Method string
	Params json.RawMessage
}

// Error is the error object of a response.
type Error struct {
	Code          string `json:"code"`
	Message       string `json:"message"`
	Field         string `json:"field,omitempty"`
	Text          string `json:"text,omitempty"`
	RetryAfterSec int    `json:"retry_after_sec,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Wire-only error codes (the rest are central.Code*).
const (
	CodeBadRequest             = "bad_request"
	CodeTooLarge               = "too_large"
	CodeUnknownMethod          = "unknown_method"
	CodeBadCredentials         = "bad_credentials"
	CodePasswordChangeRequired = "password_change_required"
)

type outFrame struct {
	ID     *string         `json:"id,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *Error          `json:"error,omitempty"`
	Stream string          `json:"stream,omitempty"`
	Event  any             `json:"event,omitempty"`
}

// ---- connection

type conn struct {
	s      *Server
	ws     *websocket.Conn
	remote string
	ctx    context.Context
	cancel context.CancelFunc

	out      chan []byte // responses and session events: never dropped
	pushes   chan []byte // stream events: dropped (with resync) when full
	inflight chan struct{}
	rearm    chan struct{} // the session ended: start the auth deadline again
	handlers sync.WaitGroup
	bg       sync.WaitGroup // writer, pusher, session watcher
	reads    atomic.Uint64  // frames (and pongs) received from the client

	closeOnce sync.Once
	closeCode int
	closeText string

	mu         sync.Mutex
	token      string
	actor      central.Actor
	mustChange bool
	expires    time.Time
	authed     bool
	sessionGen int                        // bumps on every login/logout: stale watchers ignore their end
	stopWatch  context.CancelFunc         // stops the current session's watcher
	subs       map[string]map[string]bool // stream -> alert ids ("" = all)
	pushing    bool
	dropped    bool
}

func (s *Server) newConn(ws *websocket.Conn, remote string) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		s: s, ws: ws, remote: remote, ctx: ctx, cancel: cancel,
		out:      make(chan []byte, 64),
		pushes:   make(chan []byte, s.opt.PushQueue),
		inflight: make(chan struct{}, s.opt.MaxInFlight),
		rearm:    make(chan struct{}, 1),
		subs:     map[string]map[string]bool{},
	}
	return c
}

// shutdown ends the connection from any goroutine.
func (c *conn) shutdown(code int, text string) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeText = code, text
		c.cancel()
		// Unblock the reader. The writer flushes what is queued (a
		// session event must not be overtaken by the close) and then
		// sends the close frame.
		_ = c.ws.SetReadDeadline(time.Now())
	})
}

func (c *conn) run() {
	c.ws.SetReadLimit(c.s.opt.HardLimitBytes)
	pingTicker := c.s.clk.NewTicker(c.s.opt.PingInterval)
	c.bg.Add(1)
	go c.writer(pingTicker)
	c.mu.Lock()
	authed := c.authed
	c.mu.Unlock()
	c.bg.Add(1)
	go c.authDeadline(!authed)
	c.reader()
	c.shutdown(websocket.CloseNormalClosure, "")
	c.handlers.Wait()
	c.bg.Wait()
	c.ws.Close()
}

// authDeadline closes the connection when it has been without a session
// for AuthTimeout: after connecting, and again after a logout or the end of
// its session.
func (c *conn) authDeadline(armed bool) {
	defer c.bg.Done()
	var t clock.Timer
	var fire <-chan time.Time
	arm := func() {
		if t == nil {
			t = c.s.clk.NewTimer(c.s.opt.AuthTimeout)
		} else {
			t.Reset(c.s.opt.AuthTimeout)
		}
		fire = t.C()
	}
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	if armed {
		arm()
	}
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.rearm:
			arm()
		case <-fire:
			fire = nil
			c.mu.Lock()
			authed := c.authed
			c.mu.Unlock()
			if !authed {
				c.s.log.Info("admin websocket closed: no session in time", "remote", c.remote)
				c.shutdown(websocket.ClosePolicyViolation, "not authenticated in time")
				return
			}
		}
	}
}

// unauthenticated starts the authentication deadline again.
func (c *conn) unauthenticated() {
	select {
	case c.rearm <- struct{}{}:
	default:
	}
}

func (c *conn) writer(ping clock.Ticker) {
	defer c.bg.Done()
	defer ping.Stop()
	// Liveness counts ping intervals without any frame from the client
	// rather than comparing clock readings, so a jump of the clock cannot
	// close a healthy connection.
	var readsAtPing uint64
	missed := 0
	write := func(b []byte) bool {
		_ = c.ws.SetWriteDeadline(time.Now().Add(c.s.opt.WriteTimeout))
		if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
			c.s.log.Info("admin websocket write failed", "remote", c.remote, "err", err)
			c.shutdown(websocket.CloseAbnormalClosure, "")
			return false
		}
		return true
	}
	for {
		// Responses first: a flood of pushes must not delay an answer.
		select {
		case b := <-c.out:
			if !write(b) {
				return
			}
			continue
		default:
		}
		select {
		case <-c.ctx.Done():
			c.flushAndClose()
			return
		case b := <-c.out:
			if !write(b) {
				return
			}
		case b := <-c.pushes:
			if !write(b) {
				return
			}
		case <-ping.C():
			if r := c.reads.Load(); r != readsAtPing {
				readsAtPing, missed = r, 0
			} else if missed++; missed >= c.s.opt.MissedPings {
				c.s.log.Info("admin websocket closed: client silent", "remote", c.remote, "missed_pings", missed)
				c.shutdown(websocket.CloseGoingAway, "ping timeout")
				continue // to ctx.Done: close frame
			}
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.s.opt.WriteTimeout)); err != nil {
				c.shutdown(websocket.CloseAbnormalClosure, "")
				return
			}
		}
	}
}

// flushAndClose writes the responses and events still queued (briefly:
// the connection is ending) and then the close frame.
func (c *conn) flushAndClose() {
	deadline := time.Now().Add(time.Second)
	for {
		select {
		case b := <-c.out:
			_ = c.ws.SetWriteDeadline(deadline)
			if c.ws.WriteMessage(websocket.TextMessage, b) != nil {
				return
			}
			continue
		default:
		}
		break
	}
	if c.closeCode != websocket.CloseAbnormalClosure {
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(c.closeCode, c.closeText), deadline)
	}
}

func (c *conn) touch() { c.reads.Add(1) }

func (c *conn) reader() {
	c.ws.SetPongHandler(func(string) error { c.touch(); return nil })
	c.ws.SetPingHandler(func(data string) error {
		c.touch()
		err := c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(c.s.opt.WriteTimeout))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	for {
		// Until it has a session a connection may only log in: small frames.
		soft := c.s.opt.MaxMessageBytes
		if _, _, authed, _ := c.session(); !authed {
			soft = min(soft, c.s.opt.PreAuthMaxBytes)
		}
		mt, r, err := c.ws.NextReader()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.s.log.Warn("admin websocket closed: frame over the hard limit", "remote", c.remote, "limit", c.s.opt.HardLimitBytes)
				c.shutdown(websocket.CloseMessageTooBig, "message too large")
			}
			return
		}
		c.touch()
		data, err := io.ReadAll(io.LimitReader(r, soft+1))
		if err != nil {
			return
		}
		if int64(len(data)) > soft {
			// Skip the rest of the frame without keeping it; the hard limit
			// still bounds how long that can go on.
			n, err := io.Copy(io.Discard, r)
			c.s.log.Warn("admin websocket frame too large", "remote", c.remote, "user", c.userName(), "bytes", int64(len(data))+n)
			c.send(nil, nil, &Error{Code: CodeTooLarge, Message: fmt.Sprintf("message is larger than %d bytes", soft)})
			if err != nil {
				if errors.Is(err, websocket.ErrReadLimit) {
					c.shutdown(websocket.CloseMessageTooBig, "message too large")
				}
				return
			}
			continue
		}
		if mt != websocket.TextMessage {
			c.send(nil, nil, &Error{Code: CodeBadRequest, Message: "binary frames are not accepted; send JSON text"})
			continue
		}
		req, perr := parseRequest(data)
		if perr != nil {
			var id *string
			if req.ID != "" {
				id = &req.ID
			}
			c.send(id, nil, perr)
			continue
		}
		select {
		case c.inflight <- struct{}{}:
		case <-c.ctx.Done():
			return
		}
		c.handlers.Add(1)
		go func() {
			defer c.handlers.Done()
			defer func() { <-c.inflight }()
			c.handle(req)
		}()
	}
}

func parseRequest(data []byte) (request, *Error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return request{}, &Error{Code: CodeBadRequest, Message: "frame is not a JSON object: " + errText(err)}
	}
	if dec.More() {
		return request{}, &Error{Code: CodeBadRequest, Message: "trailing data after the JSON object"}
	}
	var req request
	if v, ok := raw["id"]; ok {
		if err := json.Unmarshal(v, &req.ID); err != nil || req.ID == "" || len(req.ID) > 64 {
			return request{}, &Error{Code: CodeBadRequest, Field: "id", Message: "id must be a string of 1 to 64 bytes"}
		}
	} else {
		return req, &Error{Code: CodeBadRequest, Field: "id", Message: "id is missing"}
	}
	for k := range raw {
		if k != "id" && k != "method" && k != "params" {
			return req, &Error{Code: CodeBadRequest, Field: k, Message: fmt.Sprintf("unknown frame field %q (want id, method, params)", k)}
		}
	}
	if err := json.Unmarshal(raw["method"], &req.Method); err != nil || req.Method == "" {
		return req, &Error{Code: CodeBadRequest, Field: "method", Message: "method must be a non-empty string"}
	}
	req.Params = raw["params"]
	return req, nil
}

func errText(err error) string {
	if err == nil {
		return "null"
	}
	return err.Error()
}

// send queues a response (never dropped while the connection lives).
func (c *conn) send(id *string, result any, e *Error) {
	f := outFrame{ID: id, Error: e}
	if e == nil {
		b, err := json.Marshal(result)
		if err != nil || string(b) == "null" {
			if err != nil {
				c.s.log.Error("admin api: encode result", "err", err)
				f.Error = &Error{Code: central.CodeInternal, Message: "internal error"}
			} else {
				b = []byte("{}")
			}
		}
		if f.Error == nil {
			f.Result = b
		}
	}
	b, err := json.Marshal(f)
	if err != nil {
		c.s.log.Error("admin api: encode frame", "err", err)
		return
	}
	select {
	case c.out <- b:
	case <-c.ctx.Done():
	}
}

// sendEvent sends a reliable event (session end).
func (c *conn) sendEvent(stream string, ev any) {
	b, err := json.Marshal(outFrame{Stream: stream, Event: ev})
	if err != nil {
		return
	}
	select {
	case c.out <- b:
	case <-c.ctx.Done():
	}
}

// push queues a stream event; when the queue is full the event is dropped
// and the connection is owed a resync.
func (c *conn) push(stream string, ev any) bool {
	b, err := json.Marshal(outFrame{Stream: stream, Event: ev})
	if err != nil {
		return false
	}
	select {
	case c.pushes <- b:
		return true
	default:
		return false
	}
}

func (c *conn) userName() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.actor.Name
}

// setSession makes the connection act as a session and watches for its end.
func (c *conn) setSession(token string, actor central.Actor, sess *central.Session) {
	c.mu.Lock()
	// Subscriptions belong to a session: a new login starts with none.
	c.subs = map[string]map[string]bool{}
	c.token, c.actor, c.authed = token, actor, true
	c.actor.Remote = c.remote
	if sess != nil {
		c.mustChange = sess.User.MustChangePassword
		c.expires = sess.Expires
	}
	c.sessionGen++
	gen := c.sessionGen
	if c.stopWatch != nil {
		c.stopWatch() // the previous session's watcher
	}
	wctx, stop := context.WithCancel(c.ctx)
	c.stopWatch = stop
	c.mu.Unlock()
	w, ok := c.s.svc.Users.(sessionWatcher)
	if !ok {
		return
	}
	done, reason, err := w.Ended(token)
	if err != nil {
		return
	}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		select {
		case <-wctx.Done():
			return
		case <-done:
		}
		c.mu.Lock()
		current := c.sessionGen == gen
		if current {
			c.authed = false
			c.token = ""
			c.subs = map[string]map[string]bool{}
		}
		c.mu.Unlock()
		if current {
			c.sendEvent("session", map[string]string{"state": reason()})
			c.unauthenticated()
		}
	}()
}

func (c *conn) clearSession() {
	c.mu.Lock()
	c.authed, c.token = false, ""
	c.subs = map[string]map[string]bool{}
	c.sessionGen++
	if c.stopWatch != nil {
		c.stopWatch()
		c.stopWatch = nil
	}
	c.mu.Unlock()
	c.unauthenticated()
}

func (c *conn) session() (token string, actor central.Actor, authed, mustChange bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token, c.actor, c.authed, c.mustChange
}
