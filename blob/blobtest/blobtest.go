// Package blobtest is the conformance suite of blob.Store: every
// implementation's tests call Exercise, so Local and S3 keep one contract.
// It also has what tests of large blobs need: a generated stream (Generate)
// and a measure of the heap a piece of code needs (PeakHeap).
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"fluvius.dev/fluvius/blob"
)

const mib = 1 << 20

// multipart is a size past the part size of S3 (16 MiB by default), so
// that failures happen in the middle of a multipart upload. The suite
// assumes a store's parts are no larger.
const multipart = 24 * mib

// Exercise runs the suite. open returns a new, empty store for the test it
// is given (each subtest opens its own). Subtests that stream tens of MiB
// are skipped under -short.
//
// Stores that implement blob.Sweeper are also checked to leave no
// leftovers after failed Puts, and to sweep an unfinished one.
func Exercise(t *testing.T, open func(t *testing.T) blob.Store) {
	// The sequential subtests run first and alone: they measure the heap.
	t.Run("LargeStreamed", func(t *testing.T) { testLarge(t, open(t)) })
	t.Run("PutMemoryBounded", func(t *testing.T) { testPutMemory(t, open(t)) })
	for _, c := range []struct {
		name string
		run  func(*testing.T, blob.Store)
	}{
		{"PutGetStatDelete", testPutGetStatDelete},
		{"Empty", testEmpty},
		{"Replace", testReplace},
		{"NotFound", testNotFound},
		{"BadKeys", testBadKeys},
		{"Ranges", testRanges},
		{"FailedPutLeavesNothing", testFailedPut},
		{"FailedReplaceKeepsOld", testFailedReplace},
		{"CancelledContext", testCancelled},
		{"ConcurrentPutsSameKey", testConcurrentPuts},
		{"SweepUnfinished", testSweep},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, open(t))
		})
	}
}

func put(t *testing.T, s blob.Store, key string, r io.Reader) int64 {
	t.Helper()
	n, err := s.Put(t.Context(), key, r)
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return n
}

func read(t *testing.T, rc io.ReadCloser, err error) []byte {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func get(t *testing.T, s blob.Store, key string) []byte {
	t.Helper()
	rc, err := s.Get(t.Context(), key)
	return read(t, rc, err)
}

func wantNotFound(t *testing.T, s blob.Store, key string) {
	t.Helper()
	ctx := t.Context()
	if rc, err := s.Get(ctx, key); !errors.Is(err, blob.ErrNotFound) {
		if err == nil {
			rc.Close()
		}
		t.Errorf("get %s: %v, want ErrNotFound", key, err)
	}
	if info, err := s.Stat(ctx, key); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("stat %s: %+v %v, want ErrNotFound", key, info, err)
	}
	for _, r := range [][2]int64{{0, -1}, {1, 2}, {0, 0}} {
		if rc, err := s.GetRange(ctx, key, r[0], r[1]); !errors.Is(err, blob.ErrNotFound) {
			if err == nil {
				rc.Close()
			}
			t.Errorf("range %v of %s: %v, want ErrNotFound", r, key, err)
		}
	}
}

// noLeftovers checks that a store that can list them has no parts of
// unfinished Puts.
func noLeftovers(t *testing.T, s blob.Store) {
	t.Helper()
	sw, ok := s.(blob.Sweeper)
	if !ok {
		return
	}
	left, err := sw.Leftovers(t.Context(), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("left behind: %+v", left)
	}
}

func testPutGetStatDelete(t *testing.T, s blob.Store) {
	ctx := t.Context()
	before := time.Now().Add(-time.Minute) // servers' clocks round
	if n := put(t, s, "media/a/photo.jpg", strings.NewReader("jpeg bytes")); n != 10 {
		t.Errorf("put returned size %d, want 10", n)
	}
	if got := get(t, s, "media/a/photo.jpg"); string(got) != "jpeg bytes" {
		t.Errorf("get: %q", got)
	}
	info, err := s.Stat(ctx, "media/a/photo.jpg")
	if err != nil || info.Size != 10 {
		t.Errorf("stat: %+v %v", info, err)
	}
	if info.ModTime.Before(before) || info.ModTime.After(time.Now().Add(time.Minute)) {
		t.Errorf("stat: modified %v, not about now", info.ModTime)
	}
	// A key's parent is no blob, on files or objects.
	wantNotFound(t, s, "media/a")
	if err := s.Delete(ctx, "media/a/photo.jpg"); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, s, "media/a/photo.jpg")
	if err := s.Delete(ctx, "media/a/photo.jpg"); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
	if err := s.Delete(ctx, "never/there"); err != nil {
		t.Errorf("deleting what never was: %v", err)
	}
}

func testEmpty(t *testing.T, s blob.Store) {
	if n := put(t, s, "empty", strings.NewReader("")); n != 0 {
		t.Errorf("size %d", n)
	}
	if got := get(t, s, "empty"); len(got) != 0 {
		t.Errorf("get: %q", got)
	}
	if info, err := s.Stat(t.Context(), "empty"); err != nil || info.Size != 0 {
		t.Errorf("stat: %+v %v", info, err)
	}
	for _, r := range [][2]int64{{0, -1}, {0, 10}, {5, -1}} {
		rc, err := s.GetRange(t.Context(), "empty", r[0], r[1])
		if got := read(t, rc, err); len(got) != 0 {
			t.Errorf("range %v: %q", r, got)
		}
	}
}

func testReplace(t *testing.T, s blob.Store) {
	put(t, s, "doc", strings.NewReader("first version"))
	put(t, s, "doc", strings.NewReader("v2"))
	if got := get(t, s, "doc"); string(got) != "v2" {
		t.Errorf("get: %q", got)
	}
	if info, err := s.Stat(t.Context(), "doc"); err != nil || info.Size != 2 {
		t.Errorf("stat: %+v %v", info, err)
	}
}

func testNotFound(t *testing.T, s blob.Store) {
	wantNotFound(t, s, "sha256/00/none")
	put(t, s, "a/b", strings.NewReader("x"))
	wantNotFound(t, s, "a/c")
	wantNotFound(t, s, "a/b/c")
}

func testBadKeys(t *testing.T, s blob.Store) {
	ctx := t.Context()
	for _, key := range []string{"", "../x", "a//b", "/abs", "a/", "a/./b", "A", "a\\b", "a/../../etc", "a b", "é", strings.Repeat("a", 513)} {
		if _, err := s.Put(ctx, key, strings.NewReader("x")); !errors.Is(err, blob.ErrKey) {
			t.Errorf("put %q: %v, want ErrKey", key, err)
		}
		if _, err := s.Get(ctx, key); !errors.Is(err, blob.ErrKey) {
			t.Errorf("get %q: %v, want ErrKey", key, err)
		}
		if _, err := s.GetRange(ctx, key, 0, 1); !errors.Is(err, blob.ErrKey) {
			t.Errorf("range of %q: %v, want ErrKey", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, blob.ErrKey) {
			t.Errorf("stat %q: %v, want ErrKey", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, blob.ErrKey) {
			t.Errorf("delete %q: %v, want ErrKey", key, err)
		}
	}
}

func testRanges(t *testing.T, s blob.Store) {
	data := GenerateAt(1, 0, 1000)
	put(t, s, "r", bytes.NewReader(data))
	for _, c := range []struct {
		name           string
		offset, length int64
		want           []byte
	}{
		{"start", 0, 10, data[:10]},
		{"middle", 500, 100, data[500:600]},
		{"end", 990, 10, data[990:]},
		{"to the end", 990, -1, data[990:]},
		{"all", 0, -1, data},
		{"one byte", 999, 1, data[999:]},
		{"past the end", 995, 100, data[995:]},
		{"no bytes", 10, 0, nil},
		{"at the end", 1000, 10, nil},
		{"at the end to the end", 1000, -1, nil},
		{"beyond the end", 2000, -1, nil},
		{"beyond the end, bounded", 2000, 10, nil},
		{"huge length", 10, 1<<63 - 1, data[10:]},
	} {
		rc, err := s.GetRange(t.Context(), "r", c.offset, c.length)
		if got := read(t, rc, err); !bytes.Equal(got, c.want) {
			t.Errorf("%s (%d, %d): %d bytes, want %d", c.name, c.offset, c.length, len(got), len(c.want))
		}
	}
	for _, r := range [][2]int64{{-1, 10}, {0, -2}} {
		if _, err := s.GetRange(t.Context(), "r", r[0], r[1]); !errors.Is(err, blob.ErrRange) {
			t.Errorf("range %v: %v, want ErrRange", r, err)
		}
	}
}

// failAfter yields n generated bytes, then fails as a request body cut
// short does (io.ErrUnexpectedEOF, which must not be taken for the end).
func failAfter(n int64) io.Reader {
	return io.MultiReader(Generate(2, n), errReader{io.ErrUnexpectedEOF})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func testFailedPut(t *testing.T, s blob.Store) {
	sizes := []int64{0, 100}
	if !testing.Short() {
		sizes = append(sizes, multipart)
	}
	for _, n := range sizes {
		if _, err := s.Put(t.Context(), "media/x", failAfter(n)); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("a reader failing after %d bytes: put answered %v", n, err)
		}
		wantNotFound(t, s, "media/x")
		noLeftovers(t, s)
	}
}

func testFailedReplace(t *testing.T, s blob.Store) {
	put(t, s, "doc", strings.NewReader("the old one"))
	n := int64(100)
	if !testing.Short() {
		n = multipart
	}
	if _, err := s.Put(t.Context(), "doc", failAfter(n)); err == nil {
		t.Fatal("a failing reader was stored")
	}
	if got := get(t, s, "doc"); string(got) != "the old one" {
		t.Errorf("after a failed replace: %d bytes", len(got))
	}
	noLeftovers(t, s)
}

// cancelAfter yields data without end, cancelling its context once n
// bytes have been read.
type cancelAfter struct {
	r      io.Reader
	n      int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	if c.n -= int64(k); c.n <= 0 {
		c.cancel()
	}
	return k, err
}

func testCancelled(t *testing.T, s blob.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Put(ctx, "c", strings.NewReader("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("put with a cancelled context: %v", err)
	}
	wantNotFound(t, s, "c")
	sizes := []int64{100}
	if !testing.Short() {
		sizes = append(sizes, multipart)
	}
	for _, n := range sizes {
		ctx, cancel := context.WithCancel(t.Context())
		// Bounded, so that a store deaf to its context fails rather than
		// reading for ever.
		r := &cancelAfter{r: Generate(3, n+64*mib), n: n, cancel: cancel}
		if _, err := s.Put(ctx, "c", r); !errors.Is(err, context.Canceled) {
			t.Errorf("put cancelled after %d bytes: %v", n, err)
		}
		wantNotFound(t, s, "c")
		noLeftovers(t, s)
	}
}

// testConcurrentPuts puts versions of one key at once while readers read
// it: every read is one version whole, and so is what is left.
func testConcurrentPuts(t *testing.T, s blob.Store) {
	sizes := []int64{100 << 10, 300 << 10, 1 * mib, 2 * mib}
	if !testing.Short() {
		sizes = append(sizes, multipart-7*mib, multipart)
	}
	// Writer i writes sizes[i] bytes of the byte 'a'+i.
	check := func(rc io.ReadCloser) error {
		defer rc.Close()
		buf := make([]byte, 64<<10)
		var first byte
		var n int64
		for {
			k, err := rc.Read(buf)
			for _, c := range buf[:k] {
				if n == 0 {
					first = c
				}
				if c != first {
					return errors.New("bytes of two versions in one read")
				}
				n++
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
		if i := int(first - 'a'); n == 0 || i < 0 || i >= len(sizes) || sizes[i] != n {
			return errors.New("a version cut short")
		}
		return nil
	}
	ctx := t.Context()
	var writers, readers sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 64)
	for i, n := range sizes {
		writers.Go(func() {
			r := io.LimitReader(repeat(byte('a'+i)), n)
			if _, err := s.Put(ctx, "same", r); err != nil {
				errs <- err
			}
		})
	}
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				rc, err := s.Get(ctx, "same")
				if errors.Is(err, blob.ErrNotFound) {
					time.Sleep(time.Millisecond) // before the first put lands
					continue
				}
				if err == nil {
					err = check(rc)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	writers.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	rc, err := s.Get(ctx, "same")
	if err != nil {
		t.Fatal(err)
	}
	if err := check(rc); err != nil {
		t.Errorf("after the puts: %v", err)
	}
	noLeftovers(t, s)
}

type repeat byte

func (b repeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// blockAfter yields n bytes, says so on reached, then waits for release
// before ending.
type blockAfter struct {
	r                 io.Reader
	reached, released chan struct{}
}

func (b *blockAfter) Read(p []byte) (int, error) {
	k, err := b.r.Read(p)
	if err == io.EOF {
		close(b.reached)
		<-b.released
	}
	return k, err
}

// testSweep stands in for a crash: a Put stops half way while Sweep runs,
// which must find and remove its parts (a Put that is merely slow loses
// them, which is why callers sweep only what is hours old).
func testSweep(t *testing.T, s blob.Store) {
	sw, ok := s.(blob.Sweeper)
	if !ok {
		t.Skip("not a blob.Sweeper")
	}
	if testing.Short() {
		t.Skip("streams tens of MiB")
	}
	ctx := t.Context()
	put(t, s, "kept", strings.NewReader("a finished blob is no leftover"))
	r := &blockAfter{r: Generate(4, multipart), reached: make(chan struct{}), released: make(chan struct{})}
	failed := make(chan error, 1)
	go func() {
		_, err := s.Put(ctx, "media/unfinished", r)
		failed <- err
	}()
	select {
	case <-r.reached:
	case err := <-failed:
		t.Fatalf("put ended before its reader did: %v", err)
	}
	if left, err := sw.Leftovers(ctx, time.Now().Add(-time.Hour)); err != nil || len(left) != 0 {
		t.Errorf("leftovers begun an hour ago: %+v %v", left, err)
	}
	left, err := sw.Leftovers(ctx, time.Now().Add(time.Hour))
	if err != nil || len(left) != 1 {
		close(r.released)
		t.Fatalf("leftovers of one unfinished put: %+v %v", left, err)
	}
	if n, err := sw.Sweep(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("swept %d: %v", n, err)
	}
	close(r.released)
	if err := <-failed; err == nil {
		t.Error("a put whose parts were swept succeeded")
	}
	wantNotFound(t, s, "media/unfinished")
	noLeftovers(t, s)
	if got := get(t, s, "kept"); len(got) == 0 {
		t.Error("a finished blob was swept")
	}
}

func testLarge(t *testing.T, s blob.Store) {
	if testing.Short() {
		t.Skip("streams 64 MiB")
	}
	const size, seed = 64 * mib, 5
	h := sha256.New()
	if n := put(t, s, "media/large.bin", io.TeeReader(Generate(seed, size), h)); n != size {
		t.Fatalf("put returned %d, want %d", n, size)
	}
	want := h.Sum(nil)
	rc, err := s.Get(t.Context(), "media/large.bin")
	if err != nil {
		t.Fatal(err)
	}
	h.Reset()
	n, err := io.Copy(h, rc)
	rc.Close()
	if err != nil || n != size || !bytes.Equal(h.Sum(nil), want) {
		t.Fatalf("read back %d bytes (%v), digest matches: %v", n, err, bytes.Equal(h.Sum(nil), want))
	}
	if info, err := s.Stat(t.Context(), "media/large.bin"); err != nil || info.Size != size {
		t.Errorf("stat: %+v %v", info, err)
	}
	// Ranges across the boundaries of 16 MiB parts.
	for _, r := range [][2]int64{{16*mib - 100, 200}, {32*mib - 1, 2}, {48 * mib, mib}, {size - 10, -1}} {
		n := r[1]
		if n < 0 {
			n = size - r[0]
		}
		rc, err := s.GetRange(t.Context(), "media/large.bin", r[0], r[1])
		if got := read(t, rc, err); !bytes.Equal(got, GenerateAt(seed, r[0], n)) {
			t.Errorf("range %v: %d bytes, not the ones put", r, len(got))
		}
	}
}

// testPutMemory: a Put's heap does not grow with the blob. The 64 MiB Put
// may use no more than the 16 MiB one plus 16 MiB (garbage the collector
// takes late: S3's client makes about 1 MiB of it per 10 MiB sent), and
// less than the blob.
func testPutMemory(t *testing.T, s blob.Store) {
	if testing.Short() {
		t.Skip("streams 80 MiB")
	}
	ctx := t.Context()
	measure := func(size int64) uint64 {
		var err error
		g := PeakHeap(func() { _, err = s.Put(ctx, "m", Generate(6, size)) })
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	measure(16 * mib) // warm: pools, connections
	g16 := measure(16 * mib)
	g64 := measure(64 * mib)
	t.Logf("heap growth at peak: %.1f MiB putting 16 MiB, %.1f MiB putting 64 MiB", float64(g16)/mib, float64(g64)/mib)
	if g64 > g16+16*mib || g64 >= 48*mib {
		t.Errorf("a 64 MiB put grew the heap by %.1f MiB (a 16 MiB one: %.1f MiB): it holds what it streams", float64(g64)/mib, float64(g16)/mib)
	}
}
