package sdk

import "fluvius.dev/fluvius/sdk/jsonlite"

// DomainError is a refusal by a business rule: the host answers it with 422
// and the code and message given here. Codes are stable, kebab-case
// identifiers clients can act on ("invalid-email", "user-deactivated").
type DomainError struct {
	Code    string
	Message string
	Details []byte // JSON, optional
}

func (e *DomainError) Error() string { return e.Code + ": " + e.Message }

// Fail returns a DomainError for a handler to return.
func Fail(code, message string) *DomainError {
	return &DomainError{Code: code, Message: message}
}

// WithDetails attaches structured details, written as JSON.
func (e *DomainError) WithDetails(d jsonlite.Encoder) *DomainError {
	c := *e
	c.Details = jsonlite.Marshal(d)
	return &c
}

// InvalidError reports input the handler cannot read even though it passed
// the schema; the host answers it with 400.
type InvalidError struct {
	Message string
}

func (e *InvalidError) Error() string { return e.Message }

// Invalid returns an InvalidError for a handler to return.
func Invalid(message string) *InvalidError { return &InvalidError{Message: message} }
