package host

import (
	"errors"
	"fmt"
	"sort"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/sdk/jsonlite"
	"fluvius.dev/fluvius/store"
)

// Actions the host asks the authorizer about.
const (
	actionRun  = "run"  // send a command
	actionRead = "read" // read state or events
)

// authorize checks what a plugin declares of a command or a read: that the
// caller is authenticated (authRequired), and that it holds the permission
// object (none: granted) by its own id, its tenant roles, or the roles held
// on the aggregate addressed.
func (h *Host) authorize(caller abi.Caller, authRequired bool, object, action string, held []string) error {
	if authRequired && caller.UserID == "" {
		return errorf(KindUnauthenticated, "authentication-required", "this %s needs an authenticated caller", map[string]string{actionRun: "command", actionRead: "resource"}[action])
	}
	if object == "" || h.cfg.Authorizer == nil {
		return nil
	}
	ok, err := h.cfg.Authorizer.Allowed(caller, held, object, action)
	if err != nil {
		return fmt.Errorf("checking permission %s on %s: %w", action, object, err)
	}
	if !ok {
		return errorf(KindForbidden, "forbidden", "permission %s on %s is required", action, object)
	}
	return nil
}

// authorizeHolder asks again, for a caller its own grants refused, with the
// roles it holds on the aggregate whose state is current (nil: the
// aggregate does not exist, and nothing is held). A refusal is the first
// one, word for word, whether the aggregate exists or not.
func (h *Host) authorizeHolder(caller abi.Caller, roles map[string]string, current *store.StateRecord, object, action string, refused error) error {
	if current == nil {
		return refused
	}
	held := heldRoles(roles, current.Data, caller.UserID)
	if len(held) == 0 {
		return refused
	}
	if err := h.authorize(caller, false, object, action, held); err != nil {
		if isForbidden(err) {
			return refused
		}
		return err
	}
	return nil
}

// heldRoles returns the roles (of those an aggregate declares) whose state
// property names user: equal to it, or an array with it among its strings.
func heldRoles(roles map[string]string, state []byte, user string) []string {
	if user == "" || len(state) == 0 {
		return nil
	}
	doc, err := jsonlite.Parse(state)
	if err != nil {
		return nil
	}
	var held []string
	for role, prop := range roles {
		v := doc.Get(prop)
		switch v.Kind() {
		case jsonlite.String:
			if v.Str() == user {
				held = append(held, role)
			}
		case jsonlite.Array:
			v.Array(func(_ int, e jsonlite.Value) bool {
				if e.Kind() == jsonlite.String && e.Str() == user {
					held = append(held, role)
					return false
				}
				return true
			})
		}
	}
	sort.Strings(held)
	return held
}

func isForbidden(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == KindForbidden
}
