// Package sdkdist ships the plugin SDK inside fluvius-host: the sources of
// the abi and sdk modules, zipped into the binary, so that `plugin init`
// works on a machine with no Fluvius checkout and writes a module that
// builds anywhere (the copy sits in the plugin's own tree, referred to by
// relative paths). sdk.zip is generated (go generate ./internal/sdkdist);
// a test fails when it lags the sources.
package sdkdist

//go:generate go run ./gen

import (
	"archive/zip"
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

//go:embed sdk.zip
var zipped []byte

// Modules are the directories of the shipped modules, relative to the
// repository root.
var Modules = []string{"abi", "sdk"}

// shipped reports whether a file of a module goes into the zip: its
// go.mod and go.sum, its Go sources but not its tests, and ABI.md.
func shipped(name string) bool {
	base := path.Base(name)
	switch {
	case base == "go.mod", base == "go.sum", base == "ABI.md":
		return true
	case strings.HasSuffix(base, "_test.go"):
		return false
	}
	return strings.HasSuffix(base, ".go")
}

// Collect reads the shipped files of the modules under root, by slash
// path ("sdk/jsonlite/value.go").
func Collect(root string) (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, m := range Modules {
		err := filepath.WalkDir(filepath.Join(root, m), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			if !shipped(rel) {
				return nil
			}
			b, err := os.ReadFile(p)
			files[rel] = b
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

// Zip packs files in name order with a fixed time, so that the same
// sources give the same archive.
func Zip(files map[string][]byte) ([]byte, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate, Modified: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(files[n]); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Files returns the shipped files, by slash path.
func Files() (map[string][]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		return nil, fmt.Errorf("the SDK shipped in this binary is damaged: %w", err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		if !clean(f.Name) {
			return nil, fmt.Errorf("the SDK shipped in this binary holds a bad path %q", f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(rc, 8<<20))
		rc.Close()
		if err != nil {
			return nil, err
		}
		files[f.Name] = b
	}
	return files, nil
}

func clean(name string) bool {
	return name != "" && !strings.HasPrefix(name, "/") && path.Clean(name) == name && !strings.HasPrefix(name, "..")
}

// WriteTo writes the shipped modules under dir (dir/abi, dir/sdk),
// replacing what a previous copy left there.
func WriteTo(dir string) error {
	files, err := Files()
	if err != nil {
		return err
	}
	for _, m := range Modules {
		if err := os.RemoveAll(filepath.Join(dir, m)); err != nil {
			return err
		}
	}
	for name, b := range files {
		target := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(target, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
