package enroll

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/store"
	"github.com/atmguard/kiosk/firmware-config/config"
	"github.com/atmguard/kiosk/internal/clock"
	"github.com/atmguard/kiosk/internal/wire"
)

// Registrar creates device credentials (the registry).
type Registrar interface {
	Register(tx *store.Tx, id, branch, pref string) (password string, err error)
	Registered(id string, db *store.DB) error
}

// Config wires a Service.
type Config struct {
	DB           *store.DB
	Audit        *store.AuditLog
	Clock        clock.Clock
	Devices      Registrar
	Provisioning func() *wire.Signer // signs device configs
	PublicKeys   func() []string     // base64 ed25519 signing keys to pin (active first)
	BrokerURL    string              // what devices connect to, e.g. tcp://central.example:1883
	CentralURL   string              // what devices fetch content from, e.g. https://central.example
}

// Service implements central.EnrollService.
type Service struct {
	cfg Config

	mu    sync.Mutex
	fails map[string]*failWindow // remote host -> failed token checks
}

// Failed token checks allowed per remote host per FailWindow; more answer
// rate_limited until the window has passed. Tokens are 192 random bits, so
// this is about load (every attempt costs a token scan), not guessing;
// successful enrollments are not counted, so a technician enrolling a
// branch from behind one NAT address is not slowed down.
const (
	MaxFailures = 10
	FailWindow  = time.Minute
	maxHosts    = 10000 // bound on remembered hosts
)

type failWindow struct {
	n     int
	start time.Time
}

func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Audit == nil || cfg.Clock == nil || cfg.Devices == nil || cfg.Provisioning == nil || cfg.PublicKeys == nil {
		return nil, errors.New("enroll: DB, Audit, Clock, Devices, Provisioning and PublicKeys are required")
	}
	for _, u := range []string{cfg.BrokerURL, cfg.CentralURL} {
		if _, err := url.Parse(u); err != nil || u == "" {
			return nil, fmt.Errorf("enroll: bad URL %q", u)
		}
	}
	return &Service{cfg: cfg, fails: map[string]*failWindow{}}, nil
}

func hostOf(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}

// limited reports whether host has used up its failures in this window.
func (s *Service) limited(host string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fails[host]
	return f != nil && now.Sub(f.start) < FailWindow && f.n >= MaxFailures
}

func (s *Service) failed(host string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fails[host]
	if f == nil || now.Sub(f.start) >= FailWindow {
		if f == nil && len(s.fails) >= maxHosts {
			for h, o := range s.fails {
				if now.Sub(o.start) >= FailWindow {
					delete(s.fails, h)
				}
			}
			if len(s.fails) >= maxHosts {
				return // flooded from many addresses: forget nothing, count nothing new
			}
		}
		f = &failWindow{start: now}
		s.fails[host] = f
	}
	f.n++
}

// checkToken finds the token with secret tok and checks it can still be
// used. It runs in a read transaction: unknown or spent tokens never take
// the database's write lock.
func (s *Service) checkToken(tx *store.Tx, tok string, now time.Time) (*store.TokenRecord, error) {
	var rec *store.TokenRecord
	want := secretHash(tok)
	if err := tx.Tokens(func(r *store.TokenRecord) error {
		if subtle.ConstantTimeCompare([]byte(r.SecretHash), []byte(want)) == 1 {
			c := *r
			rec = &c
		}
		return nil
	}); err != nil {
		return nil, err
	}
	switch {
	case rec == nil:
		return nil, &central.FieldError{Kind: central.ErrUnauthorized, Field: "token", Message: "unknown enrollment token"}
	case rec.Revoked:
		return nil, &central.FieldError{Kind: central.ErrUnauthorized, Field: "token", Message: "this enrollment token was revoked"}
	case !rec.UsedAt.IsZero():
		return nil, &central.FieldError{Kind: central.ErrUnauthorized, Field: "token", Message: fmt.Sprintf("this enrollment token was already used (by %s)", rec.UsedBy)}
	case !now.Before(rec.Expires):
		return nil, &central.FieldError{Kind: central.ErrUnauthorized, Field: "token", Message: "this enrollment token has expired; ask for a new one"}
	}
	return rec, nil
}

func secretHash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// MaxTTL bounds a token's lifetime.
const MaxTTL = 30 * 24 * time.Hour

func (s *Service) CreateToken(ctx context.Context, actor central.Actor, req central.EnrollTokenRequest) (string, *central.EnrollToken, error) {
	if !actor.Can(central.PermEnroll) {
		return "", nil, central.Forbidden(actor, "create enrollment tokens")
	}
	if req.Branch != "" {
		if err := wire.ValidID(req.Branch); err != nil {
			return "", nil, central.Invalid("branch", "%v", err)
		}
	}
	if req.Pref != "" {
		if err := wire.ValidPref(req.Pref); err != nil {
			return "", nil, central.Invalid("pref", "%v", err)
		}
	}
	if req.Reenroll != "" {
		if err := wire.ValidID(req.Reenroll); err != nil {
			return "", nil, central.Invalid("reenroll", "%v", err)
		}
	}
	ttl := req.TTL
	if ttl == 0 {
		ttl = 24 * time.Hour
	}
	if ttl < time.Minute || ttl > MaxTTL {
		return "", nil, central.Invalid("ttl", "a token lives between 1 minute and 30 days")
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	secret := "kt_" + base64.RawURLEncoding.EncodeToString(b)
	var tok *central.EnrollToken
	var entry *central.AuditEntry
	err := s.cfg.DB.Update(func(tx *store.Tx) error {
		n, err := tx.NextID("enroll")
		if err != nil {
			return err
		}
		now := s.cfg.Clock.Now()
		rec := &store.TokenRecord{EnrollToken: central.EnrollToken{ID: fmt.Sprintf("t-%d", n), Branch: req.Branch, Pref: req.Pref,
			Reenroll: req.Reenroll, CreatedBy: actor.UserID, CreatedAt: now, Expires: now.Add(ttl)}, SecretHash: secretHash(secret)}
		if err := tx.PutToken(rec); err != nil {
			return err
		}
		tok = &rec.EnrollToken
		entry, err = s.cfg.Audit.RecordTx(tx, actor, "enroll.create_token", "token/"+rec.ID, tok)
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("create enrollment token: %w", err)
	}
	s.cfg.Audit.Committed(*entry)
	return secret, tok, nil
}

func (s *Service) ListTokens(ctx context.Context, actor central.Actor) ([]central.EnrollToken, error) {
	if !actor.Can(central.PermEnroll) {
		return nil, central.Forbidden(actor, "list enrollment tokens")
	}
	out := []central.EnrollToken{}
	err := s.cfg.DB.View(func(tx *store.Tx) error {
		return tx.Tokens(func(r *store.TokenRecord) error { out = append(out, r.EnrollToken); return nil })
	})
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, err
}

func (s *Service) RevokeToken(ctx context.Context, actor central.Actor, id string) error {
	if !actor.Can(central.PermEnroll) {
		return central.Forbidden(actor, "revoke enrollment tokens")
	}
	var entry *central.AuditEntry
	err := s.cfg.DB.Update(func(tx *store.Tx) error {
		r, err := tx.Token(id)
		if err != nil {
			return err
		}
		r.Revoked = true
		if err := tx.PutToken(r); err != nil {
			return err
		}
		entry, err = s.cfg.Audit.RecordTx(tx, actor, "enroll.revoke_token", "token/"+id, nil)
		return err
	})
	if err != nil {
		return err
	}
	s.cfg.Audit.Committed(*entry)
	return nil
}

// Enroll checks the token and draft, creates the device's credentials and
// returns the signed final config. Errors are *central.FieldError values
// whose Field is "token" or a config path.
func (s *Service) Enroll(ctx context.Context, req central.EnrollRequest, remote string) (*central.EnrollResponse, error) {
	if req.Token == "" {
		return nil, &central.FieldError{Kind: central.ErrUnauthorized, Field: "token", Message: "an enrollment token is required"}
	}
	host := hostOf(remote)
	if s.limited(host, s.cfg.Clock.Now()) {
		return nil, &central.FieldError{Kind: central.ErrRateLimited, Field: "token",
			Message: fmt.Sprintf("too many failed enrollment attempts from %s; wait a minute", host)}
	}
	draft, err := config.ParseDraft([]byte(req.Config), "draft")
	if err != nil {
		var es config.Errors
		if errors.As(err, &es) && len(es) > 0 {
			return nil, central.Invalid("config."+es[0].Field, "%s", es.Error())
		}
		return nil, central.Invalid("config", "%v", err)
	}
	dev := draft.Device
	final := *draft
	if err := s.cfg.DB.View(func(tx *store.Tx) error {
		_, err := s.checkToken(tx, req.Token, s.cfg.Clock.Now())
		return err
	}); err != nil {
		if errors.Is(err, central.ErrUnauthorized) {
			s.failed(host, s.cfg.Clock.Now())
		}
		return nil, err
	}
	var resp *central.EnrollResponse
	var entry *central.AuditEntry
	err = s.cfg.DB.Update(func(tx *store.Tx) error {
		now := s.cfg.Clock.Now()
		// again under the write lock: another request may have used it
		rec, err := s.checkToken(tx, req.Token, now)
		if err != nil {
			return err
		}
		switch {
		case rec.Branch != "" && rec.Branch != dev.Branch:
			return central.Invalid("config.device.branch", "this token is for branch %s, the config says %s", rec.Branch, dev.Branch)
		case rec.Pref != "" && rec.Pref != dev.Prefecture:
			return central.Invalid("config.device.prefecture", "this token is for prefecture %s, the config says %s", rec.Pref, dev.Prefecture)
		}
		if ReservedID(dev.ID) {
			return central.Invalid("config.device.id", "device id %q is reserved (it is a privileged broker user)", dev.ID)
		}
		if rec.Reenroll != "" && rec.Reenroll != dev.ID {
			return central.Invalid("config.device.id", "this token re-enrolls device %s only, the config says %s", rec.Reenroll, dev.ID)
		}
		_, err = tx.Device(dev.ID)
		existing := err == nil
		if err != nil && !errors.Is(err, central.ErrNotFound) {
			return err
		}
		if existing && rec.Reenroll != dev.ID {
			// taking over an enrolled id would hand its identity (and
			// broker account) to whoever holds any token
			return &central.FieldError{Kind: central.ErrConflict, Field: "config.device.id",
				Message: fmt.Sprintf("device %s is already enrolled; to replace it, ask for a re-enrollment token for %s", dev.ID, dev.ID)}
		}
		pw, err := s.cfg.Devices.Register(tx, dev.ID, dev.Branch, dev.Prefecture)
		if err != nil {
			return err
		}
		final.Broker.URL = s.cfg.BrokerURL
		final.Broker.Username = dev.ID
		final.Broker.Password = pw
		final.Broker.InsecurePlaintext = final.Broker.InsecurePlaintext || strings.HasPrefix(s.cfg.BrokerURL, "tcp://")
		final.Central.ContentURL = s.cfg.CentralURL
		final.Central.APIURL = s.cfg.CentralURL
		final.Central.InsecureHTTP = final.Central.InsecureHTTP || strings.HasPrefix(s.cfg.CentralURL, "http://")
		final.Signing.Keys = s.cfg.PublicKeys()
		data := final.Marshal()
		if _, err := config.Parse(data, "final"); err != nil {
			return fmt.Errorf("enroll %s: the final config does not validate: %w", dev.ID, err)
		}
		sig, err := config.Sign(data, s.cfg.Provisioning())
		if err != nil {
			return err
		}
		rec.UsedAt, rec.UsedBy = now, dev.ID
		if err := tx.PutToken(rec); err != nil {
			return err
		}
		resp = &central.EnrollResponse{Config: string(data), Signature: string(sig),
			ProvisioningKey: config.EncodePublicKey(s.cfg.Provisioning().PublicKey())}
		action := "device.enroll"
		if existing {
			action = "device.reenroll"
		}
		entry, err = s.cfg.Audit.RecordTx(tx, central.Actor{UserID: "token:" + rec.ID, Name: "enrollment", Remote: remote},
			action, "device/"+dev.ID, map[string]string{"branch": dev.Branch, "pref": dev.Prefecture, "token": rec.ID, "created_by": rec.CreatedBy})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.cfg.Audit.Committed(*entry)
	if err := s.cfg.Devices.Registered(dev.ID, s.cfg.DB); err != nil {
		return nil, err
	}
	return resp, nil
}

// ReservedID reports whether id may not be a device id: "central" is the
// privileged username in the external broker configs (deploy/broker), so a
// device enrolled under that name would get central's ACL.
func ReservedID(id string) bool { return strings.EqualFold(id, "central") }

var _ central.EnrollService = (*Service)(nil)
