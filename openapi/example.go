package openapi

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp/syntax"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/abi/schema"
)

// Examples are made from the schemas, and every one is checked with the
// validator the host runs on payloads: an example the document shows is one
// the host accepts. A value that cannot be made (a pattern no simple string
// satisfies, bounds that exclude each other) leaves its example out rather
// than show one that would be refused.

// example makes a value valid against s: with full, every declared
// property (and one item of every array); otherwise only what s requires.
func example(s *abi.Schema, full bool) (any, error) {
	v, err := exampleValue(s, "", full)
	if err != nil {
		return nil, err
	}
	if err := check(s, v); err != nil {
		return nil, err
	}
	return v, nil
}

// exampleValue makes the value of the property name (strings take their
// text from it).
func exampleValue(s *abi.Schema, name string, full bool) (any, error) {
	if s == nil {
		return map[string]any{}, nil
	}
	switch s.Type {
	case "object", "":
		out := map[string]any{}
		names := slices.Clone(s.Required)
		if full {
			for p := range s.Properties {
				names = append(names, p)
			}
		}
		sort.Strings(names)
		for _, p := range slices.Compact(names) {
			ps, declared := s.Properties[p]
			if !declared {
				out[p] = p // required but undeclared: additionalProperties allows any value
				continue
			}
			v, err := exampleValue(ps, p, full)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			out[p] = v
		}
		return out, nil
	case "array":
		n := 0
		if full {
			n = 1
		}
		if s.MinItems != nil {
			n = max(n, *s.MinItems)
		}
		if s.MaxItems != nil {
			n = min(n, *s.MaxItems)
		}
		out := make([]any, 0, n)
		for range n {
			v, err := exampleValue(s.Items, singular(name), full)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case "string":
		for _, c := range stringCandidates(s, name) {
			if check(s, c) == nil {
				return c, nil
			}
		}
		return nil, fmt.Errorf("no simple string satisfies the schema")
	case "integer", "number":
		for _, c := range numberCandidates(s) {
			if check(s, c) == nil {
				return c, nil
			}
		}
		return nil, fmt.Errorf("no number satisfies the bounds")
	case "boolean":
		return true, nil
	}
	return nil, fmt.Errorf("type %q", s.Type)
}

// check validates v against s with the host's own validator.
func check(s *abi.Schema, v any) error {
	if s == nil {
		return nil
	}
	val, err := schema.Compile(s, "example")
	if err != nil {
		return err
	}
	doc, err := json.Marshal(v)
	if err != nil {
		return err
	}
	vs, err := val.Validate(doc)
	if err != nil {
		return err
	}
	if len(vs) > 0 {
		return fmt.Errorf("example %s: %s %s", doc, vs[0].Path, vs[0].Message)
	}
	return nil
}

// stringCandidates are strings to try for s, the likeliest first.
func stringCandidates(s *abi.Schema, name string) []string {
	var out []string
	out = append(out, s.Enum...)
	switch s.Format {
	case "email":
		out = append(out, "ann@example.com", "a@b.co")
	case "date-time":
		out = append(out, "2026-01-02T15:04:05Z")
	case "date":
		out = append(out, "2026-01-02")
	case "uuid":
		out = append(out, "0194f2a8-7c1e-7d3a-9b6f-2e4c8a1d5f07")
	}
	if s.Pattern != "" {
		out = append(out, patternCandidates(s.Pattern)...)
	}
	out = append(out, namedStrings(name)...)
	text := strings.ReplaceAll(name, "_", " ")
	if text == "" {
		text = "text"
	}
	out = append(out, text)
	// Lengths: pad or cut the plain text into the bounds.
	if s.MinLength != nil && utf8.RuneCountInString(text) < *s.MinLength {
		out = append(out, text+strings.Repeat("x", *s.MinLength-utf8.RuneCountInString(text)))
	}
	if s.MaxLength != nil && utf8.RuneCountInString(text) > *s.MaxLength {
		out = append(out, string([]rune(text)[:*s.MaxLength]))
	}
	return out
}

// namedStrings are strings a property's name suggests, that the schema
// does not ask for but reads better with.
func namedStrings(name string) []string {
	n := strings.ToLower(name)
	switch {
	case strings.Contains(n, "email"):
		return []string{"ann@example.com"}
	case n == "name" || strings.HasSuffix(n, "_name"):
		return []string{"Ann"}
	case strings.HasSuffix(n, "_at") || strings.HasSuffix(n, "time"):
		return []string{exampleTime}
	case n == "date" || strings.HasSuffix(n, "_date") || strings.HasSuffix(n, "_on"):
		return []string{"2026-01-02"}
	case n == "id" || strings.HasSuffix(n, "_id"):
		return []string{exampleID}
	case strings.Contains(n, "url"):
		return []string{"https://example.com/"}
	}
	return nil
}

// numberCandidates are numbers to try for s: 1 where the bounds allow it,
// else the bound nearest to it.
func numberCandidates(s *abi.Schema) []any {
	v := 1.0
	if s.Minimum != nil && v < *s.Minimum {
		v = math.Ceil(*s.Minimum)
	}
	if s.Maximum != nil && v > *s.Maximum {
		v = math.Floor(*s.Maximum)
	}
	out := []any{number(v)}
	if s.Type == "number" {
		if s.Minimum != nil {
			out = append(out, *s.Minimum)
		}
		if s.Maximum != nil {
			out = append(out, *s.Maximum)
		}
	}
	return out
}

// patternCandidates are strings matching a pattern's shortest forms, with
// each repetition taken 0 to 8 more times than its least (the validator
// then picks one that fits the lengths and the format too).
func patternCandidates(pattern string) []string {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	re = re.Simplify()
	var out []string
	for extra := 0; extra <= 8; extra++ {
		var b strings.Builder
		if generate(&b, re, extra) {
			out = append(out, b.String())
		}
	}
	return out
}

// generate writes a string re matches, repeating what repeats extra times
// beyond its least where it may. It reports false for what it cannot write.
func generate(b *strings.Builder, re *syntax.Regexp, extra int) bool {
	switch re.Op {
	case syntax.OpNoMatch:
		return false
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true // the validator judges the boundaries
	case syntax.OpLiteral:
		b.WriteString(string(re.Rune))
		return true
	case syntax.OpCharClass:
		r, ok := classRune(re.Rune)
		if ok {
			b.WriteRune(r)
		}
		return ok
	case syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		b.WriteByte('a')
		return true
	case syntax.OpCapture:
		return generate(b, re.Sub[0], extra)
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if !generate(b, sub, extra) {
				return false
			}
		}
		return true
	case syntax.OpAlternate:
		return generate(b, re.Sub[0], extra)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		lo, hi := 0, extra
		switch re.Op {
		case syntax.OpPlus:
			lo, hi = 1, 1+extra
		case syntax.OpQuest:
			hi = min(1, extra)
		case syntax.OpRepeat:
			lo, hi = re.Min, re.Min+extra
			if re.Max >= 0 {
				hi = min(hi, re.Max)
			}
		}
		for range max(lo, hi) {
			if !generate(b, re.Sub[0], extra) {
				return false
			}
		}
		return true
	}
	return false
}

// classRune picks a rune of a character class: a lower-case letter, a
// digit or an upper-case letter where the class has one, else its first
// printable rune.
func classRune(ranges []rune) (rune, bool) {
	for _, want := range []rune{'a', 'x', '0', '1', 'A', 'X', '-', '_'} {
		for i := 0; i+1 < len(ranges); i += 2 {
			if ranges[i] <= want && want <= ranges[i+1] {
				return want, true
			}
		}
	}
	for i := 0; i+1 < len(ranges); i += 2 {
		for r := max(ranges[i], ' '+1); r <= ranges[i+1] && r < ranges[i]+256; r++ {
			if r != 0x7f && utf8.ValidRune(r) {
				return r, true
			}
		}
	}
	return 0, false
}

// singular names an array's item after the array: "tags" gives "tag".
func singular(name string) string {
	if s, ok := strings.CutSuffix(name, "s"); ok && len(s) > 1 {
		return s
	}
	return name
}
