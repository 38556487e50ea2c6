//go:build !wasip1

package sdk

import (
	"os"

	"fluvius.dev/fluvius/abi"
)

// nativeHost stands in for the host when aggregate logic runs natively, in
// unit tests: logs go to stderr and there are no other records.
type nativeHost struct{}

func defaultHost() Host { return nativeHost{} }

func (nativeHost) Log(level abi.LogLevel, msg string) { os.Stderr.WriteString(msg + "\n") }

func (nativeHost) StateGet(string, string) (abi.StateRecord, bool, error) {
	return abi.StateRecord{}, false, nil
}

// Can grants every permission natively; a test that needs a refusal sets a
// Host of its own that implements Authorizer.
func (nativeHost) Can(action, object string) (bool, error) { return true, nil }
