package blob_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"fluvius.dev/fluvius/blob"
	"fluvius.dev/fluvius/blob/blobtest"
	"fluvius.dev/fluvius/blob/miniotest"
)

func newS3(t *testing.T, cfg blob.S3Config) *blob.S3 {
	t.Helper()
	s, err := blob.NewS3(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestS3Conformance(t *testing.T) {
	blobtest.Exercise(t, func(t *testing.T) blob.Store { return newS3(t, miniotest.Config(t)) })
}

// incomplete lists the bucket's unfinished multipart uploads of key, asked
// of the server itself.
func incomplete(t *testing.T, bucket, object string) []minio.ObjectMultipartInfo {
	t.Helper()
	var ups []minio.ObjectMultipartInfo
	for u := range miniotest.Client(t).ListIncompleteUploads(context.Background(), bucket, object, true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		ups = append(ups, u)
	}
	return ups
}

// TestS3FailedPutAbortsUpload: a Put failing in the middle of a multipart
// upload (its reader failing, its context cancelled) aborts the upload, as
// the server itself reports.
func TestS3FailedPutAbortsUpload(t *testing.T) {
	cfg := miniotest.Config(t)
	cfg.PartSize = 5 << 20
	s := newS3(t, cfg)
	ctx := t.Context()
	r := io.MultiReader(blobtest.Generate(1, 12<<20), failing{})
	if _, err := s.Put(ctx, "media/big", r); err == nil {
		t.Fatal("a failing reader was stored")
	}
	cctx, cancel := context.WithCancel(ctx)
	r = io.MultiReader(blobtest.Generate(1, 12<<20), cancelling{cancel})
	if _, err := s.Put(cctx, "media/big", r); !errors.Is(err, context.Canceled) {
		t.Fatalf("put cancelled half way: %v", err)
	}
	if ups := incomplete(t, cfg.Bucket, "media/big"); len(ups) != 0 {
		t.Errorf("uploads left: %+v", ups)
	}
	if _, err := s.Stat(ctx, "media/big"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("stat after failed puts: %v", err)
	}
	// The check itself sees an unfinished upload when there is one.
	id, err := minio.Core{Client: miniotest.Client(t)}.NewMultipartUpload(ctx, cfg.Bucket, "media/big", minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ups := incomplete(t, cfg.Bucket, "media/big"); len(ups) != 1 || ups[0].UploadID != id {
		t.Errorf("an upload begun here is not listed: %+v", ups)
	}
}

type cancelling struct{ cancel context.CancelFunc }

func (c cancelling) Read(p []byte) (int, error) {
	c.cancel()
	return copy(p, "more"), nil
}

// TestS3SmallPartSize runs the multipart path with 5 MiB parts: many parts,
// a last part of exactly one part, and one byte past.
func TestS3SmallPartSize(t *testing.T) {
	cfg := miniotest.Config(t)
	cfg.PartSize = 5 << 20
	s := newS3(t, cfg)
	for _, size := range []int64{5 << 20, 10 << 20, 10<<20 + 1, 23<<20 + 7} {
		n, err := s.Put(t.Context(), "p", blobtest.Generate(uint64(size), size))
		if err != nil || n != size {
			t.Fatalf("put %d: %d %v", size, n, err)
		}
		rc, err := s.Get(t.Context(), "p")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		want, _ := io.ReadAll(blobtest.Generate(uint64(size), size))
		if string(got) != string(want) {
			t.Errorf("size %d: read back %d bytes, not the ones put", size, len(got))
		}
	}
}

// TestS3Prefix: stores with different prefixes share a bucket without
// seeing each other's blobs, which live under their prefix.
func TestS3Prefix(t *testing.T) {
	cfg := miniotest.Config(t)
	a, b := cfg, cfg
	a.Prefix, b.Prefix = "tenants/a/", "tenants/b"
	sa, sb := newS3(t, a), newS3(t, b)
	ctx := t.Context()
	if _, err := sa.Put(ctx, "doc", strings.NewReader("of a")); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Stat(ctx, "doc"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("b sees a's blob: %v", err)
	}
	if _, err := miniotest.Client(t).StatObject(ctx, cfg.Bucket, "tenants/a/doc", minio.StatObjectOptions{}); err != nil {
		t.Errorf("a's blob is not under its prefix: %v", err)
	}
	bad := cfg
	bad.Prefix = "Upper/../x"
	if _, err := blob.NewS3(ctx, bad); !errors.Is(err, blob.ErrKey) {
		t.Errorf("a bad prefix: %v", err)
	}
}

func TestS3Bucket(t *testing.T) {
	cfg := miniotest.Config(t)
	cfg.Bucket += "-new"
	if _, err := blob.NewS3(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("a missing bucket: %v", err)
	}
	cfg.CreateBucket = true
	newS3(t, cfg)
	t.Cleanup(func() { miniotest.RemoveBucket(context.Background(), miniotest.Client(t), cfg.Bucket) })
	newS3(t, cfg) // there already: fine
	wrong := miniotest.Config(t)
	wrong.SecretKey = "wrong"
	if _, err := blob.NewS3(t.Context(), wrong); err == nil {
		t.Error("wrong credentials accepted")
	}
}

func TestS3PresignGet(t *testing.T) {
	s := newS3(t, miniotest.Config(t))
	ctx := t.Context()
	if _, err := s.Put(ctx, "media/1/report", strings.NewReader("%PDF-1.7 ...")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, typ, disposition string }{
		{"report.pdf", "application/pdf", `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`},
		{`Über "Q3"/report.pdf`, "application/pdf", `attachment; filename="_ber _Q3__report.pdf"; filename*=UTF-8''%C3%9Cber%20%22Q3%22_report.pdf`},
		{"", "", ""},
	} {
		u, err := s.PresignGet(ctx, "media/1/report", time.Minute, c.name, c.typ)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(u.String())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "%PDF-1.7 ..." {
			t.Errorf("%q: %s %q", c.name, resp.Status, body)
		}
		if got := resp.Header.Get("Content-Disposition"); got != c.disposition {
			t.Errorf("%q: Content-Disposition %q, want %q", c.name, got, c.disposition)
		}
		if c.typ != "" && resp.Header.Get("Content-Type") != c.typ {
			t.Errorf("%q: Content-Type %q", c.name, resp.Header.Get("Content-Type"))
		}
	}
	u, err := s.PresignGet(ctx, "media/1/report", time.Second, "r.pdf", "application/pdf")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if resp, err := http.Get(u.String()); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("an expired link: %v %v", resp.Status, err)
	} else {
		resp.Body.Close()
	}
	if _, err := s.PresignGet(ctx, "../x", time.Minute, "", ""); !errors.Is(err, blob.ErrKey) {
		t.Errorf("a bad key: %v", err)
	}
	if _, err := s.PresignGet(ctx, "x", time.Minute, "", "not a type;;"); err == nil {
		t.Error("a bad content type was signed")
	}
}

func TestS3ConfigFromEnv(t *testing.T) {
	for _, name := range []string{blob.EnvS3Endpoint, blob.EnvS3Bucket, blob.EnvS3AccessKey, blob.EnvS3SecretKey, blob.EnvS3Region, blob.EnvS3PathStyle, blob.EnvS3Secure, blob.EnvS3Prefix} {
		t.Setenv(name, "")
	}
	if _, ok, err := blob.S3ConfigFromEnv(); ok || err != nil {
		t.Fatalf("no endpoint: ok %v, %v", ok, err)
	}
	t.Setenv(blob.EnvS3Endpoint, "https://s3.example.com")
	t.Setenv(blob.EnvS3Bucket, "media")
	t.Setenv(blob.EnvS3AccessKey, "ak")
	t.Setenv(blob.EnvS3SecretKey, "sk")
	t.Setenv(blob.EnvS3Region, "eu-west-3")
	t.Setenv(blob.EnvS3PathStyle, "true")
	t.Setenv(blob.EnvS3Secure, "false")
	t.Setenv(blob.EnvS3Prefix, "fluvius/prod")
	cfg, ok, err := blob.S3ConfigFromEnv()
	want := blob.S3Config{Endpoint: "https://s3.example.com", Bucket: "media", AccessKey: "ak", SecretKey: "sk", Region: "eu-west-3", PathStyle: true, Prefix: "fluvius/prod"}
	if !ok || err != nil || cfg != want {
		t.Errorf("got %+v %v %v", cfg, ok, err)
	}
	t.Setenv(blob.EnvS3Secure, "yes please")
	if _, _, err := blob.S3ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), blob.EnvS3Secure) {
		t.Errorf("a bad boolean: %v", err)
	}
}

func TestS3ConfigChecked(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []blob.S3Config{
		{Bucket: "b"},
		{Endpoint: "127.0.0.1:9000"},
		{Endpoint: "http://127.0.0.1:9000/path", Bucket: "b"},
		{Endpoint: "ftp://127.0.0.1:9000", Bucket: "b"},
		{Endpoint: "127.0.0.1:9000/x", Bucket: "b"},
		{Endpoint: "http://127.0.0.1:9000", Bucket: "b", Secure: true},
		{Endpoint: "127.0.0.1:9000", Bucket: "b", PartSize: 1 << 20},
	} {
		if _, err := blob.NewS3(ctx, cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}
