// Package openapitest checks OpenAPI documents for tests: the document
// must parse as OpenAPI 3.1 and validate against the specification's
// schema (libopenapi and libopenapi-validator), every example must
// validate against its schema, and Redocly's linter must find no error.
package openapitest

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"github.com/pb33f/libopenapi/orderedmap"
)

// Check reports everything wrong with an OpenAPI 3.1 document: what
// libopenapi cannot build, what breaks the OpenAPI 3.1 schema, and every
// example that does not validate against its schema (request and response
// bodies, parameters, shared responses and parameters). Nil means none.
func Check(doc []byte) error {
	cfg := datamodel.NewDocumentConfiguration()
	cfg.Logger = slog.New(slog.DiscardHandler) // what it would log, BuildV3Model returns
	d, err := libopenapi.NewDocumentWithConfiguration(doc, cfg)
	if err != nil {
		return fmt.Errorf("parsing: %w", err)
	}
	if v := d.GetVersion(); v != "3.1.0" {
		return fmt.Errorf("openapi is %q, not 3.1.0", v)
	}
	model, err := d.BuildV3Model()
	if err != nil {
		return fmt.Errorf("building the model: %w", err)
	}
	var errs []error
	if ok, verrs := schema_validation.ValidateOpenAPIDocument(d); !ok {
		for _, e := range verrs {
			errs = append(errs, fmt.Errorf("against the OpenAPI 3.1 schema: %s", describe(e.Message, e.Reason, e.SchemaValidationErrors)))
		}
		if len(verrs) == 0 {
			errs = append(errs, errors.New("against the OpenAPI 3.1 schema: invalid"))
		}
	}
	c := &checker{v: schema_validation.NewSchemaValidator()}
	m := &model.Model
	if m.Paths != nil {
		for path, item := range m.Paths.PathItems.FromOldest() {
			for method, op := range item.GetOperations().FromOldest() {
				where := method + " " + path
				c.parameters(where, op.Parameters)
				if op.RequestBody != nil {
					c.content(where+" request", op.RequestBody.Content)
				}
				if op.Responses != nil {
					for code, r := range op.Responses.Codes.FromOldest() {
						c.content(where+" "+code, r.Content)
					}
				}
			}
		}
	}
	if m.Components != nil {
		for name, r := range m.Components.Responses.FromOldest() {
			c.content("response "+name, r.Content)
		}
		for name, p := range m.Components.Parameters.FromOldest() {
			c.parameters("parameter "+name, []*v3.Parameter{p})
		}
	}
	if c.examples == 0 {
		errs = append(errs, errors.New("the document has no example"))
	}
	return errors.Join(append(errs, c.errs...)...)
}

type checker struct {
	v        schema_validation.SchemaValidator
	errs     []error
	examples int
}

func (c *checker) content(where string, content *orderedmap.Map[string, *v3.MediaType]) {
	for mt, body := range content.FromOldest() {
		c.examplesOf(where+" "+mt, body.Schema, body.Examples)
	}
}

func (c *checker) parameters(where string, params []*v3.Parameter) {
	for _, p := range params {
		c.examplesOf(where+" parameter "+p.Name, p.Schema, p.Examples)
	}
}

func (c *checker) examplesOf(where string, proxy *base.SchemaProxy, examples *orderedmap.Map[string, *base.Example]) {
	if examples == nil || examples.Len() == 0 {
		return
	}
	if proxy == nil {
		c.errs = append(c.errs, fmt.Errorf("%s: examples without a schema", where))
		return
	}
	s, err := proxy.BuildSchema()
	if err != nil {
		c.errs = append(c.errs, fmt.Errorf("%s: schema: %w", where, err))
		return
	}
	for name, ex := range examples.FromOldest() {
		c.examples++
		if ex.Value == nil {
			c.errs = append(c.errs, fmt.Errorf("%s: example %s has no value", where, name))
			continue
		}
		var v any
		if err := ex.Value.Decode(&v); err != nil {
			c.errs = append(c.errs, fmt.Errorf("%s: example %s: %w", where, name, err))
			continue
		}
		if ok, verrs := c.v.ValidateSchemaObject(s, v); !ok {
			for _, e := range verrs {
				c.errs = append(c.errs, fmt.Errorf("%s: example %s: %s", where, name, describe(e.Message, e.Reason, e.SchemaValidationErrors)))
			}
		}
	}
}

func describe[T any](msg, reason string, details []T) string {
	s := msg
	if reason != "" && reason != msg {
		s += ": " + reason
	}
	for _, d := range details {
		s += fmt.Sprintf("; %+v", d)
	}
	return s
}

//go:embed redocly.yaml
var redoclyConfig []byte

// EnvRedocly names the redocly binary to lint with.
const EnvRedocly = "FLUVIUS_REDOCLY"

// Redocly finds the redocly binary: $FLUVIUS_REDOCLY, else where
// scripts/install-redocly.sh installs it. Without it the test is skipped
// with a hint, or fails under CI (CI=true), which must lint.
func Redocly(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv(EnvRedocly); bin != "" {
		return bin
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache")
		}
	}
	bin := filepath.Join(cache, "fluvius", "redocly", "node_modules", ".bin", "redocly")
	if _, err := os.Stat(bin); err == nil && cache != "" {
		if _, err := exec.LookPath("node"); err == nil {
			return bin
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI lints the OpenAPI document with Redocly: run scripts/install-redocly.sh and set %s to the path it prints", EnvRedocly)
	}
	t.Skipf("redocly not found: run scripts/install-redocly.sh (needs node and npm), or set %s", EnvRedocly)
	return ""
}

// Lint runs `redocly lint` on doc with redocly.yaml's rules and fails the
// test on any problem it reports (the config makes warnings errors). It
// returns redocly's output.
func Lint(t testing.TB, doc []byte) string {
	t.Helper()
	out, err := LintResult(t, doc)
	if err != nil {
		t.Errorf("redocly lint: %v\n%s", err, out)
	}
	return out
}

// LintResult is Lint that returns redocly's refusal instead of failing.
func LintResult(t testing.TB, doc []byte) (string, error) {
	t.Helper()
	bin := Redocly(t)
	dir := t.TempDir()
	file, config := filepath.Join(dir, "openapi.json"), filepath.Join(dir, "redocly.yaml")
	if err := os.WriteFile(file, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, redoclyConfig, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "lint", "--config", config, "--format", "stylish", file)
	cmd.Dir = dir
	// No telemetry and no update check: the tests reach no network.
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true", "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}
