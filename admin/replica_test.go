package admin_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/store/postgres"
	"fluvius.dev/fluvius/store/postgres/pgtest"
)

// A host with a real streaming replica (pg_basebackup of a throwaway
// primary) serves clients' state reads and lists from it; a read asking for
// min_version gets at least that version, from the replica once it has
// caught up or else from the primary. Replay is paused on the replica to
// make it fall behind on purpose.
func TestReadReplica(t *testing.T) {
	ctx := context.Background()
	primary, replica := pgtest.Replicated(t)
	if _, err := postgres.Open(ctx, primary.URL(), postgres.Options{Replica: true}); err == nil {
		t.Fatal("a primary was taken as a read replica")
	}
	rd, err := postgres.Open(ctx, replica.URL(), postgres.Options{Replica: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })
	s := startServerOn(t, primary.URL(), func(c *host.Config) { c.Replica = rd; c.ReplicaWait = 300 * time.Millisecond }, nil)

	created := s.do(t, "POST", "/user:create-user/user/:new", `{"email":"ann@example.com","name":"Ann"}`).want(t, 201)
	id := created.body["id"].(string)
	// Read-your-writes straight after the write: version 1 whatever the
	// replica has replayed by now.
	if got := s.do(t, "GET", "/user.user/"+id+"?min_version=1", "").want(t, 200); got.body["version"] != float64(1) {
		t.Fatalf("min_version=1 read: %s", got.raw)
	}
	start := time.Now()
	for s.do(t, "GET", "/user.user/"+id, "").status != 200 {
		if time.Since(start) > 30*time.Second {
			t.Fatal("the replica never showed the user")
		}
		time.Sleep(10 * time.Millisecond)
	}

	conn, err := pgx.Connect(ctx, replica.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}
	s.do(t, "POST", "/user:update-user/user/"+id, `{"name":"Ann B"}`).want(t, 200)

	// The replica is behind: a plain read and a list answer what it has.
	if got := s.do(t, "GET", "/user.user/"+id, "").want(t, 200); got.body["version"] != float64(1) {
		t.Fatalf("a plain read did not come from the paused replica: %s", got.raw)
	}
	list := s.do(t, "GET", "/user.user/", "").want(t, 200)
	if rows := list.body["data"].([]any); len(rows) != 1 || rows[0].(map[string]any)["data"].(map[string]any)["name"] != "Ann" {
		t.Fatalf("the list did not come from the paused replica: %s", list.raw)
	}
	// Asking for the version just written waits, then reads the primary.
	began := time.Now()
	got := s.do(t, "GET", "/user.user/"+id+"?min_version=2", "").want(t, 200)
	if got.body["version"] != float64(2) || got.body["data"].(map[string]any)["name"] != "Ann B" {
		t.Fatalf("min_version=2 read: %s", got.raw)
	}
	if waited := time.Since(began); waited < 300*time.Millisecond {
		t.Fatalf("answered in %v: the replica cannot have had version 2", waited)
	}
	s.do(t, "GET", "/user.user/"+id+"?min_version=x", "").problem(t, 400, "invalid-query")

	// Replay resumes: the replica catches up, and a min_version read is
	// answered by it without waiting for the bound.
	if _, err := conn.Exec(ctx, "SELECT pg_wal_replay_resume()"); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	for s.do(t, "GET", "/user.user/"+id, "").body["version"] != float64(2) {
		if time.Since(start) > 30*time.Second {
			t.Fatal("the replica never caught up")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
