package main

import (
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"fluvius.dev/fluvius/internal/sdkdist"
)

//go:embed template/*.tmpl
var templates embed.FS

var pluginName = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

func pluginInit(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plugin init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "where to create the plugin; default ./NAME")
	module := fs.String("module", "", "Go module path; default example.com/NAME")
	sdkRoot := fs.String("sdk", envOr("FLUVIUS_SDK", ""), "a Fluvius checkout holding sdk/ and abi/ to build against (env FLUVIUS_SDK); default: a copy of the SDK this binary ships, written into the plugin's fluvius/ directory")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("usage: fluvius-host plugin init NAME [--dir DIR] [--module PATH] [--sdk PATH]")
	}
	name := pos[0]
	if !pluginName.MatchString(name) {
		return fmt.Errorf("plugin name %q must be lower-case words joined by '-' (it becomes the domain name)", name)
	}
	if *dir == "" {
		*dir = name
	}
	if *module == "" {
		*module = "example.com/" + name
	}
	// The SDK is referred to by a relative path, so that the module can be
	// committed and built on any machine: the copy this binary ships, in
	// the plugin's own tree, or a checkout named with --sdk.
	sdkPath := "./fluvius"
	if *sdkRoot != "" {
		root, err := filepath.Abs(*sdkRoot)
		if err != nil {
			return err
		}
		for _, m := range []string{"sdk/go.mod", "abi/go.mod"} {
			if _, err := os.Stat(filepath.Join(root, m)); err != nil {
				return fmt.Errorf("--sdk %s holds no %s", root, m)
			}
		}
		abs, err := filepath.Abs(*dir)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(abs, root)
		if err != nil {
			return fmt.Errorf("--sdk %s cannot be reached by a relative path from %s: %w", root, abs, err)
		}
		sdkPath = filepath.ToSlash(rel)
		if !strings.HasPrefix(sdkPath, "../") && sdkPath != ".." {
			sdkPath = "./" + sdkPath
		}
	}
	if _, err := os.Stat(*dir); err == nil {
		return fmt.Errorf("%s exists already; choose another --dir", *dir)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	if *sdkRoot == "" {
		if err := sdkdist.WriteTo(filepath.Join(*dir, "fluvius")); err != nil {
			return fmt.Errorf("writing the SDK: %w", err)
		}
		fmt.Fprintln(stdout, "created", filepath.Join(*dir, "fluvius"), "(the Fluvius SDK "+version+", which the module builds against)")
	}
	data := struct{ Name, Title, Module, SDKRoot string }{name, strings.ToUpper(name[:1]) + strings.ReplaceAll(name[1:], "-", " "), *module, sdkPath}
	entries, _ := templates.ReadDir("template")
	for _, e := range entries {
		t, err := template.ParseFS(templates, "template/"+e.Name())
		if err != nil {
			return err
		}
		target := filepath.Join(*dir, strings.TrimSuffix(e.Name(), ".tmpl"))
		f, err := os.Create(target)
		if err != nil {
			return err
		}
		err = t.Execute(f, data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("writing %s: %w", target, err)
		}
		fmt.Fprintln(stdout, "created", target)
	}
	fmt.Fprintf(stdout, "\nnext:\n  cd %s\n  go test ./...                 # scenarios, natively\n  fluvius-host plugin build     # -> %s.wasm\n  fluvius-host plugin test      # scenarios against the .wasm\n", *dir, filepath.Base(*dir))
	return nil
}

// pluginSDK writes the SDK this binary ships into a plugin's fluvius/
// directory again: how a plugin made by plugin init moves to a newer SDK.
func pluginSDK(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plugin sdk", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return errors.New("usage: fluvius-host plugin sdk [DIR]")
	}
	dir := "."
	if len(pos) == 1 {
		dir = pos[0]
	}
	if !fileExists(filepath.Join(dir, "go.mod")) {
		return fmt.Errorf("%s holds no go.mod: run plugin sdk in a plugin made by plugin init", dir)
	}
	if err := sdkdist.WriteTo(filepath.Join(dir, "fluvius")); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "wrote the Fluvius SDK", version, "into", filepath.Join(dir, "fluvius"))
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
