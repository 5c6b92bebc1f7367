package wire

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// Version is the only envelope version this code produces and accepts.
const Version = 1

// Errors returned by Open. Each rejection wraps exactly one of these, so a
// receiver can publish the reason (see Reason).
var (
	ErrMalformed    = errors.New("malformed envelope")
	ErrVersion      = errors.New("unsupported envelope version")
	ErrUnknownKey   = errors.New("unknown signing key")
	ErrBadSignature = errors.New("bad signature")
)

// Envelope is the signed container. In JSON the payload and signature are
// standard base64 (with padding):
//
//	{"v":1,"kid":"3f1c0e2a9b7d4c11","payload":"eyJ0eXBlIjoi...","sig":"q3Jk..."}
type Envelope struct {
	V       int    `json:"v"`
	KeyID   string `json:"kid"`
	Payload []byte `json:"payload"`
	Sig     []byte `json:"sig"`
}

// KeyID is the id of an ed25519 public key: the first 8 bytes of its SHA-256,
// in lower-case hex. Deriving it from the key means a key id can never name
// two different keys.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Signer seals payloads with one private key.
type Signer struct {
	kid  string
	priv ed25519.PrivateKey
}

// NewSigner returns a Signer for priv; its key id is KeyID(priv.Public()).
func NewSigner(priv ed25519.PrivateKey) (*Signer, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("new signer: private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	pub := priv.Public().(ed25519.PublicKey)
	return &Signer{kid: KeyID(pub), priv: priv}, nil
}

// KeyID is the id receivers use to find the public key.
func (s *Signer) KeyID() string { return s.kid }

// PublicKey is the verifying half of the signer's key.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.priv.Public().(ed25519.PublicKey) }

// Seal signs payload and returns the JSON envelope bytes.
func (s *Signer) Seal(payload []byte) ([]byte, error) {
	if len(payload) > MaxPayloadBytes {
		return nil, &LimitError{Limit: "payload bytes", Max: MaxPayloadBytes, Got: len(payload)}
	}
	env := Envelope{V: Version, KeyID: s.kid, Payload: payload, Sig: ed25519.Sign(s.priv, payload)}
	return json.Marshal(env)
}

// SealJSON marshals v and seals the result.
func (s *Signer) SealJSON(v any) ([]byte, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("seal: encode payload: %w", err)
	}
	return s.Seal(payload)
}

// KeyRing is the set of public keys a receiver trusts, by key id.
type KeyRing map[string]ed25519.PublicKey

// NewKeyRing builds a key ring from public keys, deriving each id.
func NewKeyRing(keys ...ed25519.PublicKey) (KeyRing, error) {
	kr := make(KeyRing, len(keys))
	for i, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("key ring: key %d is %d bytes, want %d", i, len(k), ed25519.PublicKeySize)
		}
		kr[KeyID(k)] = k
	}
	return kr, nil
}

// Open checks the envelope's size, form, version, key and signature, and
// returns the signed payload bytes and the key id. Nothing in the payload is
// looked at: decode it only after Open succeeds.
func Open(data []byte, keys KeyRing) (payload []byte, kid string, err error) {
	if len(data) > MaxEnvelopeBytes {
		return nil, "", &LimitError{Limit: "envelope bytes", Max: MaxEnvelopeBytes, Got: len(data)}
	}
	var raw struct {
		V       *int    `json:"v"`
		KeyID   *string `json:"kid"`
		Payload *string `json:"payload"`
		Sig     *string `json:"sig"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, "", fmt.Errorf("%w: trailing data after envelope", ErrMalformed)
	}
	switch {
	case raw.V == nil:
		return nil, "", fmt.Errorf("%w: missing field v", ErrMalformed)
	case raw.KeyID == nil:
		return nil, "", fmt.Errorf("%w: missing field kid", ErrMalformed)
	case raw.Payload == nil:
		return nil, "", fmt.Errorf("%w: missing field payload", ErrMalformed)
	case raw.Sig == nil:
		return nil, "", fmt.Errorf("%w: missing field sig", ErrMalformed)
	}
	if *raw.V != Version {
		return nil, "", fmt.Errorf("%w: %d (want %d)", ErrVersion, *raw.V, Version)
	}
	pub, ok := keys[*raw.KeyID]
	if !ok {
		return nil, "", fmt.Errorf("%w: kid %q", ErrUnknownKey, truncate(*raw.KeyID, 32))
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(*raw.Sig)
	if err != nil {
		return nil, "", fmt.Errorf("%w: sig is not base64: %v", ErrMalformed, err)
	}
	if len(sig) != ed25519.SignatureSize {
		return nil, "", fmt.Errorf("%w: sig is %d bytes, want %d", ErrMalformed, len(sig), ed25519.SignatureSize)
	}
	payload, err = base64.StdEncoding.Strict().DecodeString(*raw.Payload)
	if err != nil {
		return nil, "", fmt.Errorf("%w: payload is not base64: %v", ErrMalformed, err)
	}
	if len(payload) > MaxPayloadBytes {
		return nil, "", &LimitError{Limit: "payload bytes", Max: MaxPayloadBytes, Got: len(payload)}
	}
	if !ed25519.Verify(pub, payload, sig) {
		return nil, "", fmt.Errorf("%w: kid %s", ErrBadSignature, *raw.KeyID)
	}
	return payload, *raw.KeyID, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
