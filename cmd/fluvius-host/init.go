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
)

//go:embed template/*.tmpl
var templates embed.FS

var pluginName = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

func pluginInit(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plugin init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "where to create the plugin; default ./NAME")
	module := fs.String("module", "", "Go module path; default example.com/NAME")
	sdkRoot := fs.String("sdk", envOr("FLUVIUS_SDK", ""), "the Fluvius checkout holding sdk/ and abi/; default: found upward from here (env FLUVIUS_SDK)")
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
	if *sdkRoot == "" {
		if *sdkRoot, err = findSDK(); err != nil {
			return err
		}
	}
	root, err := filepath.Abs(*sdkRoot)
	if err != nil {
		return err
	}
	for _, m := range []string{"sdk/go.mod", "abi/go.mod"} {
		if _, err := os.Stat(filepath.Join(root, m)); err != nil {
			return fmt.Errorf("--sdk %s holds no %s", root, m)
		}
	}
	if _, err := os.Stat(*dir); err == nil {
		return fmt.Errorf("%s exists already; choose another --dir", *dir)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	data := struct{ Name, Title, Module, SDKRoot string }{name, strings.ToUpper(name[:1]) + strings.ReplaceAll(name[1:], "-", " "), *module, filepath.ToSlash(root)}
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

// findSDK looks for a Fluvius checkout (sdk/go.mod and abi/go.mod) upward
// from the working directory.
func findSDK() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(dir, "sdk", "go.mod")) && fileExists(filepath.Join(dir, "abi", "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no Fluvius checkout found upward from here: pass --sdk PATH (the directory holding sdk/ and abi/)")
		}
		dir = parent
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
