package host

import (
	"errors"
	"fmt"
)

// Kind classifies a failed command or query; the HTTP layer maps each kind to
// a status code.
type Kind int

// Kinds of failure.
const (
	KindInternal           Kind = iota // 500: the host or a guest failed
	KindNotFound                       // 404: unknown domain, command, resource or aggregate
	KindInvalid                        // 400: malformed input or a payload failing its schema
	KindDomain                         // 422: a business rule refused the command
	KindConflict                       // 409: a version conflict that retries did not resolve
	KindPreconditionFailed             // 412: If-Match did not match
	KindUnavailable                    // 503: the host is shutting down or overloaded
	KindTooLarge                       // 413: the request would read or write more than a bound allows
	KindForbidden                      // 403: the caller lacks a permission the plugin declares
	KindUnauthenticated                // 401: the plugin needs an authenticated caller and this one is anonymous
	KindUnsupportedMedia               // 415: an upload of a type the host does not accept
)

// Error is a failure with what a client needs to know: a kind, a stable code,
// a message and optional structured details.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Details any   // JSON-encodable; for a domain error, the guest's JSON details
	Err     error // the cause, for logs; never shown to clients
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

func errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError returns err as an *Error, wrapping anything else as internal.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: KindInternal, Code: "internal", Message: "internal error", Err: err}
}
