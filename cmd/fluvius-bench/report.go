package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// cell is one row of the table: a mix at a client count on a store, or a
// baseline.
type cell struct {
	Store     string         `json:"store"`
	Mix       string         `json:"mix"`
	Clients   int            `json:"clients"`
	Seconds   float64        `json:"seconds"`
	Done      int            `json:"done"`
	Errors    int            `json:"errors"`
	ErrorsBy  map[string]int `json:"errors_by,omitempty"`
	PerSecond float64        `json:"commands_per_s"`
	P50ms     float64        `json:"p50_ms"`
	P90ms     float64        `json:"p90_ms,omitempty"`
	P99ms     float64        `json:"p99_ms"`
	MaxMs     float64        `json:"max_ms,omitempty"`
	// Conflicts are the version conflicts the host met and retried, warm-up
	// included: contention that cost time but no error.
	Conflicts int `json:"version_conflicts,omitempty"`
	// Aggregates is how many users the host held as the cell began.
	Aggregates int    `json:"aggregates,omitempty"`
	Note       string `json:"note,omitempty"`
}

// report is the JSON the bench writes.
type report struct {
	Started   string            `json:"started"`
	WallS     float64           `json:"wall_s"`
	Quick     bool              `json:"quick"`
	Go        string            `json:"go"`
	CPUs      int               `json:"cpus"`
	DurationS float64           `json:"cell_duration_s"`
	WarmupS   float64           `json:"cell_warmup_s"`
	Cold      int               `json:"cold_aggregates"`
	Hot       int               `json:"hot_aggregates"`
	Cells     []cell            `json:"cells"`
	Decide    *decideResult     `json:"decide,omitempty"`
	Skipped   map[string]string `json:"skipped,omitempty"`
	Soak      *soakResult       `json:"soak,omitempty"`
}

// formatTable renders cells as one aligned table, numbers to the right.
func formatTable(cells []cell) string {
	head := []string{"store", "mix", "clients", "commands/s", "p50", "p99", "errors"}
	rows := [][]string{head}
	for _, c := range cells {
		p50, p99 := "-", "-"
		if c.P50ms > 0 {
			p50 = formatMs(c.P50ms)
		}
		if c.P99ms > 0 {
			p99 = formatMs(c.P99ms)
		}
		rows = append(rows, []string{c.Store, c.Mix, fmt.Sprint(c.Clients), fmt.Sprintf("%.0f", c.PerSecond),
			p50, p99, formatErrors(c)})
	}
	width := make([]int, len(head))
	for _, r := range rows {
		for i, s := range r {
			width[i] = max(width[i], len(s))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, s := range r {
			pad := strings.Repeat(" ", width[i]-len(s))
			switch {
			case i == 0:
				b.WriteString(s + pad)
			case i == 1: // names left
				b.WriteString("  " + s + pad)
			case i == len(r)-1: // errors left and unpadded: their classes vary in length
				b.WriteString("  " + s)
			default: // numbers right
				b.WriteString("  " + pad + s)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// formatHeld says how many users each store held as each mix began: a
// filtered list scans them, so the query and mix rows read with it.
func formatHeld(cells []cell) string {
	var b strings.Builder
	store, mixName := "", ""
	for _, c := range cells {
		if c.Aggregates <= 0 || (c.Store == store && c.Mix == mixName) {
			continue
		}
		if c.Store != store {
			if store != "" {
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "users held as each mix began, %s:", c.Store)
		} else {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " %s %d", c.Mix, c.Aggregates)
		store, mixName = c.Store, c.Mix
	}
	if store != "" {
		b.WriteString("\n")
	}
	return b.String()
}

// formatErrors is the error count, with its classes when there are any
// ("12 (409:12)").
func formatErrors(c cell) string {
	if c.Errors == 0 {
		return "0"
	}
	classes := make([]string, 0, len(c.ErrorsBy))
	for k := range c.ErrorsBy {
		classes = append(classes, k)
	}
	sort.Strings(classes)
	for i, k := range classes {
		classes[i] = fmt.Sprintf("%s:%d", k, c.ErrorsBy[k])
	}
	return fmt.Sprintf("%d (%s)", c.Errors, strings.Join(classes, " "))
}

// formatMs renders a latency with about three significant digits, in the
// unit that keeps it readable: decide times are microseconds, loaded
// commands milliseconds.
func formatMs(v float64) string {
	switch {
	case v < 0.001:
		return fmt.Sprintf("%.0fns", v*1e6)
	case v < 0.01:
		return fmt.Sprintf("%.2fus", v*1e3)
	case v < 0.1:
		return fmt.Sprintf("%.1fus", v*1e3)
	case v < 1:
		return fmt.Sprintf("%.0fus", v*1e3)
	case v < 10:
		return fmt.Sprintf("%.2fms", v)
	case v < 100:
		return fmt.Sprintf("%.1fms", v)
	}
	return fmt.Sprintf("%.0fms", v)
}

// writeJSON writes the report to path, making its directory.
func writeJSON(path string, r *report) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
