package blob

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// S3Config says where an S3 store keeps its blobs.
type S3Config struct {
	// Endpoint is the server: host:port, or a URL whose scheme (http or
	// https) says whether to use TLS. For AWS: s3.REGION.amazonaws.com.
	Endpoint string
	// Bucket holds the blobs; it must exist unless CreateBucket is set.
	Bucket string
	// AccessKey and SecretKey sign requests; both empty: anonymous.
	AccessKey, SecretKey string
	// Region is the bucket's region; default us-east-1 (what MinIO uses).
	Region string
	// PathStyle addresses the bucket in the path (http://host/bucket/key),
	// as MinIO and most self-hosted servers need. Without it, minio-go
	// chooses: virtual-hosted style for AWS and Google, path style
	// elsewhere.
	PathStyle bool
	// Secure speaks TLS (https).
	Secure bool
	// Prefix is put before every key inside the bucket, so that several
	// hosts or uses can share one bucket ("fluvius/prod"). It follows the
	// rules of keys.
	Prefix string
	// CreateBucket creates the bucket when it does not exist.
	CreateBucket bool
	// PartSize is the size of the parts of a multipart upload, and so the
	// memory each Put in flight holds (one part). Default 16 MiB; S3
	// accepts 5 MiB to 5 GiB, and at most 10,000 parts per object (so
	// 160 GiB objects with the default).
	PartSize int64
}

// Environment variables of S3ConfigFromEnv.
const (
	EnvS3Endpoint  = "FLUVIUS_S3_ENDPOINT"
	EnvS3Bucket    = "FLUVIUS_S3_BUCKET"
	EnvS3AccessKey = "FLUVIUS_S3_ACCESS_KEY"
	EnvS3SecretKey = "FLUVIUS_S3_SECRET_KEY"
	EnvS3Region    = "FLUVIUS_S3_REGION"
	EnvS3PathStyle = "FLUVIUS_S3_PATH_STYLE"
	EnvS3Secure    = "FLUVIUS_S3_SECURE"
	EnvS3Prefix    = "FLUVIUS_S3_PREFIX"
)

// S3ConfigFromEnv reads an S3Config from the FLUVIUS_S3_* variables
// (EnvS3Endpoint and the others). ok is false when FLUVIUS_S3_ENDPOINT is
// unset or empty: no S3 store is configured. Booleans are true or false
// (as strconv.ParseBool reads them); anything else is an error.
func S3ConfigFromEnv() (cfg S3Config, ok bool, err error) {
	cfg.Endpoint = os.Getenv(EnvS3Endpoint)
	if cfg.Endpoint == "" {
		return S3Config{}, false, nil
	}
	cfg.Bucket = os.Getenv(EnvS3Bucket)
	cfg.AccessKey = os.Getenv(EnvS3AccessKey)
	cfg.SecretKey = os.Getenv(EnvS3SecretKey)
	cfg.Region = os.Getenv(EnvS3Region)
	cfg.Prefix = os.Getenv(EnvS3Prefix)
	for _, b := range []struct {
		name string
		to   *bool
	}{{EnvS3PathStyle, &cfg.PathStyle}, {EnvS3Secure, &cfg.Secure}} {
		v := os.Getenv(b.name)
		if v == "" {
			continue
		}
		if *b.to, err = strconv.ParseBool(v); err != nil {
			return S3Config{}, true, fmt.Errorf("blob: %s=%q: want true or false", b.name, v)
		}
	}
	return cfg, true, nil
}

const (
	defaultRegion   = "us-east-1"
	defaultPartSize = 16 << 20
	minPartSize     = 5 << 20
	maxPartSize     = 5 << 30
	maxParts        = 10000
)

// s3Target is an S3Config checked and with its defaults.
type s3Target struct {
	host     string // host:port
	secure   bool
	region   string
	prefix   string // "" or ending in "/"
	partSize int64
}

func (c S3Config) check() (s3Target, error) {
	t := s3Target{host: c.Endpoint, secure: c.Secure, region: c.Region, partSize: c.PartSize}
	if c.Endpoint == "" {
		return t, fmt.Errorf("blob: S3: no endpoint")
	}
	if c.Bucket == "" {
		return t, fmt.Errorf("blob: S3: no bucket")
	}
	if strings.Contains(c.Endpoint, "://") {
		u, err := url.Parse(c.Endpoint)
		if err != nil {
			return t, fmt.Errorf("blob: S3 endpoint %q: %w", c.Endpoint, err)
		}
		if u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
			return t, fmt.Errorf("blob: S3 endpoint %q: want host:port or scheme://host:port, no path", c.Endpoint)
		}
		switch u.Scheme {
		case "https":
			t.secure = true
		case "http":
			if c.Secure {
				return t, fmt.Errorf("blob: S3 endpoint %q is http but Secure (TLS) is set", c.Endpoint)
			}
		default:
			return t, fmt.Errorf("blob: S3 endpoint %q: scheme http or https", c.Endpoint)
		}
		t.host = u.Host
	} else if strings.ContainsAny(c.Endpoint, "/?#@") {
		return t, fmt.Errorf("blob: S3 endpoint %q: want host:port or scheme://host:port, no path", c.Endpoint)
	}
	if t.region == "" {
		t.region = defaultRegion
	}
	if p := strings.Trim(c.Prefix, "/"); p != "" {
		if err := CheckKey(p); err != nil {
			return t, fmt.Errorf("blob: S3 prefix: %w", err)
		}
		t.prefix = p + "/"
	}
	switch {
	case t.partSize == 0:
		t.partSize = defaultPartSize
	case t.partSize < minPartSize || t.partSize > maxPartSize:
		return t, fmt.Errorf("blob: S3 part size %d: S3 takes 5 MiB to 5 GiB", t.partSize)
	}
	return t, nil
}
