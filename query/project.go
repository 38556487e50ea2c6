package query

import (
	"bytes"
	"encoding/json"
)

// Project answers a state as the plan says: hidden properties never,
// then only the selected ones (when a selection is given), then not the
// excluded ones. Members keep their order.
func (p *Plan) Project(data []byte) ([]byte, error) {
	return project(data, p.res.Hidden, p.Select, p.Exclude)
}

// Project answers a state without its resource's hidden properties: how
// single reads answer it.
func (r *Resource) Project(data []byte) ([]byte, error) {
	if len(r.Hidden) == 0 {
		return data, nil
	}
	return project(data, r.Hidden, nil, nil)
}

func project(data []byte, hidden, sel, exclude map[string]bool) ([]byte, error) {
	if len(hidden) == 0 && sel == nil && exclude == nil {
		return data, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return data, nil // not an object: nothing to pick from
	}
	type member struct {
		key string
		val json.RawMessage
	}
	var members []member
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		k, _ := t.(string)
		if hidden[k] || (sel != nil && !sel[k]) || exclude[k] {
			continue
		}
		members = append(members, member{k, v})
	}
	var out bytes.Buffer
	out.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			out.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		out.Write(k)
		out.WriteByte(':')
		out.Write(m.val)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}
