// Package fakecentral is a test double of central's side of the field-tool
// contracts in docs/PROTOCOL.md: POST /api/v1/enroll (one-time tokens,
// draft validation, generated broker credentials, signed final config) and
// GET /healthz with a Date header from an injected clock. It exists to test
// kiosk-config against the documented contract while the real central is
// built; it is not used by any binary.
package fakecentral

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/atmguard/kiosk/firmware-config/config"
	"github.com/atmguard/kiosk/firmware-config/enroll"
	"github.com/atmguard/kiosk/internal/wire"
)

// Central is a running fake central.
type Central struct {
	URL         string
	Provision   *wire.Signer // provisioning key: signs device configs
	SigningKeys []string     // central's snapshot keys pinned in configs
	BrokerURL   string

	mu          sync.Mutex
	tokens      map[string]bool // token -> still usable
	creds       map[string]string
	enrollCalls int
	now         func() time.Time
	health      int
	tamper      func(*enroll.Response)
	srv         *httptest.Server
}

// New starts a fake central; it stops when the test ends.
func New(tb testing.TB, brokerURL string) *Central {
	tb.Helper()
	c := &Central{
		BrokerURL: brokerURL,
		tokens:    map[string]bool{},
		creds:     map[string]string{},
		now:       time.Now,
		health:    http.StatusOK,
	}
	c.Provision = newSigner(tb)
	snap := newSigner(tb)
	c.SigningKeys = []string{config.EncodePublicKey(snap.PublicKey())}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/enroll", c.enroll)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		now, code := c.now(), c.health
		c.mu.Unlock()
		w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
		w.WriteHeader(code)
		w.Write([]byte("ok\n"))
	})
	c.srv = httptest.NewServer(mux)
	c.URL = c.srv.URL
	tb.Cleanup(c.srv.Close)
	return c
}

func newSigner(tb testing.TB) *wire.Signer {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := wire.NewSigner(priv)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// AddToken makes a one-time enrollment token usable.
func (c *Central) AddToken(tok string) {
	c.mu.Lock()
	c.tokens[tok] = true
	c.mu.Unlock()
}

// SetNow sets central's clock (the /healthz Date header).
func (c *Central) SetNow(f func() time.Time) { c.mu.Lock(); c.now = f; c.mu.Unlock() }

// SetHealth sets the /healthz status code.
func (c *Central) SetHealth(code int) { c.mu.Lock(); c.health = code; c.mu.Unlock() }

// SetTamper lets a test corrupt the answer after signing (a hostile
// network or a broken central).
func (c *Central) SetTamper(f func(*enroll.Response)) { c.mu.Lock(); c.tamper = f; c.mu.Unlock() }

// Password is the broker password generated for a device (the test broker
// authenticates against it).
func (c *Central) Password(user string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.creds[user]
	return p, ok
}

// EnrollCalls counts requests that reached the enroll handler.
func (c *Central) EnrollCalls() int { c.mu.Lock(); defer c.mu.Unlock(); return c.enrollCalls }

type apiError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func (c *Central) enroll(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.enrollCalls++
	c.mu.Unlock()
	var req enroll.Request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 128<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "malformed request: " + err.Error()})
		return
	}
	c.mu.Lock()
	ok := c.tokens[req.Token]
	if ok {
		c.tokens[req.Token] = false // one use, even if the draft is then refused
	}
	c.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusForbidden, apiError{Error: "enrollment token unknown, used or expired", Field: "token"})
		return
	}
	cfg, err := config.ParseDraft([]byte(req.Config), "draft")
	if err != nil {
		var es config.Errors
		field := ""
		if errors.As(err, &es) && len(es) > 0 {
			field = es[0].Field
		}
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: err.Error(), Field: field})
		return
	}
	pw := make([]byte, 18)
	rand.Read(pw)
	cfg.Broker.URL = c.BrokerURL
	cfg.Broker.Username = cfg.Device.ID
	cfg.Broker.Password = base64.RawURLEncoding.EncodeToString(pw)
	cfg.Central.ContentURL, cfg.Central.APIURL = c.URL, c.URL
	cfg.Signing.Keys = c.SigningKeys
	if err := cfg.Validate(); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: err.Error()})
		return
	}
	final := cfg.Marshal()
	sig, err := config.Sign(final, c.Provision)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{Error: err.Error()})
		return
	}
	c.mu.Lock()
	c.creds[cfg.Broker.Username] = cfg.Broker.Password
	tamper := c.tamper
	c.mu.Unlock()
	resp := enroll.Response{Config: string(final), Signature: string(sig), ProvisioningKey: config.EncodePublicKey(c.Provision.PublicKey())}
	if tamper != nil {
		tamper(&resp)
	}
	writeJSON(w, http.StatusOK, resp)
}
