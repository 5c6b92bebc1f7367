package wire

import (
	"errors"
	"fmt"
	"time"
)

// Rejection errors for the receiver-side rules.
var (
	ErrReplay       = errors.New("replayed or old seq")
	ErrExpired      = errors.New("expired")
	ErrNotYetValid  = errors.New("issued in the future")
	ErrWrongScope   = errors.New("scope does not match topic")
	ErrWrongDevice  = errors.New("addressed to another device")
	ErrContentHash  = errors.New("content does not match its sha256")
	ErrContentLimit = errors.New("content too large")
)

// CheckSeq enforces the replay rule: a snapshot is accepted only if its seq
// is strictly greater than the last seq accepted for its scope (0 if none).
func CheckSeq(scope Scope, last, got uint64) error {
	if got <= last {
		return fmt.Errorf("%w: scope %s seq %d <= last accepted %d", ErrReplay, scope, got, last)
	}
	return nil
}

// CheckFresh enforces expiry against now (the receiver's best estimate of
// central's time). skew is how far in the future Issued may be before the
// message is treated as not yet valid (clocks are never exactly equal).
func CheckFresh(issued, expires, now time.Time, skew time.Duration) error {
	if !now.Before(expires) {
		return fmt.Errorf("%w: at %s (now %s)", ErrExpired, expires.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if issued.After(now.Add(skew)) {
		return fmt.Errorf("%w: issued %s, now %s", ErrNotYetValid, issued.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// Reason codes published in rejected events, one per class of error.
const (
	ReasonMalformed    = "malformed"
	ReasonVersion      = "version"
	ReasonUnknownKey   = "unknown_key"
	ReasonBadSignature = "bad_signature"
	ReasonLimit        = "limit"
	ReasonInvalid      = "invalid"
	ReasonReplay       = "replay"
	ReasonExpired      = "expired"
	ReasonNotYetValid  = "not_yet_valid"
	ReasonWrongScope   = "wrong_scope"
	ReasonWrongDevice  = "wrong_device"
	ReasonTopic        = "bad_topic"
	ReasonContentHash  = "content_hash"
	ReasonContentLimit = "content_limit"
	ReasonInternal     = "internal"
)

// Reason maps an error from this package to its reason code.
func Reason(err error) string {
	for _, r := range []struct {
		err  error
		code string
	}{
		{ErrLimit, ReasonLimit}, // before ErrMalformed: a LimitError may be wrapped in context
		{ErrMalformed, ReasonMalformed},
		{ErrVersion, ReasonVersion},
		{ErrUnknownKey, ReasonUnknownKey},
		{ErrBadSignature, ReasonBadSignature},
		{ErrReplay, ReasonReplay},
		{ErrExpired, ReasonExpired},
		{ErrNotYetValid, ReasonNotYetValid},
		{ErrWrongScope, ReasonWrongScope},
		{ErrWrongDevice, ReasonWrongDevice},
		{ErrContentHash, ReasonContentHash},
		{ErrContentLimit, ReasonContentLimit},
		{ErrTopic, ReasonTopic},
		{ErrInvalid, ReasonInvalid},
	} {
		if errors.Is(err, r.err) {
			return r.code
		}
	}
	return ReasonInternal
}

// OpenSnapshot is Open + DecodeSnapshot + the topic check: the snapshot must
// name the scope of the topic it arrived on, so a signed snapshot for one
// scope cannot be replayed onto another. Replay (seq) and expiry are the
// caller's, who holds the state and the clock.
func OpenSnapshot(data []byte, keys KeyRing, topicScope Scope) (*Snapshot, error) {
	payload, _, err := Open(data, keys)
	if err != nil {
		return nil, err
	}
	s, err := DecodeSnapshot(payload)
	if err != nil {
		return nil, err
	}
	if s.Scope != topicScope {
		return nil, fmt.Errorf("%w: snapshot for %s arrived on %s", ErrWrongScope, s.Scope, topicScope)
	}
	return s, nil
}

// OpenCommand is Open + DecodeCommand + the device check.
func OpenCommand(data []byte, keys KeyRing, device string) (*Command, error) {
	payload, _, err := Open(data, keys)
	if err != nil {
		return nil, err
	}
	c, err := DecodeCommand(payload)
	if err != nil {
		return nil, err
	}
	if c.Device != device {
		return nil, fmt.Errorf("%w: command for %s received by %s", ErrWrongDevice, c.Device, device)
	}
	return c, nil
}
