package openapi_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/abi/schema"
	"fluvius.dev/fluvius/openapi"
	"fluvius.dev/fluvius/openapi/openapitest"
)

// manifests reads testdata's manifests, sorted by domain as host.Plugins
// gives them: the example domains' (bank, inventory, order, user: what
// their plugins declare) and catalog, written by hand to use every schema
// keyword, format and command shape.
func manifests(t *testing.T) []abi.Manifest {
	t.Helper()
	paths, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	var out []abi.Manifest
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var m abi.Manifest
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Domain < out[j].Domain })
	return out
}

func build(t *testing.T, ms []abi.Manifest, opts openapi.Options) []byte {
	t.Helper()
	doc, err := openapi.Build(ms, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var all = openapi.Options{Version: "1.2.3", Media: true, Batch: true, Versions: map[string]string{"order": "v7"}}

// TestOpenAPIValid checks the document of the example domains with both
// validators: libopenapi (the OpenAPI 3.1 schema, every example against
// its schema) and Redocly's linter.
func TestOpenAPIValid(t *testing.T) {
	doc := build(t, manifests(t), all)
	t.Logf("document: %d bytes (%d indented)", len(doc), indentedSize(t, doc))
	if err := openapitest.Check(doc); err != nil {
		t.Fatal(err)
	}
	t.Run("redocly", func(t *testing.T) { openapitest.Lint(t, doc) })
}

// TestOpenAPIValidBare checks the documents with none of the optional
// routes and with no domain at all: what is left must still hold together
// (no component left unused, no dangling reference).
func TestOpenAPIValidBare(t *testing.T) {
	for name, ms := range map[string][]abi.Manifest{"domains": manifests(t), "empty": nil} {
		t.Run(name, func(t *testing.T) {
			doc := build(t, ms, openapi.Options{})
			if err := openapitest.Check(doc); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(doc, []byte(`"/_media`)) || bytes.Contains(doc, []byte(`"/_batch"`)) {
				t.Fatal("media or batch described without their options")
			}
			t.Run("redocly", func(t *testing.T) { openapitest.Lint(t, doc) })
		})
	}
}

// doc is the built document, decoded.
type doc struct {
	Info  struct{ Title, Version, Description string }
	Paths map[string]map[string]struct {
		OperationID string `json:"operationId"`
		Summary     string
		Tags        []string
		Parameters  []struct {
			Ref  string `json:"$ref"`
			Name string
		}
		RequestBody *struct {
			Content map[string]struct {
				Schema   map[string]any
				Examples map[string]struct{ Value json.RawMessage }
			}
		} `json:"requestBody"`
		Responses map[string]struct {
			Ref     string `json:"$ref"`
			Content map[string]struct {
				Schema   map[string]any
				Examples map[string]struct{ Value json.RawMessage }
			}
		}
		Security *[]map[string][]string
	}
	Components struct {
		Schemas map[string]map[string]any
	}
}

func decode(t *testing.T, b []byte) doc {
	t.Helper()
	var d doc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestOpenAPICommands checks every command's operations against its
// manifest, and its examples against the validator the host runs on
// payloads and states: what the document shows, the host accepts.
func TestOpenAPICommands(t *testing.T) {
	ms := manifests(t)
	d := decode(t, build(t, ms, all))
	ops := 0
	for _, m := range ms {
		for _, c := range m.Commands {
			for _, r := range c.Resources {
				path := "/" + m.Domain + ":" + c.Name + "/" + r + "/{id}"
				if c.New {
					path = "/" + m.Domain + ":" + c.Name + "/" + r + "/:new"
				}
				item, ok := d.Paths[path]
				if c.Internal {
					if ok {
						t.Errorf("%s: an internal command is described", path)
					}
					continue
				}
				op, ok := item["post"]
				if !ok {
					t.Errorf("%s: no operation", path)
					continue
				}
				ops++
				checkCommand(t, d, m, c, r, path, op.OperationID, op.Summary, op.Tags)
				var params []string
				for _, p := range op.Parameters {
					params = append(params, strings.TrimPrefix(p.Ref, "#/components/parameters/")+p.Name)
				}
				want := []string{"IdempotencyKey", "CorrelationID", "CausationID"}
				if !c.New {
					want = []string{"AggregateID", "IdempotencyKey", "IfMatch", "CorrelationID", "CausationID"}
				}
				if !slices.Equal(params, want) {
					t.Errorf("%s: parameters %v, want %v", path, params, want)
				}
				status := "200"
				if c.New {
					status = "201"
				}
				if _, ok := op.Responses[status]; !ok {
					t.Errorf("%s: no %s answer", path, status)
				}
				for _, code := range []string{"400", "401", "403", "404", "409", "413", "415", "422", "500", "503"} {
					if op.Responses[code].Ref == "" {
						t.Errorf("%s: no shared %s answer", path, code)
					}
				}
				if _, ok := op.Responses["412"]; ok == c.New {
					t.Errorf("%s: a 412 answer is for If-Match, which :new does not take", path)
				}
				if (op.Security != nil) != c.AuthRequired || c.AuthRequired && slices.ContainsFunc(*op.Security, func(r map[string][]string) bool { return len(r) == 0 }) {
					t.Errorf("%s: security %v for auth_required %v", path, op.Security, c.AuthRequired)
				}

				// Every request example is a payload the host accepts.
				v, err := schema.Compile(payloadSchema(c), "payload")
				if err != nil {
					t.Fatal(err)
				}
				body := op.RequestBody.Content["application/json"]
				if len(body.Examples) == 0 {
					t.Errorf("%s: no request example", path)
				}
				for name, ex := range body.Examples {
					if vs, err := v.Validate(ex.Value); err != nil || len(vs) > 0 {
						t.Errorf("%s: example %s %s: %v %v", path, name, ex.Value, vs, err)
					}
				}
				// And every answer's data a state the host would store.
				a := m.Aggregate(r)
				if a.State == nil {
					continue
				}
				sv, err := schema.Compile(viewSchema(a), "state")
				if err != nil {
					t.Fatal(err)
				}
				for name, ex := range op.Responses[status].Content["application/json"].Examples {
					var answer struct{ Data json.RawMessage }
					if err := json.Unmarshal(ex.Value, &answer); err != nil {
						t.Fatal(err)
					}
					if vs, err := sv.Validate(answer.Data); err != nil || len(vs) > 0 {
						t.Errorf("%s: answer example %s %s: %v %v", path, name, answer.Data, vs, err)
					}
				}
			}
		}
	}
	if ops < 15 {
		t.Fatalf("%d command operations", ops)
	}
}

func checkCommand(t *testing.T, d doc, m abi.Manifest, c abi.CommandSpec, r, path, id, summary string, tags []string) {
	t.Helper()
	if id != m.Domain+"."+c.Name+"."+r {
		t.Errorf("%s: operationId %q", path, id)
	}
	if want := cmp(c.Title, c.Name); summary != want {
		t.Errorf("%s: summary %q, want %q", path, summary, want)
	}
	if !slices.Equal(tags, []string{m.Domain}) {
		t.Errorf("%s: tags %v", path, tags)
	}
	if _, ok := d.Components.Schemas[m.Domain+"."+c.Name+".Payload"]; !ok {
		t.Errorf("%s: no payload schema", path)
	}
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// payloadSchema is the schema the host checks a command's payload with.
func payloadSchema(c abi.CommandSpec) *abi.Schema {
	if c.Payload != nil {
		return c.Payload
	}
	no := false
	return &abi.Schema{Type: "object", AdditionalProperties: &no}
}

// viewSchema is the state schema less the hidden properties reads leave out.
func viewSchema(a *abi.AggregateSpec) *abi.Schema {
	s := *a.State
	if a.Query == nil || len(a.Query.Hidden) == 0 {
		return &s
	}
	s.Properties = map[string]*abi.Schema{}
	for k, v := range a.State.Properties {
		if !slices.Contains(a.Query.Hidden, k) {
			s.Properties[k] = v
		}
	}
	s.Required = slices.DeleteFunc(slices.Clone(s.Required), func(r string) bool { return slices.Contains(a.Query.Hidden, r) })
	return &s
}

// TestOpenAPIResources checks the reads of every resource.
func TestOpenAPIResources(t *testing.T) {
	ms := manifests(t)
	d := decode(t, build(t, ms, all))
	for _, m := range ms {
		for _, a := range m.Aggregates {
			for _, r := range a.Resources {
				base := "/" + m.Domain + "." + r + "/"
				for path, id := range map[string]string{base + "{id}": ".read", base + "{id}/events": ".events", base: ".list"} {
					op, ok := d.Paths[path]["get"]
					if !ok {
						t.Errorf("%s: no operation", path)
						continue
					}
					if op.OperationID != m.Domain+"."+r+id {
						t.Errorf("%s: operationId %q", path, op.OperationID)
					}
					if len(op.Responses["200"].Content["application/json"].Examples) == 0 {
						t.Errorf("%s: no answer example", path)
					}
				}
				var names []string
				for _, p := range d.Paths[base]["get"].Parameters {
					names = append(names, cmp(p.Name, p.Ref))
				}
				named := a.Query != nil && len(a.Query.Named) > 0
				if slices.Contains(names, "named") != named {
					t.Errorf("%s: parameters %v, named queries %v", base, names, named)
				}
			}
		}
	}
	// A hidden property is in no schema a read answers.
	state := d.Components.Schemas["catalog.product.State"]
	if _, ok := state["properties"].(map[string]any)["secret"]; ok || slices.Contains(toStrings(state["required"]), "secret") {
		t.Errorf("hidden property in %v", state)
	}
	// Lists may leave out what reads require.
	if _, ok := d.Components.Schemas["catalog.product.ListedState"]["required"]; ok {
		t.Error("a listed state requires properties select may leave out")
	}
}

func toStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// TestOpenAPIInfo checks the document's identity and its list of domains.
func TestOpenAPIInfo(t *testing.T) {
	d := decode(t, build(t, manifests(t), all))
	if d.Info.Title != "Fluvius" || d.Info.Version != "1.2.3" {
		t.Fatalf("info %+v", d.Info)
	}
	for _, want := range []string{"- `order`: Orders (revision 1, version v7)", "- `user`: Users (revision 1)", "- `catalog`: Catalog (revision 4)"} {
		if !strings.Contains(d.Info.Description, want) {
			t.Errorf("description lacks %q:\n%s", want, d.Info.Description)
		}
	}
	if d := decode(t, build(t, nil, openapi.Options{})); d.Info.Version != "dev" || !strings.Contains(d.Info.Description, "No domain is served") {
		t.Errorf("empty: %+v", d.Info)
	}
}

// TestOpenAPIDeterministic: the same manifests give the same bytes, which
// lets a server cache the document and clients compare it.
func TestOpenAPIDeterministic(t *testing.T) {
	a, b := build(t, manifests(t), all), build(t, manifests(t), all)
	if !bytes.Equal(a, b) {
		t.Fatal("two builds differ")
	}
}

func TestOpenAPIRefusesDuplicateDomain(t *testing.T) {
	ms := manifests(t)
	if _, err := openapi.Build(append(ms, ms[0]), all); err == nil {
		t.Fatal("a domain given twice was described")
	}
}

// TestOpenAPICheckersCatch proves the validators can fail: a document
// broken in each of these ways must be refused by libopenapi's checks and
// by Redocly.
func TestOpenAPICheckersCatch(t *testing.T) {
	good := build(t, manifests(t), all)
	for name, breakIt := range map[string]func(map[string]any){
		"example of the wrong type": func(d map[string]any) {
			ex := dig(d, "paths", "/order:place-order/order/:new", "post", "requestBody", "content", "application/json", "examples", "example").(map[string]any)
			ex["value"].(map[string]any)["items"] = "not an array"
		},
		"answer example missing a required field": func(d map[string]any) {
			ex := dig(d, "components", "responses", "NotFound", "content", "application/problem+json", "examples", "aggregate-not-found").(map[string]any)
			delete(ex["value"].(map[string]any), "code")
		},
		"parameter without in": func(d map[string]any) {
			delete(dig(d, "components", "parameters", "IfMatch").(map[string]any), "in")
		},
		"dangling reference": func(d map[string]any) {
			delete(dig(d, "components", "schemas").(map[string]any), "Problem")
		},
	} {
		t.Run(name, func(t *testing.T) {
			var d map[string]any
			if err := json.Unmarshal(good, &d); err != nil {
				t.Fatal(err)
			}
			breakIt(d)
			bad, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if err := openapitest.Check(bad); err == nil {
				t.Error("libopenapi's checks passed a broken document")
			} else {
				t.Logf("libopenapi: %.300s", err)
			}
			t.Run("redocly", func(t *testing.T) {
				// Refused for what is wrong with it, not for failing to run.
				if out, err := openapitest.LintResult(t, bad); err == nil || !strings.Contains(out, "Validation failed") {
					t.Errorf("redocly passed a broken document (%v):\n%s", err, out)
				}
			})
		})
	}
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		v = v.(map[string]any)[k]
	}
	return v
}

func indentedSize(t *testing.T, b []byte) int {
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	return buf.Len()
}
