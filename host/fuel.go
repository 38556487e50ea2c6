package host

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"fluvius.dev/fluvius/meter"
)

// errFuelExhausted marks a guest call stopped because its fuel ran out:
// a loop, a deep recursion or a call tree too large for its budget. The
// same call on the same state stops at the same instruction every time.
var errFuelExhausted = errors.New("the guest ran out of fuel")

// meterModule returns wasm rewritten to count fuel (package meter). The
// rewritten bytes are cached beside wazero's compilation cache, keyed by
// the module's content hash, the rewriter's version and the start budget,
// so a host restarting with the same plugins rewrites nothing. The cache
// directory is trusted as wazero's own is: it holds native code too.
func (h *Host) meterModule(wasm []byte, sum [32]byte) ([]byte, error) {
	var path string
	if h.cfg.CacheDir != "" {
		path = filepath.Join(h.cfg.CacheDir, "metered", fmt.Sprintf("%s-v%d-%s.wasm",
			hex.EncodeToString(sum[:]), meter.Version, strconv.FormatInt(h.cfg.InitFuel, 36)))
		if b, err := os.ReadFile(path); err == nil {
			return b, nil
		}
	}
	out, err := meter.Rewrite(wasm, meter.Options{StartFuel: h.cfg.InitFuel})
	if err != nil {
		return nil, fmt.Errorf("metering: %w", err)
	}
	if path != "" {
		if err := writeAtomically(path, out); err != nil {
			h.cfg.Logger.Warn("cannot cache a metered module", "err", err)
		}
	}
	return out, nil
}

// writeAtomically writes a file under a temporary name and renames it, so
// a crash never leaves half a module behind.
func writeAtomically(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	if err := errors.Join(werr, tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
