// Package enroll is the field-tool side of POST {central}/api/v1/enroll
// (docs/PROTOCOL.md): send a one-time token and a draft config, check what
// central answers (signature, provisioning key, the final config still
// describes the same device), and install the result atomically.
package enroll

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/atmguard/kiosk/firmware-config/config"
	"github.com/atmguard/kiosk/internal/wire"
)

// Path of the endpoint under the central URL.
const Path = "/api/v1/enroll"

// MaxResponseBytes bounds central's answer.
const MaxResponseBytes = 256 << 10

// Request and Response are the JSON bodies of the contract.
type Request struct {
	Token  string `json:"token"`
	Config string `json:"config"`
}

type Response struct {
	Config          string `json:"config"`
	Signature       string `json:"signature"`
	ProvisioningKey string `json:"provisioning_key"`
}

// RefusedError is central's 4xx answer: the token or the draft was refused.
type RefusedError struct {
	Status int
	Msg    string `json:"error"`
	Field  string `json:"field"`
}

func (e *RefusedError) Error() string {
	s := fmt.Sprintf("central refused enrollment (HTTP %d): %s", e.Status, e.Msg)
	if e.Field != "" {
		s += " (field " + e.Field + ")"
	}
	return s
}

// ErrRemote wraps failures to reach central or a 5xx answer: try again.
var ErrRemote = errors.New("central unreachable or failing")

// ErrBadAnswer wraps an answer that fails the checks: do not install it.
var ErrBadAnswer = errors.New("central's enrollment answer failed checks")

// Result is a checked enrollment, ready to install.
type Result struct {
	Config          *config.Config
	ConfigBytes     []byte
	Sig             []byte
	ProvisioningKey ed25519.PublicKey
}

// Options tune Enroll.
type Options struct {
	// PinnedKeys, if set, are the provisioning keys the answer must be
	// signed by (from a provisioning.pub the tech brought). Without them
	// the key in the answer is trusted on first use, over the TLS
	// connection the token authenticates.
	PinnedKeys wire.KeyRing
	// AllowInsecureHTTP permits http:// to a non-loopback central.
	AllowInsecureHTTP bool
}

// Enroll sends the draft and checks the answer.
func Enroll(ctx context.Context, client *http.Client, centralURL, token string, draft []byte, opt Options) (*Result, error) {
	if client == nil {
		client = http.DefaultClient
	}
	if strings.TrimSpace(token) == "" {
		return nil, errors.New("enroll: empty token")
	}
	u, err := url.Parse(centralURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("enroll: central URL %q: expected https://host[:port]", centralURL)
	}
	if u.Scheme == "http" && !opt.AllowInsecureHTTP && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("enroll: http:// to %s would send the token and receive the broker password in clear; use https://", u.Hostname())
	}
	drafted, err := config.ParseDraft(draft, "draft")
	if err != nil {
		return nil, fmt.Errorf("enroll: draft config: %w", err)
	}
	body, _ := json.Marshal(Request{Token: token, Config: string(draft)})
	endpoint := strings.TrimRight(centralURL, "/") + Path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("enroll: %w: %v", ErrRemote, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("enroll: %w: read answer: %v", ErrRemote, err)
	}
	if len(data) > MaxResponseBytes {
		return nil, fmt.Errorf("enroll: %w: answer over %d bytes", ErrBadAnswer, MaxResponseBytes)
	}
	switch {
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		re := &RefusedError{Status: resp.StatusCode}
		if json.Unmarshal(data, re) != nil || re.Msg == "" {
			re.Msg = strings.TrimSpace(truncate(string(data), 200))
		}
		return nil, fmt.Errorf("enroll: %w", re)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("enroll: %w: HTTP %d: %s", ErrRemote, resp.StatusCode, truncate(strings.TrimSpace(string(data)), 200))
	}
	var ans Response
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ans); err != nil {
		return nil, fmt.Errorf("enroll: %w: %v", ErrBadAnswer, err)
	}
	return check(drafted, &ans, opt)
}

func check(draft *config.Config, ans *Response, opt Options) (*Result, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("enroll: %w: %s", ErrBadAnswer, fmt.Sprintf(format, a...))
	}
	pub, err := config.ParsePublicKey(strings.TrimSpace(ans.ProvisioningKey))
	if err != nil {
		return nil, bad("provisioning_key: %v", err)
	}
	kid := wire.KeyID(pub)
	if len(opt.PinnedKeys) > 0 {
		if _, ok := opt.PinnedKeys[kid]; !ok {
			return nil, bad("provisioning key %s is not one of the pinned keys", kid)
		}
	}
	ring, _ := wire.NewKeyRing(pub)
	cfgBytes, sig := []byte(ans.Config), []byte(ans.Signature)
	if err := config.Verify(cfgBytes, sig, ring); err != nil {
		return nil, bad("signature: %v", err)
	}
	final, err := config.Parse(cfgBytes, "enrolled config")
	if err != nil {
		return nil, bad("final config is invalid: %v", err)
	}
	if final.Device != draft.Device {
		return nil, bad("final config is for device %+v, the draft was %+v", final.Device, draft.Device)
	}
	return &Result{Config: final, ConfigBytes: cfgBytes, Sig: sig, ProvisioningKey: pub}, nil
}

// Install writes provisioning.pub, the config and its .sig (in that order),
// each through a temporary file, fsync and rename. The config holds the
// broker password, so it is written 0600.
func Install(r *Result, configPath, pubPath string) error {
	// A fresh device may not have /etc/kiosk yet.
	for _, d := range []string{filepath.Dir(configPath), filepath.Dir(pubPath)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("install: %w", err)
		}
	}
	if err := config.WriteFileAtomic(pubPath, config.MarshalPublicKey(r.ProvisioningKey), 0o644); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if err := config.WriteFileAtomic(configPath, r.ConfigBytes, 0o600); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if err := config.WriteFileAtomic(config.SigPath(configPath), r.Sig, 0o644); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	return nil
}

// DefaultPubPath is provisioning.pub next to the config.
func DefaultPubPath(configPath string) string {
	return filepath.Join(filepath.Dir(configPath), "provisioning.pub")
}

func isLoopback(h string) bool {
	if h == "localhost" {
		return true
	}
	for _, p := range []string{"127.", "::1"} {
		if strings.HasPrefix(h, p) {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
