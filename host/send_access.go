package host

import "fluvius.dev/fluvius/abi"

// MaySend reports whether caller could send a command as far as can be told
// without an aggregate: the command is not internal, and the caller's grants
// allow it, or it may hold a role on some aggregate that would. Dispatch
// still decides each command; this is for listing what a caller can use
// (MCP tools).
func (h *Host) MaySend(caller abi.Caller, domain, command string) bool {
	p := h.Plugin(domain)
	if p == nil {
		return false
	}
	spec := p.manifest.Command(command)
	if spec == nil || spec.Internal && !InternalCaller(caller, domain) {
		return false
	}
	err := h.authorize(caller, spec.AuthRequired, spec.Policy, actionRun, nil)
	if err == nil {
		return true
	}
	agg := p.manifest.Aggregate(spec.Resources[0])
	return isForbidden(err) && !spec.New && agg != nil && len(agg.Roles) > 0 && caller.UserID != ""
}
