package main

import (
	"fmt"
	"strconv"
	"strings"
)

// op is one kind of request a client sends.
type op string

const (
	opCreate     op = "create"      // create-user on a new aggregate
	opUpdateHot  op = "update-hot"  // update-user on one of a few aggregates: contention
	opUpdateCold op = "update-cold" // update-user on one of many aggregates
	opQuery      op = "query"       // a filtered list of users
)

// part is an op's share of a mix, in weight units.
type part struct {
	Op     op
	Weight int
}

// mix is what the clients of one cell send, chosen per request by weight.
type mix struct {
	Name  string
	Parts []part
}

// mixes are the mixes the bench knows, in the order it runs them. A
// filtered list scans every user, so what reads depends on how many the
// cells before it made: query runs on the seeded aggregates alone, the mix
// (whose creates are a fifth) next to them, and the create cells last.
var mixes = []mix{
	{Name: "query", Parts: []part{{opQuery, 1}}},
	{Name: "update-hot", Parts: []part{{opUpdateHot, 1}}},
	{Name: "update-cold", Parts: []part{{opUpdateCold, 1}}},
	{Name: "mix", Parts: []part{{opCreate, 20}, {opUpdateCold, 50}, {opQuery, 30}}},
	{Name: "create", Parts: []part{{opCreate, 1}}},
}

// total is the sum of the weights: pick takes a number below it.
func (m mix) total() int {
	n := 0
	for _, p := range m.Parts {
		n += p.Weight
	}
	return n
}

// pick maps r in [0, total) to an op, each op taking a run of numbers as
// long as its weight, so a uniform r gives the mix's shares.
func (m mix) pick(r int) op {
	for _, p := range m.Parts {
		if r < p.Weight {
			return p.Op
		}
		r -= p.Weight
	}
	return m.Parts[len(m.Parts)-1].Op
}

// parseMixes reads a comma-separated list of mix names, and returns them
// in the order they run (that of mixes), each once.
func parseMixes(s string) ([]mix, error) {
	want := map[string]bool{}
	for _, name := range splitList(s) {
		found := false
		for _, m := range mixes {
			found = found || m.Name == name
		}
		if !found {
			return nil, fmt.Errorf("unknown mix %q (known: %s)", name, mixNames())
		}
		want[name] = true
	}
	var out []mix
	for _, m := range mixes {
		if want[m.Name] {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no mix given (known: %s)", mixNames())
	}
	return out, nil
}

func mixNames() string {
	names := make([]string, len(mixes))
	for i, m := range mixes {
		names[i] = m.Name
	}
	return strings.Join(names, ",")
}

// parseClients reads a comma-separated list of positive client counts.
func parseClients(s string) ([]int, error) {
	var out []int
	for _, item := range splitList(s) {
		n, err := strconv.Atoi(item)
		if err != nil || n < 1 || n > 4096 {
			return nil, fmt.Errorf("client count %q: want a number from 1 to 4096", item)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no client count given")
	}
	return out, nil
}

// splitList reads a comma-separated list, without empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
