// Command gen writes sdk.zip, the SDK fluvius-host ships, from the abi and
// sdk modules of this repository. Run it with go generate ./internal/sdkdist.
package main

import (
	"fmt"
	"os"

	"fluvius.dev/fluvius/internal/sdkdist"
)

func main() {
	// go generate runs in the package's directory: the root is two up.
	files, err := sdkdist.Collect("../..")
	if err == nil {
		var zipped []byte
		if zipped, err = sdkdist.Zip(files); err == nil {
			err = os.WriteFile("sdk.zip", zipped, 0o644)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
