package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The plugin commands that drive a running host's management API: push,
// list, activate, rollback, disable. The admin key comes from
// FLUVIUS_ADMIN_KEY (or --admin-key), the host from --host or FLUVIUS_HOST.

type remote struct {
	base    string
	key     string
	client  *http.Client
	verbose io.Writer
}

func remoteFlags(fs *flag.FlagSet) func() (*remote, error) {
	hostURL := fs.String("host", envOr("FLUVIUS_HOST", "http://127.0.0.1:8080"), "URL of the running host (env FLUVIUS_HOST)")
	key := fs.String("admin-key", "", "admin key or an API key with the admin role; default $FLUVIUS_ADMIN_KEY")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to wait for the host's answer (activation verifies streams)")
	return func() (*remote, error) {
		k := *key
		if k == "" {
			k = os.Getenv("FLUVIUS_ADMIN_KEY")
		}
		if k == "" {
			return nil, errors.New("no admin key: set FLUVIUS_ADMIN_KEY or pass --admin-key")
		}
		u, err := url.Parse(*hostURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--host %q is not an http(s) URL", *hostURL)
		}
		return &remote{base: strings.TrimSuffix(u.String(), "/"), key: k, client: &http.Client{Timeout: *timeout}}, nil
	}
}

// problemError is a host's refusal as the CLI shows it.
type problemError struct {
	Status  int             `json:"status"`
	Code    string          `json:"code"`
	Detail  string          `json:"detail"`
	Details json.RawMessage `json:"details"`
}

func (p *problemError) Error() string {
	msg := fmt.Sprintf("the host refused (%d %s): %s", p.Status, p.Code, p.Detail)
	if len(p.Details) > 0 && string(p.Details) != "null" {
		var pretty bytes.Buffer
		if json.Indent(&pretty, p.Details, "  ", "  ") == nil {
			msg += "\n  " + pretty.String()
		}
	}
	return msg
}

// do sends a request and decodes a 2xx JSON answer into out.
func (r *remote) do(ctx context.Context, method, path, contentType string, body io.Reader, headers map[string]string, out any) (http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+r.key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reaching the host at %s: %w", r.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the host's answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		p := &problemError{Status: resp.StatusCode}
		if json.Unmarshal(raw, p) != nil || p.Code == "" {
			return nil, fmt.Errorf("the host answered %s: %.200s", resp.Status, raw)
		}
		return nil, p
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("the host's answer is not what this CLI expects: %w", err)
		}
	}
	return resp.Header, nil
}

type versionAnswer struct {
	Domain    string `json:"domain"`
	Version   int64  `json:"version"`
	SHA256    string `json:"sha256"`
	Size      int64  `json:"size"`
	Toolchain string `json:"toolchain"`
	Status    string `json:"status"`
}

type verification struct {
	Checked   int  `json:"checked"`
	Sampled   bool `json:"sampled"`
	Differing int  `json:"differing"`
	Failed    int  `json:"failed"`
	Skipped   int  `json:"skipped"`
}

func (v *verification) String() string {
	if v == nil {
		return ""
	}
	s := fmt.Sprintf("verified against %d streams", v.Checked)
	if v.Sampled {
		s += " (a sample)"
	}
	if v.Differing+v.Failed+v.Skipped > 0 {
		s += fmt.Sprintf(": %d differ, %d failed, %d skipped", v.Differing, v.Failed, v.Skipped)
	}
	return s
}

func pluginPush(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plugin push", flag.ContinueOnError)
	fs.SetOutput(stderr)
	conn := remoteFlags(fs)
	activate := fs.Bool("activate", false, "activate the version once uploaded (after the host verifies it)")
	force := fs.Bool("force", false, "with --activate: activate even if verification finds differences")
	verifyAll := fs.Bool("verify-all", false, "with --activate: replay every stream, not a sample")
	domain := fs.String("domain", "", "refuse the upload unless the module serves this domain")
	var tests stringList
	fs.Var(&tests, "test", "a scenario file to run against the upload in a throwaway host first (repeatable); with --activate, activate only if every scenario passes")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("plugin push takes one .wasm file")
	}
	r, err := conn()
	if err != nil {
		return err
	}
	wasm, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	q := url.Values{}
	if *activate && len(tests) == 0 {
		q.Set("activate", "true")
	}
	if *force {
		q.Set("force", "true")
	}
	if *verifyAll {
		q.Set("verify", "all")
	}
	if *domain != "" {
		q.Set("domain", *domain)
	}
	fmt.Fprintf(stderr, "uploading %s (%d bytes) to %s\n", pos[0], len(wasm), r.base)
	var out struct {
		Domain       string        `json:"domain"`
		Existed      bool          `json:"existed"`
		Version      versionAnswer `json:"version"`
		Verification *verification `json:"verification"`
	}
	path := "/_admin/plugins"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	if _, err := r.do(ctx, "POST", path, "application/wasm", bytes.NewReader(wasm), nil, &out); err != nil {
		return err
	}
	what := "uploaded as"
	if out.Existed {
		what = "already uploaded as"
	}
	fmt.Fprintf(stdout, "%s %s version %d (sha256 %s)\n", out.Domain, what, out.Version.Version, out.Version.SHA256[:12])
	if len(tests) > 0 {
		if err := r.runTests(ctx, out.Domain, out.Version.Version, tests, stdout); err != nil {
			return err
		}
		if !*activate {
			return nil
		}
		req, _ := json.Marshal(map[string]any{"version": out.Version.Version, "force": *force, "verify": map[bool]string{true: "all", false: "sample"}[*verifyAll]})
		var act struct {
			Verification *verification `json:"verification"`
		}
		if _, err := r.do(ctx, "POST", "/_admin/plugins/"+url.PathEscape(out.Domain)+"/activate", "application/json", bytes.NewReader(req), nil, &act); err != nil {
			return err
		}
		out.Verification = act.Verification
	}
	if *activate {
		fmt.Fprintf(stdout, "%s version %d is active; %s\n", out.Domain, out.Version.Version, out.Verification)
	}
	return nil
}

// runTests runs scenario files against an uploaded version on the host and
// fails unless every scenario passes.
func (r *remote) runTests(ctx context.Context, domain string, version int64, files []string, stdout io.Writer) error {
	passed, failed := 0, 0
	for _, path := range files {
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var rep struct {
			Scenarios []struct {
				Name     string   `json:"name"`
				Passed   bool     `json:"passed"`
				Failures []string `json:"failures"`
			} `json:"scenarios"`
		}
		if _, err := r.do(ctx, "POST", fmt.Sprintf("/_admin/plugins/%s/versions/%d/test", url.PathEscape(domain), version),
			"application/json", bytes.NewReader(body), nil, &rep); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, s := range rep.Scenarios {
			if s.Passed {
				passed++
				fmt.Fprintf(stdout, "PASS  %s\n", s.Name)
				continue
			}
			failed++
			fmt.Fprintf(stdout, "FAIL  %s (%s)\n      %s\n", s.Name, path, strings.Join(s.Failures, "\n      "))
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed on the host\n", passed, failed)
	if failed > 0 {
		return fmt.Errorf("%d scenario(s) failed: version %d of %s stays inactive", failed, version, domain)
	}
	return nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func pluginList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plugin list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	conn := remoteFlags(fs)
	asJSON := fs.Bool("json", false, "print the host's answer as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, err := conn()
	if err != nil {
		return err
	}
	var out struct {
		Plugins []struct {
			Domain        string `json:"domain"`
			ActiveVersion *int64 `json:"active_version"`
			Disabled      bool   `json:"disabled"`
			Revision      int64  `json:"revision"`
			UpdatedBy     string `json:"updated_by"`
		} `json:"plugins"`
	}
	if _, err := r.do(ctx, "GET", "/_admin/plugins", "", nil, nil, &out); err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DOMAIN\tACTIVE\tREVISION\tBY")
	for _, p := range out.Plugins {
		active := "-"
		switch {
		case p.Disabled:
			active = "disabled"
		case p.ActiveVersion != nil:
			active = strconv.FormatInt(*p.ActiveVersion, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", p.Domain, active, p.Revision, p.UpdatedBy)
	}
	return tw.Flush()
}

// pluginActivate serves activate NAME VERSION, rollback NAME [VERSION] and
// disable NAME.
func pluginActivate(action string) func(context.Context, []string, io.Writer, io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		fs := flag.NewFlagSet("plugin "+action, flag.ContinueOnError)
		fs.SetOutput(stderr)
		conn := remoteFlags(fs)
		force := fs.Bool("force", false, "activate even if verification finds differences")
		verifyAll := fs.Bool("verify-all", false, "replay every stream, not a sample")
		pos, err := parseInterspersed(fs, args)
		if err != nil {
			return err
		}
		want := map[string]string{"activate": "NAME VERSION", "rollback": "NAME [VERSION]", "disable": "NAME"}[action]
		switch {
		case action == "activate" && len(pos) != 2,
			action == "rollback" && (len(pos) < 1 || len(pos) > 2),
			action == "disable" && len(pos) != 1:
			return fmt.Errorf("usage: plugin %s %s", action, want)
		}
		r, err := conn()
		if err != nil {
			return err
		}
		req := map[string]any{}
		if len(pos) == 2 {
			v, err := strconv.ParseInt(pos[1], 10, 64)
			if err != nil || v <= 0 {
				return fmt.Errorf("version %q: versions are numbered from 1", pos[1])
			}
			req["version"] = v
		}
		if *force {
			req["force"] = true
		}
		if *verifyAll {
			req["verify"] = "all"
		}
		body, _ := json.Marshal(req)
		var out struct {
			Version      versionAnswer `json:"version"`
			Previous     int64         `json:"previous_version"`
			Verification *verification `json:"verification"`
		}
		if action == "disable" {
			body = nil
		}
		if _, err := r.do(ctx, "POST", "/_admin/plugins/"+url.PathEscape(pos[0])+"/"+action, "application/json", bytes.NewReader(body), nil, &out); err != nil {
			return err
		}
		if action == "disable" {
			fmt.Fprintf(stdout, "%s is disabled on every host\n", pos[0])
			return nil
		}
		fmt.Fprintf(stdout, "%s version %d is active (was %d); %s\n", pos[0], out.Version.Version, out.Previous, out.Verification)
		return nil
	}
}
