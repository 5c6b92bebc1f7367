package display

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/atmguard/kiosk/internal/wire"
)

// DecodeScreenJSON reads a Screen (an object with "kind") or a bare
// wire.Alert (validated as central would). Unknown fields are refused. It
// is what the preview command and the kiosk's --alert-file read.
func DecodeScreenJSON(data []byte) (Screen, error) {
	if len(data) > wire.MaxPayloadBytes {
		return Screen{}, &wire.LimitError{Limit: "screen json bytes", Max: wire.MaxPayloadBytes, Got: len(data)}
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return Screen{}, fmt.Errorf("%w: not a JSON object: %v", ErrInvalidScreen, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if _, ok := probe["kind"]; ok {
		var s Screen
		if err := dec.Decode(&s); err != nil {
			return Screen{}, fmt.Errorf("%w: decode screen: %v", ErrInvalidScreen, err)
		}
		if s.Alert != nil {
			if err := s.Alert.Validate(); err != nil {
				return Screen{}, err
			}
		}
		if s.Item != nil {
			if err := s.Item.Validate(); err != nil {
				return Screen{}, err
			}
		}
		return s, nil
	}
	var a wire.Alert
	if err := dec.Decode(&a); err != nil {
		return Screen{}, fmt.Errorf("%w: decode alert: %v", ErrInvalidScreen, err)
	}
	if err := a.Validate(); err != nil {
		return Screen{}, err
	}
	return Screen{Kind: KindAlert, Alert: &a}, nil
}
