package sdkdist_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"fluvius.dev/fluvius/internal/sdkdist"
)

// The SDK the binary ships is the SDK of this tree: change abi/ or sdk/
// and this fails until sdk.zip is generated again.
func TestShippedSDKIsCurrent(t *testing.T) {
	want, err := sdkdist.Collect("../..")
	if err != nil {
		t.Fatal(err)
	}
	got, err := sdkdist.Files()
	if err != nil {
		t.Fatal(err)
	}
	var stale []string
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			stale = append(stale, name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			stale = append(stale, name+" (gone from the tree)")
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Fatalf("sdk.zip lags the sources (run go generate ./internal/sdkdist): %v", stale)
	}
	if _, ok := got["sdk/go.mod"]; !ok || len(got) < 10 {
		t.Fatalf("the shipped SDK holds %d files", len(got))
	}
	for name := range got {
		if filepath.Ext(name) == ".go" && bytes.HasSuffix([]byte(name), []byte("_test.go")) {
			t.Errorf("a test ships: %s", name)
		}
	}
}

func TestWriteTo(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sdk", "stale"), 0o755)
	os.WriteFile(filepath.Join(dir, "sdk", "stale", "old.go"), []byte("package old"), 0o644)
	if err := sdkdist.WriteTo(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"abi/go.mod", "abi/schema", "sdk/go.mod", "sdk/jsonlite", "sdk/scenario"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "sdk", "stale")); err == nil {
		t.Error("a previous copy's file was left behind")
	}
}
