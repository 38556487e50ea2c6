package abi

// Status says how a guest answered a request.
type Status uint64

// Statuses. The host maps them to HTTP statuses: OK 200/201, DomainError 422,
// Invalid 400, UnknownCommand 404, Failed 500.
const (
	StatusOK             Status = 0
	StatusDomainError    Status = 1 // a business rule refused the command
	StatusInvalid        Status = 2 // the payload or state could not be read
	StatusUnknownCommand Status = 3 // the guest has no such command or aggregate
	StatusFailed         Status = 4 // the guest failed for a reason of its own
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusDomainError:
		return "domain-error"
	case StatusInvalid:
		return "invalid"
	case StatusUnknownCommand:
		return "unknown-command"
	case StatusFailed:
		return "failed"
	}
	return "unknown-status"
}
