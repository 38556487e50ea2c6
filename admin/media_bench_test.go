package admin_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"fluvius.dev/fluvius/admin"
	"fluvius.dev/fluvius/blob"
	"fluvius.dev/fluvius/blob/blobtest"
	"fluvius.dev/fluvius/blob/miniotest"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/media"
	"fluvius.dev/fluvius/store"
)

// BenchmarkMediaTransfer uploads and downloads a file through the host's
// HTTP API (POST /_media, GET /_media/{id}) on each blob backend, streamed
// from a generator on the client side, and reports the throughput and the
// process's peak heap growth during each transfer. Two sizes show the peak
// does not follow the file's size.
//
//	go test ./admin -run '^$' -bench BenchmarkMediaTransfer -benchtime 1x
func BenchmarkMediaTransfer(b *testing.B) {
	for _, backend := range []string{"local", "s3"} {
		for _, size := range []int64{25 << 20, 100 << 20} {
			b.Run(fmt.Sprintf("%s/%dMiB", backend, size>>20), func(b *testing.B) {
				var blobs blob.Store
				var err error
				if backend == "s3" {
					blobs, err = blob.NewS3(context.Background(), miniotest.Config(b))
				} else {
					blobs, err = blob.NewLocal(b.TempDir())
				}
				if err != nil {
					b.Fatal(err)
				}
				s := startServerOn(b, b.TempDir(), nil, func(h *host.Host, st store.Driver, o *admin.Options) {
					svc, err := media.New(h, media.Config{Blobs: blobs, MaxBytes: 1 << 30})
					if err != nil {
						b.Fatal(err)
					}
					o.Media = svc
				})
				var upTime, downTime time.Duration
				var upPeak, downPeak uint64
				for i := range b.N {
					body := io.MultiReader(strings.NewReader("%PDF-1.7\n"), blobtest.Generate(uint64(i), size-9))
					var id string
					upPeak = max(upPeak, blobtest.PeakHeap(func() {
						start := time.Now()
						req, _ := http.NewRequest("POST", s.url+"/_media?name=big.pdf", body)
						req.ContentLength = size
						res, err := http.DefaultClient.Do(req)
						if err != nil {
							b.Fatal(err)
						}
						var m map[string]any
						json.NewDecoder(res.Body).Decode(&m)
						res.Body.Close()
						if res.StatusCode != 201 {
							b.Fatalf("upload: %d %v", res.StatusCode, m)
						}
						id = m["id"].(string)
						upTime += time.Since(start)
					}))
					downPeak = max(downPeak, blobtest.PeakHeap(func() {
						start := time.Now()
						res, err := http.Get(s.url + "/_media/" + id)
						if err != nil {
							b.Fatal(err)
						}
						h := sha256.New()
						n, err := io.Copy(h, res.Body)
						res.Body.Close()
						if err != nil || n != size || `"`+hex.EncodeToString(h.Sum(nil))+`"` != res.Header.Get("ETag") {
							b.Fatalf("download: %d bytes, %v, etag %s", n, err, res.Header.Get("ETag"))
						}
						downTime += time.Since(start)
					}))
				}
				mb := float64(size) / (1 << 20) * float64(b.N)
				b.ReportMetric(mb/upTime.Seconds(), "upload-MiB/s")
				b.ReportMetric(mb/downTime.Seconds(), "download-MiB/s")
				b.ReportMetric(float64(upPeak)/(1<<20), "upload-peak-heap-MiB")
				b.ReportMetric(float64(downPeak)/(1<<20), "download-peak-heap-MiB")
			})
		}
	}
}
