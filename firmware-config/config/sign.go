package config

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/atmguard/kiosk/internal/wire"
)

// MaxSigBytes bounds a signature file; a real one is about 120 bytes.
const MaxSigBytes = 1024

// ErrUnsigned is returned when a config has no signature file.
var ErrUnsigned = errors.New("config is not signed")

// Sig is the detached signature file "<config>.sig":
//
//	{"v":1,"kid":"<16 hex>","sig":"<base64 ed25519 signature>"}
//
// over the exact bytes of the config file, made with a provisioning key.
type Sig struct {
	V     int    `json:"v"`
	KeyID string `json:"kid"`
	Sig   []byte `json:"sig"`
}

// Sign returns the detached signature file for config bytes data.
func Sign(data []byte, signer *wire.Signer) ([]byte, error) {
	if signer == nil {
		return nil, errors.New("sign config: no signer")
	}
	if len(data) > MaxConfigBytes {
		return nil, fmt.Errorf("sign config: %d bytes, max %d", len(data), MaxConfigBytes)
	}
	env, err := signer.Seal(data)
	if err != nil {
		return nil, fmt.Errorf("sign config: %w", err)
	}
	var e wire.Envelope
	if err := json.Unmarshal(env, &e); err != nil {
		return nil, fmt.Errorf("sign config: %w", err)
	}
	out, err := json.Marshal(Sig{V: wire.Version, KeyID: e.KeyID, Sig: e.Sig})
	if err != nil {
		return nil, fmt.Errorf("sign config: %w", err)
	}
	return append(out, '\n'), nil
}

// Verify checks sig (the .sig file bytes) over data against keys. Errors
// wrap ErrUnsigned (empty sig), wire.ErrMalformed, wire.ErrVersion,
// wire.ErrUnknownKey or wire.ErrBadSignature.
func Verify(data, sig []byte, keys wire.KeyRing) error {
	if len(bytes.TrimSpace(sig)) == 0 {
		return fmt.Errorf("%w: signature file is empty", ErrUnsigned)
	}
	if len(sig) > MaxSigBytes {
		return fmt.Errorf("%w: signature file is %d bytes, max %d", wire.ErrMalformed, len(sig), MaxSigBytes)
	}
	var raw struct {
		V     *int    `json:"v"`
		KeyID *string `json:"kid"`
		Sig   *string `json:"sig"`
	}
	dec := json.NewDecoder(bytes.NewReader(sig))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("%w: signature file: %v", wire.ErrMalformed, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: signature file: trailing data", wire.ErrMalformed)
	}
	switch {
	case raw.V == nil:
		return fmt.Errorf("%w: signature file: missing field v", wire.ErrMalformed)
	case raw.KeyID == nil:
		return fmt.Errorf("%w: signature file: missing field kid", wire.ErrMalformed)
	case raw.Sig == nil:
		return fmt.Errorf("%w: signature file: missing field sig", wire.ErrMalformed)
	}
	if *raw.V != wire.Version {
		return fmt.Errorf("%w: signature file v=%d (want %d)", wire.ErrVersion, *raw.V, wire.Version)
	}
	pub, ok := keys[*raw.KeyID]
	if !ok {
		return fmt.Errorf("%w: config signed by kid %q, which is not a pinned provisioning key", wire.ErrUnknownKey, truncate(*raw.KeyID, 32))
	}
	s, err := base64.StdEncoding.Strict().DecodeString(*raw.Sig)
	if err != nil {
		return fmt.Errorf("%w: signature file: sig is not base64: %v", wire.ErrMalformed, err)
	}
	if len(s) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature file: sig is %d bytes, want %d", wire.ErrMalformed, len(s), ed25519.SignatureSize)
	}
	if !ed25519.Verify(pub, data, s) {
		return fmt.Errorf("%w: config bytes do not match the signature of kid %s (edited after signing?)", wire.ErrBadSignature, *raw.KeyID)
	}
	return nil
}

// LoadSigned reads a config and its detached signature, verifies the
// signature against the pinned provisioning keys, and only then parses and
// validates the config. It refuses a missing, malformed or wrong signature.
func LoadSigned(configPath, sigPath string, provisioningKeys wire.KeyRing) (*Config, error) {
	if len(provisioningKeys) == 0 {
		return nil, fmt.Errorf("load signed config %s: no provisioning keys pinned", configPath)
	}
	data, err := ReadLimited(configPath, MaxConfigBytes)
	if err != nil {
		return nil, fmt.Errorf("load signed config: %w", err)
	}
	sig, err := ReadLimited(sigPath, MaxSigBytes)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("load signed config %s: %w: no signature file %s (sign it with kiosk-config sign)", configPath, ErrUnsigned, sigPath)
	}
	if err != nil {
		return nil, fmt.Errorf("load signed config %s: signature: %w", configPath, err)
	}
	if err := Verify(data, sig, provisioningKeys); err != nil {
		return nil, fmt.Errorf("load signed config %s: verify %s: %w", configPath, sigPath, err)
	}
	cfg, err := Parse(data, configPath)
	if err != nil {
		return nil, fmt.Errorf("load signed config %s: %w", configPath, err)
	}
	return cfg, nil
}

// SigPath is the conventional signature file name for a config path.
func SigPath(configPath string) string { return configPath + ".sig" }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
