package openapi

// The OpenAPI 3.1 objects the document uses, no more. Fields are in the
// order the specification lists them, so the JSON reads top-down; maps
// encode sorted, so the same manifests give the same bytes.

// Document is an OpenAPI 3.1 document.
type Document struct {
	OpenAPI           string                `json:"openapi"`
	JSONSchemaDialect string                `json:"jsonSchemaDialect"`
	Info              Info                  `json:"info"`
	Servers           []Server              `json:"servers"`
	Security          []SecurityRequirement `json:"security"`
	Tags              []Tag                 `json:"tags"`
	Paths             map[string]*PathItem  `json:"paths"`
	Components        Components            `json:"components"`
}

// Info is the document's info object.
type Info struct {
	Title       string `json:"title"`
	Version     string `json:"version"`
	Summary     string `json:"summary,omitempty"`
	Description string `json:"description,omitempty"`
}

// Server is where the API is served; "/" is wherever the document came
// from.
type Server struct {
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
}

// Tag groups operations: one per domain, and the platform's own.
type Tag struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// SecurityRequirement names schemes that together authenticate a request;
// the empty one lets a request in without credentials.
type SecurityRequirement map[string][]string

// PathItem holds the operations of one path.
type PathItem struct {
	Get    *Operation `json:"get,omitempty"`
	Post   *Operation `json:"post,omitempty"`
	Delete *Operation `json:"delete,omitempty"`
}

// Operation is one method on one path.
type Operation struct {
	OperationID string       `json:"operationId"`
	Summary     string       `json:"summary"`
	Description string       `json:"description,omitempty"`
	Tags        []string     `json:"tags"`
	Parameters  []*Parameter `json:"parameters,omitempty"`
	RequestBody *RequestBody `json:"requestBody,omitempty"`
	// Responses are keyed by status code.
	Responses map[string]*Response `json:"responses"`
	// Security, when not nil, replaces the document's requirements: an
	// empty list makes the operation public.
	Security *[]SecurityRequirement `json:"security,omitempty"`
}

// Parameter is a path, query or header parameter, or a reference to one.
type Parameter struct {
	Ref         string              `json:"$ref,omitempty"`
	Name        string              `json:"name,omitempty"`
	In          string              `json:"in,omitempty"`
	Description string              `json:"description,omitempty"`
	Required    bool                `json:"required,omitempty"`
	Style       string              `json:"style,omitempty"`
	Explode     *bool               `json:"explode,omitempty"`
	Schema      Schema              `json:"schema,omitempty"`
	Examples    map[string]*Example `json:"examples,omitempty"`
}

// RequestBody is what an operation reads.
type RequestBody struct {
	Description string                `json:"description,omitempty"`
	Required    bool                  `json:"required,omitempty"`
	Content     map[string]*MediaType `json:"content"`
}

// Response is one answer of an operation, or a reference to a shared one.
type Response struct {
	Ref         string                `json:"$ref,omitempty"`
	Description string                `json:"description,omitempty"`
	Headers     map[string]*Header    `json:"headers,omitempty"`
	Content     map[string]*MediaType `json:"content,omitempty"`
}

// Header is a response header, or a reference to a shared one.
type Header struct {
	Ref         string `json:"$ref,omitempty"`
	Description string `json:"description,omitempty"`
	Required    bool   `json:"required,omitempty"`
	Schema      Schema `json:"schema,omitempty"`
}

// MediaType is a body of one content type, with its examples.
type MediaType struct {
	Schema   Schema              `json:"schema"`
	Examples map[string]*Example `json:"examples,omitempty"`
}

// Example is a named example value.
type Example struct {
	Summary     string `json:"summary,omitempty"`
	Description string `json:"description,omitempty"`
	Value       any    `json:"value"`
}

// Components are the objects operations refer to.
type Components struct {
	Schemas         map[string]Schema          `json:"schemas"`
	Parameters      map[string]*Parameter      `json:"parameters"`
	Headers         map[string]*Header         `json:"headers"`
	Responses       map[string]*Response       `json:"responses"`
	SecuritySchemes map[string]*SecurityScheme `json:"securitySchemes"`
}

// SecurityScheme is a way to authenticate.
type SecurityScheme struct {
	Type         string `json:"type"`
	Description  string `json:"description,omitempty"`
	Name         string `json:"name,omitempty"`
	In           string `json:"in,omitempty"`
	Scheme       string `json:"scheme,omitempty"`
	BearerFormat string `json:"bearerFormat,omitempty"`
}

// Schema is a JSON Schema (draft 2020-12) object. A map, since JSON
// Schema's keywords combine freely ($ref beside others, examples, allOf).
type Schema map[string]any

// ref is a reference to a component of the given kind.
func ref(kind, name string) string { return "#/components/" + kind + "/" + name }

// schemaRef is a schema that refers to a component schema.
func schemaRef(name string) Schema { return Schema{"$ref": ref("schemas", name)} }
