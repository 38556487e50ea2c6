package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
)

// Configuration comes, in this order of precedence, from the flags given,
// the environment, the config file (--config or FLUVIUS_CONFIG: lines of
// "flag-name = value"), a .env file (FLUVIUS_ENV_FILE, default ./.env:
// lines of "FLUVIUS_NAME=value"), and the defaults. serve --print-config
// prints the result, each value with where it came from, secrets masked.

var envOfUsage = regexp.MustCompile(`\(env (FLUVIUS_[A-Z0-9_]+)`)

// envName is the environment variable a flag reads, as its usage says.
func envName(f *flag.Flag) string {
	if m := envOfUsage.FindStringSubmatch(f.Usage); m != nil {
		return m[1]
	}
	return ""
}

// readPairs reads "key = value" (or key=value) lines, skipping blanks and
// # comments; quotes around a value are removed and "export " is allowed.
func readPairs(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: not key = value", path, n)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		out[k] = v
	}
	return out, sc.Err()
}

// layerConfig sets every flag not given on the command line and not set
// by the environment from the config file, then from the .env file, and
// returns where each flag's value came from.
func layerConfig(fs *flag.FlagSet, configPath string) (map[string]string, error) {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var conf, dotenv map[string]string
	if configPath != "" {
		var err error
		if conf, err = readPairs(configPath); err != nil {
			return nil, fmt.Errorf("reading the config file: %w", err)
		}
		for name := range conf {
			if fs.Lookup(name) == nil {
				return nil, fmt.Errorf("the config file %s names no flag %q", configPath, name)
			}
		}
	}
	envFile := os.Getenv("FLUVIUS_ENV_FILE")
	if envFile == "" {
		envFile = ".env"
	}
	if d, err := readPairs(envFile); err == nil {
		dotenv = d
	} else if !os.IsNotExist(err) || os.Getenv("FLUVIUS_ENV_FILE") != "" {
		return nil, fmt.Errorf("reading %s: %w", envFile, err)
	}
	sources := map[string]string{}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil {
			return
		}
		env := envName(f)
		_, inEnv := os.LookupEnv(env)
		switch {
		case given[f.Name]:
			sources[f.Name] = "flag"
		case env != "" && inEnv && os.Getenv(env) != "":
			sources[f.Name] = "env " + env
		case conf[f.Name] != "":
			sources[f.Name] = "config file"
			err = fs.Set(f.Name, conf[f.Name])
		case env != "" && dotenv[env] != "":
			sources[f.Name] = ".env"
			err = fs.Set(f.Name, dotenv[env])
		default:
			sources[f.Name] = "default"
		}
		if err != nil {
			err = fmt.Errorf("--%s from the %s: %w", f.Name, sources[f.Name], err)
		}
	})
	return sources, err
}

// printConfig writes each flag's value and source, secrets masked.
func printConfig(w io.Writer, fs *flag.FlagSet, sources map[string]string) {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	sort.Strings(names)
	for _, name := range names {
		v := fs.Lookup(name).Value.String()
		switch {
		case v == "":
		case strings.Contains(name, "secret") || strings.Contains(name, "key") || strings.Contains(name, "password"):
			v = "********"
		case strings.Contains(v, "://"):
			if u, err := url.Parse(v); err == nil && u.User != nil {
				if _, has := u.User.Password(); has {
					u.User = url.UserPassword(u.User.Username(), "xxxxx")
					v = u.String()
				}
			}
		}
		fmt.Fprintf(w, "%s = %s\t# %s\n", name, v, sources[name])
	}
}
