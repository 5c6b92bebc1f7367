package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/store"
	"github.com/atmguard/kiosk/internal/clock"
)

var errConflict = central.ErrConflict

// Errors beyond central's sentinels; each wraps one of them so
// central.ErrorCode still classifies it.
var (
	// ErrBadCredentials is a failed login or a wrong old password. It never
	// says whether the user exists.
	ErrBadCredentials = fmt.Errorf("%w: wrong username or password", central.ErrUnauthorized)
	// ErrSessionEnded is an unknown, expired or logged-out token.
	ErrSessionEnded = fmt.Errorf("%w: not logged in, or the session has ended", central.ErrUnauthorized)
)

// RateLimitError refuses a login during a backoff. It wraps
// central.ErrRateLimited.
type RateLimitError struct {
	Wait time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("too many failed logins, retry in %s", e.Wait.Round(time.Second))
}
func (e *RateLimitError) Unwrap() error             { return central.ErrRateLimited }
func (e *RateLimitError) RetryAfter() time.Duration { return e.Wait }

// Reasons a session ended, reported by Ended.
const (
	EndLogout   = "logged_out"
	EndExpired  = "expired"
	EndRevoked  = "revoked" // password change/reset, role change, user disabled
	EndShutdown = "shutdown"
)

// Options configure a Service. Zero values take the defaults shown.
type Options struct {
	Clock          clock.Clock     // clock.Real{}
	Hash           HashParams      // DefaultHashParams
	IdleTimeout    time.Duration   // 30 min without a request ends a session
	MaxSessionAge  time.Duration   // 12 h after login at most
	SweepInterval  time.Duration   // 1 min: how often expired sessions are ended
	MaxConcurrent  int             // 2 argon2 hashes at once
	UserFailures   int             // 5 failures per username before backoff
	RemoteFailures int             // 20 failures per remote address before backoff
	FailureWindow  time.Duration   // 15 min without failures forgets the count
	BackoffBase    time.Duration   // 1 s, doubled per further failure
	BackoffMax     time.Duration   // 15 min
	Audit          central.Auditor // optional
	Logger         *slog.Logger    // slog.Default()
}

func (o *Options) defaults() {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Hash == (HashParams{}) {
		o.Hash = DefaultHashParams
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.IdleTimeout, 30*time.Minute)
	def(&o.MaxSessionAge, 12*time.Hour)
	def(&o.SweepInterval, time.Minute)
	def(&o.FailureWindow, 15*time.Minute)
	def(&o.BackoffBase, time.Second)
	def(&o.BackoffMax, 15*time.Minute)
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 2
	}
	if o.UserFailures <= 0 {
		o.UserFailures = 5
	}
	if o.RemoteFailures <= 0 {
		o.RemoteFailures = 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Service implements central.UserService.
type Service struct {
	store UserStore
	opt   Options
	clk   clock.Clock
	log   *slog.Logger
	sem   chan struct{} // bounds concurrent argon2 work
	dummy string        // hash verified for unknown users (equal timing)

	mu       sync.Mutex
	sessions map[[32]byte]*session
	users    *limiter
	remotes  *limiter
	closed   bool

	stop chan struct{}
	wg   sync.WaitGroup
}

var _ central.UserService = (*Service)(nil)

type session struct {
	user     central.User
	id       string // short hash of the token, safe to log
	remote   string
	created  time.Time
	lastUsed time.Time
	expires  time.Time
	done     chan struct{}
	reason   string
}

// New starts a Service. Close stops it.
func New(st UserStore, opt Options) (*Service, error) {
	opt.defaults()
	dummy, err := HashPassword("dummy password for unknown users", opt.Hash)
	if err != nil {
		return nil, err
	}
	s := &Service{
		store:    st,
		opt:      opt,
		clk:      opt.Clock,
		log:      opt.Logger,
		sem:      make(chan struct{}, opt.MaxConcurrent),
		dummy:    dummy,
		sessions: map[[32]byte]*session{},
		users:    newLimiter(opt.UserFailures, opt),
		remotes:  newLimiter(opt.RemoteFailures, opt),
		stop:     make(chan struct{}),
	}
	t := s.clk.NewTicker(opt.SweepInterval)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C():
				s.sweep()
			}
		}
	}()
	return s, nil
}

// Close ends every session (reason shutdown) and stops the sweeper.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for k, ss := range s.sessions {
		s.endLocked(k, ss, EndShutdown)
	}
	s.mu.Unlock()
	close(s.stop)
	s.wg.Wait()
	return nil
}

func (s *Service) sweep() {
	now := s.clk.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, ss := range s.sessions {
		if !now.Before(ss.expires) {
			s.endLocked(k, ss, EndExpired)
		}
	}
	s.users.prune(now)
	s.remotes.prune(now)
}

func tokenKey(token string) [32]byte { return sha256.Sum256([]byte(token)) }

func (s *Service) endLocked(k [32]byte, ss *session, reason string) {
	delete(s.sessions, k)
	ss.reason = reason
	close(ss.done)
	s.log.Info("session ended", "user", ss.user.Name, "session", ss.id, "reason", reason)
}

func (s *Service) audit(ctx context.Context, actor central.Actor, action, object string, detail any) {
	if s.opt.Audit == nil {
		return
	}
	if err := s.opt.Audit.Record(ctx, actor, action, object, detail); err != nil {
		s.log.Error("audit record failed", "actor", actor.Name, "action", action, "object", object, "err", err)
	}
}

// Bootstrap creates the first admin when there are no users at all. It
// returns the generated password (print it once) and true, or "" and false
// if users exist. There is no default password.
func (s *Service) Bootstrap(ctx context.Context, name string) (string, bool, error) {
	users, err := s.store.Users(ctx)
	if err != nil {
		return "", false, fmt.Errorf("bootstrap: %w", err)
	}
	if len(users) > 0 {
		return "", false, nil
	}
	if name == "" {
		name = "admin"
	}
	pw, err := GeneratePassword(20)
	if err != nil {
		return "", false, err
	}
	u, err := s.createUser(ctx, central.NewUser{Name: name, Role: central.RoleAdmin, Password: pw})
	if err != nil {
		return "", false, fmt.Errorf("bootstrap: %w", err)
	}
	s.log.Warn("created the first admin with a generated password; it must be changed at first login", "user", name)
	s.audit(ctx, central.System, "user.bootstrap", "user/"+u.ID, map[string]string{"name": name})
	return pw, true, nil
}

// Login checks a password and starts a session. remote is the client's
// address, used for the per-address rate limit and the logs.
func (s *Service) Login(ctx context.Context, name, password, remote string) (*central.Session, error) {
	now := s.clk.Now()
	ukey := strings.ToLower(name)
	rkey := remoteHost(remote)
	// Reserve the attempt before the slow verify so parallel guesses count
	// against the limit while they are being checked.
	s.mu.Lock()
	uwait, uok := s.users.acquire(ukey, now)
	var rwait time.Duration
	rok := false
	if uok {
		if rwait, rok = s.remotes.acquire(rkey, now); !rok {
			s.users.release(ukey, false, now)
		}
	}
	s.mu.Unlock()
	if !uok || !rok {
		wait := max(uwait, rwait)
		s.log.Warn("login refused: rate limited", "user", name, "remote", remote, "retry_after", wait)
		return nil, &RateLimitError{Wait: wait}
	}
	released := false
	release := func(failed bool) {
		now := s.clk.Now()
		s.mu.Lock()
		defer s.mu.Unlock()
		if released {
			return
		}
		released = true
		s.users.release(ukey, failed, now)
		s.remotes.release(rkey, failed, now)
	}
	defer release(false)
	ok, u, err := s.checkPassword(ctx, name, password)
	if err != nil {
		return nil, err
	}
	now = s.clk.Now()
	if !ok || u.Disabled {
		release(true)
		s.log.Warn("login failed", "user", name, "remote", remote, "disabled", ok && u.Disabled)
		s.audit(ctx, central.Actor{UserID: "-", Name: name, Remote: remote}, "login.fail", "", nil)
		return nil, ErrBadCredentials
	}
	u.LastLogin = now
	if err := s.store.UpdateUser(ctx, u); err != nil {
		return nil, fmt.Errorf("login %s: %w", name, err)
	}
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	k := tokenKey(token)
	ss := &session{user: u.User, id: hex.EncodeToString(k[:4]), remote: remote, created: now, lastUsed: now, done: make(chan struct{})}
	ss.expires = s.expiry(ss)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("login: %w: shutting down", central.ErrUnavailable)
	}
	s.users.reset(ukey)
	s.sessions[k] = ss
	out := &central.Session{Token: token, User: ss.user, Created: ss.created, Expires: ss.expires}
	s.mu.Unlock()
	s.log.Info("login", "user", u.Name, "role", u.Role, "remote", remote, "session", ss.id)
	s.audit(ctx, actorOf(u.User, remote), "login", "user/"+u.ID, nil)
	return out, nil
}

func actorOf(u central.User, remote string) central.Actor {
	return central.Actor{UserID: u.ID, Name: u.Name, Role: u.Role, Remote: remote}
}

// checkPassword verifies against the stored hash, or against a dummy for an
// unknown user so both take the same time. At most MaxConcurrent run at once.
func (s *Service) checkPassword(ctx context.Context, name, password string) (bool, *store.UserRecord, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return false, nil, fmt.Errorf("login %s: %w", name, ctx.Err())
	}
	defer func() { <-s.sem }()
	if len(name) > 64 || len(password) > 1024 {
		_, _ = VerifyPassword(password, s.dummy)
		return false, nil, nil
	}
	u, err := s.store.UserByName(ctx, name)
	if errors.Is(err, central.ErrNotFound) {
		_, _ = VerifyPassword(password, s.dummy)
		return false, nil, nil
	}
	if err != nil {
		return false, nil, fmt.Errorf("login %s: %w", name, err)
	}
	ok, err := VerifyPassword(password, u.PasswordHash)
	if err != nil {
		return false, nil, fmt.Errorf("login %s: %w", name, err)
	}
	return ok, u, nil
}

func (s *Service) expiry(ss *session) time.Time {
	idle := ss.lastUsed.Add(s.opt.IdleTimeout)
	abs := ss.created.Add(s.opt.MaxSessionAge)
	if abs.Before(idle) {
		return abs
	}
	return idle
}

// lookup returns the live session for token and extends its idle expiry.
func (s *Service) lookup(token string) (*session, error) {
	now := s.clk.Now()
	k := tokenKey(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[k]
	if !ok {
		return nil, ErrSessionEnded
	}
	if !now.Before(ss.expires) {
		s.endLocked(k, ss, EndExpired)
		return nil, ErrSessionEnded
	}
	ss.lastUsed = now
	ss.expires = s.expiry(ss)
	return ss, nil
}

// Authenticate resolves a token to its actor and extends the session's idle
// expiry. Remote is the address the session logged in from.
func (s *Service) Authenticate(_ context.Context, token string) (central.Actor, error) {
	ss, err := s.lookup(token)
	if err != nil {
		return central.Actor{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return actorOf(ss.user, ss.remote), nil
}

// Session returns the session of token (Token left empty) and extends its
// idle expiry.
func (s *Service) Session(_ context.Context, token string) (*central.Session, error) {
	ss, err := s.lookup(token)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return &central.Session{User: ss.user, Created: ss.created, Expires: ss.expires}, nil
}

// Ended returns a channel closed when the session of token ends, and a
// function that then says why (one of the End* reasons).
func (s *Service) Ended(token string) (<-chan struct{}, func() string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[tokenKey(token)]
	if !ok {
		return nil, nil, ErrSessionEnded
	}
	return ss.done, func() string {
		s.mu.Lock()
		defer s.mu.Unlock()
		return ss.reason
	}, nil
}

// Logout ends the session of token.
func (s *Service) Logout(ctx context.Context, token string) error {
	k := tokenKey(token)
	s.mu.Lock()
	ss, ok := s.sessions[k]
	if !ok {
		s.mu.Unlock()
		return ErrSessionEnded
	}
	s.endLocked(k, ss, EndLogout)
	u := ss.user
	s.mu.Unlock()
	s.audit(ctx, actorOf(u, ss.remote), "logout", "user/"+u.ID, nil)
	return nil
}

// endUserSessions ends every session of user id except keep (may be nil).
func (s *Service) endUserSessions(id string, keep *[32]byte, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, ss := range s.sessions {
		if ss.user.ID == id && (keep == nil || k != *keep) {
			s.endLocked(k, ss, reason)
		}
	}
}

// updateSessions applies f to the user copy of every session of user id.
func (s *Service) updateSessions(id string, f func(*central.User)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.sessions {
		if ss.user.ID == id {
			f(&ss.user)
		}
	}
}

// ChangePassword changes the actor's own password and ends all their
// sessions. Front ends that hold the session token should call
// ChangePasswordSession, which keeps the session the change was made in.
func (s *Service) ChangePassword(ctx context.Context, actor central.Actor, oldPassword, newPassword string) error {
	return s.changePassword(ctx, actor, nil, oldPassword, newPassword)
}

// ChangePasswordSession changes the password of the session's user, clears
// the first-run flag and ends the user's other sessions.
func (s *Service) ChangePasswordSession(ctx context.Context, token, oldPassword, newPassword string) error {
	ss, err := s.lookup(token)
	if err != nil {
		return err
	}
	s.mu.Lock()
	actor := actorOf(ss.user, ss.remote)
	s.mu.Unlock()
	k := tokenKey(token)
	return s.changePassword(ctx, actor, &k, oldPassword, newPassword)
}

func (s *Service) changePassword(ctx context.Context, actor central.Actor, keep *[32]byte, oldPassword, newPassword string) error {
	ok, u, err := s.checkPassword(ctx, actor.Name, oldPassword)
	if err != nil {
		return err
	}
	if !ok || u.ID != actor.UserID {
		s.log.Warn("password change refused: wrong old password", "user", actor.Name)
		s.audit(ctx, actor, "user.change_password.fail", "user/"+actor.UserID, nil)
		return fmt.Errorf("old_password: %w", ErrBadCredentials)
	}
	if err := checkNewPassword("new_password", u.Name, oldPassword, newPassword); err != nil {
		return err
	}
	hash, err := s.hash(ctx, newPassword)
	if err != nil {
		return err
	}
	u.PasswordHash = hash
	u.MustChangePassword = false
	u.UpdatedAt = s.clk.Now()
	if err := s.store.UpdateUser(ctx, u); err != nil {
		return fmt.Errorf("change password %s: %w", u.Name, err)
	}
	s.endUserSessions(u.ID, keep, EndRevoked)
	s.updateSessions(u.ID, func(cu *central.User) { cu.MustChangePassword = false })
	s.log.Info("password changed", "user", u.Name)
	s.audit(ctx, actor, "user.change_password", "user/"+u.ID, nil)
	return nil
}

func (s *Service) hash(ctx context.Context, password string) (string, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.sem }()
	return HashPassword(password, s.opt.Hash)
}

// MinPasswordRunes is the shortest password accepted.
const MinPasswordRunes = 12

func checkNewPassword(field, name, old, pw string) error {
	switch {
	case !utf8.ValidString(pw):
		return central.Invalid(field, "is not valid UTF-8")
	case utf8.RuneCountInString(pw) < MinPasswordRunes:
		return central.Invalid(field, "must be at least %d characters", MinPasswordRunes)
	case len(pw) > 1024:
		return central.Invalid(field, "must be at most 1024 bytes")
	case strings.EqualFold(pw, name):
		return central.Invalid(field, "must not be the username")
	case old != "" && pw == old:
		return central.Invalid(field, "must differ from the old password")
	}
	return nil
}

// ValidName checks a login name: 3..32 of a-z 0-9 . _ -, starting with a
// letter or digit.
func ValidName(name string) error {
	if len(name) < 3 || len(name) > 32 {
		return central.Invalid("name", "must be 3 to 32 characters")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return central.Invalid("name", "character %q at %d is not allowed (a-z 0-9, and . _ - after the first)", c, i)
		}
	}
	return nil
}

func (s *Service) createUser(ctx context.Context, nu central.NewUser) (*central.User, error) {
	if err := ValidName(nu.Name); err != nil {
		return nil, err
	}
	if !nu.Role.Valid() {
		return nil, central.Invalid("role", "unknown role %q", nu.Role)
	}
	if utf8.RuneCountInString(nu.DisplayName) > 64 || !utf8.ValidString(nu.DisplayName) {
		return nil, central.Invalid("display_name", "must be valid UTF-8, at most 64 characters")
	}
	if err := checkNewPassword("password", nu.Name, "", nu.Password); err != nil {
		return nil, err
	}
	hash, err := s.hash(ctx, nu.Password)
	if err != nil {
		return nil, err
	}
	now := s.clk.Now()
	rec := &store.UserRecord{
		User: central.User{Name: nu.Name, DisplayName: nu.DisplayName, Role: nu.Role,
			MustChangePassword: true, CreatedAt: now, UpdatedAt: now},
		PasswordHash: hash,
	}
	if err := s.store.CreateUser(ctx, rec); err != nil {
		return nil, err
	}
	u := rec.User
	return &u, nil
}

func requireAdmin(a central.Actor, what string) error {
	if !a.Can(central.PermManageUsers) {
		return central.Forbidden(a, what)
	}
	return nil
}

// CreateUser creates a user with the given initial password, which must be
// changed at first login. Admin only.
func (s *Service) CreateUser(ctx context.Context, actor central.Actor, nu central.NewUser) (*central.User, error) {
	if err := requireAdmin(actor, "create users"); err != nil {
		return nil, err
	}
	u, err := s.createUser(ctx, nu)
	if err != nil {
		return nil, err
	}
	s.log.Info("user created", "actor", actor.Name, "user", u.Name, "role", u.Role)
	s.audit(ctx, actor, "user.create", "user/"+u.ID, map[string]string{"name": u.Name, "role": string(u.Role)})
	return u, nil
}

// ListUsers lists every user. Admin only.
func (s *Service) ListUsers(ctx context.Context, actor central.Actor) ([]central.User, error) {
	if err := requireAdmin(actor, "list users"); err != nil {
		return nil, err
	}
	recs, err := s.store.Users(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]central.User, len(recs))
	for i, r := range recs {
		out[i] = r.User
	}
	return out, nil
}

// GetUser returns one user. Users may read themselves; admins anyone.
func (s *Service) GetUser(ctx context.Context, actor central.Actor, id string) (*central.User, error) {
	if actor.UserID != id {
		if err := requireAdmin(actor, "read other users"); err != nil {
			return nil, err
		}
	}
	r, err := s.store.User(ctx, id)
	if err != nil {
		return nil, err
	}
	u := r.User
	return &u, nil
}

// UpdateUser changes display name, role or disabled. A role change or
// disabling ends the user's sessions so it applies at once. Admins cannot
// demote or disable themselves, so there is always an admin.
func (s *Service) UpdateUser(ctx context.Context, actor central.Actor, id string, up central.UserUpdate) (*central.User, error) {
	if err := requireAdmin(actor, "change users"); err != nil {
		return nil, err
	}
	r, err := s.store.User(ctx, id)
	if err != nil {
		return nil, err
	}
	revoke := false
	detail := map[string]any{}
	if up.DisplayName != nil {
		if utf8.RuneCountInString(*up.DisplayName) > 64 || !utf8.ValidString(*up.DisplayName) {
			return nil, central.Invalid("display_name", "must be valid UTF-8, at most 64 characters")
		}
		r.DisplayName = *up.DisplayName
		detail["display_name"] = *up.DisplayName
	}
	if up.Role != nil && *up.Role != r.Role {
		if !up.Role.Valid() {
			return nil, central.Invalid("role", "unknown role %q", *up.Role)
		}
		if id == actor.UserID {
			return nil, fmt.Errorf("%w: an admin cannot change their own role", central.ErrConflict)
		}
		detail["role"] = map[string]central.Role{"from": r.Role, "to": *up.Role}
		r.Role = *up.Role
		revoke = true
	}
	if up.Disabled != nil && *up.Disabled != r.Disabled {
		if id == actor.UserID && *up.Disabled {
			return nil, fmt.Errorf("%w: an admin cannot disable themselves", central.ErrConflict)
		}
		r.Disabled = *up.Disabled
		detail["disabled"] = r.Disabled
		revoke = revoke || r.Disabled
	}
	r.UpdatedAt = s.clk.Now()
	if err := s.store.UpdateUser(ctx, r); err != nil {
		return nil, err
	}
	if revoke {
		s.endUserSessions(id, nil, EndRevoked)
	} else {
		s.updateSessions(id, func(u *central.User) { u.DisplayName = r.DisplayName })
	}
	s.log.Info("user updated", "actor", actor.Name, "user", r.Name, "detail", detail)
	s.audit(ctx, actor, "user.update", "user/"+id, detail)
	u := r.User
	return &u, nil
}

// ResetPassword sets a new initial password (to be changed at next login)
// and ends the user's sessions. Admin only.
func (s *Service) ResetPassword(ctx context.Context, actor central.Actor, id, newPassword string) error {
	if err := requireAdmin(actor, "reset passwords"); err != nil {
		return err
	}
	r, err := s.store.User(ctx, id)
	if err != nil {
		return err
	}
	if err := checkNewPassword("password", r.Name, "", newPassword); err != nil {
		return err
	}
	hash, err := s.hash(ctx, newPassword)
	if err != nil {
		return err
	}
	r.PasswordHash = hash
	r.MustChangePassword = true
	r.UpdatedAt = s.clk.Now()
	if err := s.store.UpdateUser(ctx, r); err != nil {
		return err
	}
	s.endUserSessions(id, nil, EndRevoked)
	s.log.Info("password reset", "actor", actor.Name, "user", r.Name)
	s.audit(ctx, actor, "user.reset_password", "user/"+id, nil)
	return nil
}

func remoteHost(remote string) string {
	// "1.2.3.4:5678" and "[::1]:5678" -> host; anything else as is.
	if i := strings.LastIndexByte(remote, ':'); i > 0 && !strings.HasSuffix(remote, "]") {
		h := remote[:i]
		return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	}
	return remote
}
