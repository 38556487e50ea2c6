package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"fluvius.dev/fluvius/store/sqlite"
	"fluvius.dev/fluvius/store/storetest"
)

// BenchmarkQueries: lists over 100,000 records (see storetest.BenchQueries).
func BenchmarkQueries(b *testing.B) {
	d, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "fluvius.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	storetest.BenchQueries(b, d)
}
