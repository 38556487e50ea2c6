// Package schema validates JSON documents against the JSON Schema subset of
// abi.Schema. The host runs it on every command payload before a guest sees
// the payload, so guests can trust the shape of what they read.
package schema

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"fluvius.dev/fluvius/abi"
)

// Validator is a compiled schema.
type Validator struct {
	s          *abi.Schema
	pattern    *regexp.Regexp
	properties map[string]*Validator
	required   []string
	items      *Validator
	enum       map[string]bool
}

// Violation is one way a document fails its schema.
type Violation struct {
	Path    string `json:"path"` // JSON Pointer, "" for the document itself
	Message string `json:"message"`
}

var knownTypes = map[string]bool{"object": true, "string": true, "integer": true, "number": true, "boolean": true, "array": true}

var knownFormats = map[string]bool{"date-time": true, "date": true, "email": true, "uuid": true}

// Compile checks a schema and prepares it for validation. path names the
// schema in error messages.
func Compile(s *abi.Schema, path string) (*Validator, error) {
	return compile(s, path, 0)
}

// maxSchemaDepth bounds how deeply schemas nest (documents nest at most
// MaxDepth levels anyway).
const maxSchemaDepth = MaxDepth

func compile(s *abi.Schema, path string, depth int) (*Validator, error) {
	if depth > maxSchemaDepth {
		return nil, fmt.Errorf("%s: schemas nest more than %d levels deep", path, maxSchemaDepth)
	}
	if s == nil {
		return nil, fmt.Errorf("%s: missing schema", path)
	}
	if !knownTypes[s.Type] {
		return nil, fmt.Errorf("%s: unsupported type %q", path, s.Type)
	}
	v := &Validator{s: s}
	if s.Pattern != "" {
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			return nil, fmt.Errorf("%s: pattern: %w", path, err)
		}
		v.pattern = re
	}
	if s.Format != "" && !knownFormats[s.Format] {
		return nil, fmt.Errorf("%s: unsupported format %q", path, s.Format)
	}
	if len(s.Properties) > 0 || len(s.Required) > 0 {
		if s.Type != "object" {
			return nil, fmt.Errorf("%s: properties on a %s", path, s.Type)
		}
		v.properties = map[string]*Validator{}
		for name, ps := range s.Properties {
			pv, err := compile(ps, path+"/properties/"+name, depth+1)
			if err != nil {
				return nil, err
			}
			v.properties[name] = pv
		}
		for _, r := range s.Required {
			if _, ok := s.Properties[r]; !ok && !allowsExtra(s) {
				return nil, fmt.Errorf("%s: required property %q is not declared", path, r)
			}
		}
		v.required = s.Required
	}
	if s.Items != nil {
		if s.Type != "array" {
			return nil, fmt.Errorf("%s: items on a %s", path, s.Type)
		}
		iv, err := compile(s.Items, path+"/items", depth+1)
		if err != nil {
			return nil, err
		}
		v.items = iv
	}
	if len(s.Enum) > 0 {
		v.enum = map[string]bool{}
		for _, e := range s.Enum {
			v.enum[e] = true
		}
	}
	return v, nil
}

func allowsExtra(s *abi.Schema) bool { return s.AdditionalProperties == nil || *s.AdditionalProperties }

// escape writes a property name as a JSON Pointer token (RFC 6901).
func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func formatOK(format, s string) bool {
	switch format {
	case "date-time":
		_, err := time.Parse(time.RFC3339Nano, s)
		return err == nil
	case "date":
		_, err := time.Parse(time.DateOnly, s)
		return err == nil
	case "email":
		a, err := mail.ParseAddress(s)
		return err == nil && a.Address == s
	case "uuid":
		return uuidRE.MatchString(s)
	}
	return true
}
