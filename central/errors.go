package central

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error a service returns wraps at most one of them;
// ErrorCode turns it into a stable string for API clients.
var (
	ErrNotFound      = errors.New("not found")
	ErrUnauthorized  = errors.New("not authenticated")
	ErrForbidden     = errors.New("forbidden")
	ErrConflict      = errors.New("conflict")
	ErrInvalid       = errors.New("invalid")
	ErrTwoPersonRule = errors.New("two-person rule")
	ErrContentGuard  = errors.New("content guard")
	ErrRateLimited   = errors.New("rate limited")
	ErrUnavailable   = errors.New("unavailable")
)

// Error codes returned by ErrorCode.
const (
	CodeNotFound      = "not_found"
	CodeUnauthorized  = "unauthorized"
	CodeForbidden     = "forbidden"
	CodeConflict      = "conflict"
	CodeInvalid       = "invalid"
	CodeTwoPersonRule = "two_person_rule"
	CodeContentGuard  = "content_guard"
	CodeRateLimited   = "rate_limited"
	CodeUnavailable   = "unavailable"
	CodeInternal      = "internal"
)

// ErrorCode maps err to one of the Code* constants (CodeInternal if it wraps
// none of the sentinel errors).
func ErrorCode(err error) string {
	for _, c := range []struct {
		err  error
		code string
	}{
		{ErrContentGuard, CodeContentGuard},
		{ErrTwoPersonRule, CodeTwoPersonRule},
		{ErrInvalid, CodeInvalid},
		{ErrNotFound, CodeNotFound},
		{ErrUnauthorized, CodeUnauthorized},
		{ErrForbidden, CodeForbidden},
		{ErrConflict, CodeConflict},
		{ErrRateLimited, CodeRateLimited},
		{ErrUnavailable, CodeUnavailable},
	} {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return CodeInternal
}

// FieldError is a refusal tied to one input field, for example
// Field "texts[1].body" and Message "phone number 03-1234-5678 is not on the
// allow-list". Kind is the sentinel it wraps (ErrInvalid, ErrContentGuard,
// ErrTwoPersonRule...). Text, when set, is the offending piece of text.
type FieldError struct {
	Kind    error  `json:"-"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	Text    string `json:"text,omitempty"`
}

func (e *FieldError) Error() string {
	kind := "invalid"
	if e.Kind != nil {
		kind = e.Kind.Error()
	}
	if e.Field == "" {
		return kind + ": " + e.Message
	}
	return kind + ": " + e.Field + ": " + e.Message
}

func (e *FieldError) Unwrap() error {
	if e.Kind == nil {
		return ErrInvalid
	}
	return e.Kind
}

// Invalid returns a *FieldError of kind ErrInvalid.
func Invalid(field, format string, a ...any) error {
	return &FieldError{Kind: ErrInvalid, Field: field, Message: fmt.Sprintf(format, a...)}
}

// Guarded returns a *FieldError of kind ErrContentGuard naming the offending
// text.
func Guarded(field, text, format string, a ...any) error {
	return &FieldError{Kind: ErrContentGuard, Field: field, Text: text, Message: fmt.Sprintf(format, a...)}
}

// ErrorField returns the field an error is about ("" if none).
func ErrorField(err error) string {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return ""
}

// Forbidden returns an error wrapping ErrForbidden that says who may not do what.
func Forbidden(a Actor, what string) error {
	return fmt.Errorf("%w: %s (role %s) may not %s", ErrForbidden, a.UserID, a.Role, what)
}
