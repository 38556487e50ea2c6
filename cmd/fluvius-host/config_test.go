package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// One precedence: flags, then the environment, then the config file, then
// .env, then the defaults; --print-config says which won, secrets masked.
func TestServePrintConfig(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "fluvius.conf")
	os.WriteFile(conf, []byte("# a host's settings\nlisten = 127.0.0.1:9999\nrate-limit = 7\ndata-dir = from-config\nlog-format = text\n"), 0o644)
	dotenv := filepath.Join(dir, ".env")
	os.WriteFile(dotenv, []byte("FLUVIUS_LOG_LEVEL=debug\nFLUVIUS_RATE_LIMIT=3\nexport FLUVIUS_JWT_SECRET=\"a-secret-of-at-least-thirty-two-bytes!!\"\n"+
		"FLUVIUS_DATABASE_URL=postgres://app:hunter2@db.example/fluvius\n"+
		"FLUVIUS_S3_ENDPOINT=http://s3.example:9000\nFLUVIUS_S3_SECRET_KEY=s3-hunter2\nFLUVIUS_MEDIA_SECRET=media-hunter2\n"), 0o644)
	t.Setenv("FLUVIUS_ENV_FILE", dotenv)
	t.Setenv("FLUVIUS_DATA_DIR", "from-env")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"serve", "--print-config", "--config", conf, "--log-format", "json"}, &out, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"listen = 127.0.0.1:9999\t# config file",
		"rate-limit = 7\t# config file",               // the config file over .env
		"data-dir = from-env\t# env FLUVIUS_DATA_DIR", // the environment over the config file
		"log-format = json\t# flag",                   // a flag over the config file
		"log-level = debug\t# .env",
		"jwt-secret = ********\t# .env",
		"database-url = postgres://app:xxxxx@db.example/fluvius\t# .env",
		"handlers = true\t# default",
		"s3-endpoint = http://s3.example:9000\t# .env",
		"s3-secret-key = ********\t# .env",
		"media-secret = ********\t# .env",
	} {
		if !strings.Contains(got, want) {
			t.Fatalf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "hunter2") || strings.Contains(got, "thirty-two") { // hunter2 in every password
		t.Fatalf("a secret was printed:\n%s", got)
	}
	// A typo in the config file is an error, not ignored.
	os.WriteFile(conf, []byte("lisen = 127.0.0.1:1\n"), 0o644)
	if err := run(context.Background(), []string{"serve", "--print-config", "--config", conf}, &out, &out); err == nil || !strings.Contains(err.Error(), `"lisen"`) {
		t.Fatalf("a misspelt setting: %v", err)
	}
}
