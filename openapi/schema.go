package openapi

import (
	"slices"

	"fluvius.dev/fluvius/abi"
)

// jsonSchema converts a manifest schema. Its subset is JSON Schema 2020-12
// already (abi/ABI.md, "Manifest"), so each keyword maps to itself; what
// changes is only what the caller leaves out: hidden drops top-level
// properties a read never answers, and partial drops the top-level
// required list (select and exclude may leave any property out of a list).
// A nil schema is any value.
func jsonSchema(s *abi.Schema, hidden map[string]bool, partial bool) Schema {
	if s == nil {
		return Schema{}
	}
	out := Schema{}
	if s.Type != "" {
		out["type"] = s.Type
	}
	if s.Title != "" {
		out["title"] = s.Title
	}
	if s.Description != "" {
		out["description"] = s.Description
	}
	if len(s.Properties) > 0 || len(s.Required) > 0 {
		props := Schema{}
		for name, p := range s.Properties {
			if !hidden[name] {
				props[name] = jsonSchema(p, nil, false)
			}
		}
		// A property required but not declared (which additionalProperties
		// allows) is any value: declared so, it means the same, and
		// linters that ask every required property to be declared agree.
		for _, name := range s.Required {
			if _, ok := s.Properties[name]; !ok && !hidden[name] {
				props[name] = Schema{"description": "Required; any value."}
			}
		}
		out["properties"] = props
	}
	if !partial {
		var req []string
		for _, r := range s.Required {
			if !hidden[r] && !slices.Contains(req, r) {
				req = append(req, r)
			}
		}
		if len(req) > 0 {
			out["required"] = req
		}
	}
	if s.AdditionalProperties != nil {
		out["additionalProperties"] = *s.AdditionalProperties
	}
	if s.Items != nil {
		out["items"] = jsonSchema(s.Items, nil, false)
	}
	if len(s.Enum) > 0 {
		out["enum"] = slices.Clone(s.Enum)
	}
	if s.MinLength != nil {
		out["minLength"] = *s.MinLength
	}
	if s.MaxLength != nil {
		out["maxLength"] = *s.MaxLength
	}
	if s.Pattern != "" {
		out["pattern"] = s.Pattern
	}
	if s.Format != "" {
		out["format"] = s.Format
	}
	if s.Minimum != nil {
		out["minimum"] = number(*s.Minimum)
	}
	if s.Maximum != nil {
		out["maximum"] = number(*s.Maximum)
	}
	if s.MinItems != nil {
		out["minItems"] = *s.MinItems
	}
	if s.MaxItems != nil {
		out["maxItems"] = *s.MaxItems
	}
	return out
}

// number keeps a whole bound whole: encoding/json writes 1e8 for a float
// of that size, which reads as a float where the manifest meant 100000000.
func number(f float64) any {
	if f == float64(int64(f)) && f > -1<<53 && f < 1<<53 {
		return int64(f)
	}
	return f
}

// hasRequired says whether a schema requires top-level properties.
func hasRequired(s *abi.Schema) bool { return s != nil && len(s.Required) > 0 }
