package host_test

import (
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/store"
)

// 64 writers at once, some of whose commands fail at commit time (version
// conflicts on a shared aggregate, no retries) or before it (domain errors):
// the failures do not take their batch-mates down, every acknowledged
// command is stored and nothing else is.
func TestGroupCommitIsolatesFailures(t *testing.T) { onDrivers(t, testGroupCommitIsolatesFailures) }

func testGroupCommitIsolatesFailures(t *testing.T, driver string) {
	e := newEnvOn(t, driver, func(c *host.Config) { c.MaxConflictRetries = -1 })
	shared := createUser(t, e.host, "shared@example.com")
	before := e.host.CommitStats()

	const writers = 64
	type outcome struct {
		kind string
		err  error
	}
	outcomes := make([]outcome, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var cmd host.Command
			switch i % 4 {
			case 0:
				outcomes[i].kind = "update-shared"
				cmd = host.Command{Domain: "user", Name: "update-user", Resource: "user", AggregateID: shared.ID,
					Payload: []byte(fmt.Sprintf(`{"name":"writer %d"}`, i))}
			case 1:
				outcomes[i].kind = "invalid"
				cmd = host.Command{Domain: "user", Name: "create-user", Resource: "user", New: true,
					Payload: []byte(`{"email":"broken","name":"x"}`)}
			default:
				outcomes[i].kind = "create"
				cmd = host.Command{Domain: "user", Name: "create-user", Resource: "user", New: true,
					Payload: []byte(fmt.Sprintf(`{"email":"w%d@example.com","name":"W"}`, i))}
			}
			_, outcomes[i].err = e.host.Dispatch(ctx, &cmd)
		}()
	}
	close(start)
	wg.Wait()

	updates, creates := 0, 0
	for i, o := range outcomes {
		switch o.kind {
		case "create":
			if o.err != nil {
				t.Errorf("writer %d: a valid create failed: %v", i, o.err)
			}
			creates++
		case "invalid":
			if he := host.AsError(o.err); he.Kind != host.KindDomain {
				t.Errorf("writer %d: %v", i, o.err)
			}
		case "update-shared":
			if o.err == nil {
				updates++
			} else if he := host.AsError(o.err); he.Kind != host.KindConflict {
				t.Errorf("writer %d: %v", i, o.err)
			}
		}
	}
	if updates == 0 {
		t.Fatal("no update of the shared user succeeded")
	}
	all, err := e.store.Executor().EventsReadAll(ctx, &store.EventsReadAllParams{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + creates + updates; len(all) != want {
		t.Fatalf("%d events stored, %d commands acknowledged", len(all), want)
	}
	rec, _ := e.host.State(ctx, alice, "user", "user", shared.ID)
	if rec.Version != int64(1+updates) {
		t.Fatalf("shared user at version %d after %d acknowledged updates", rec.Version, updates)
	}
	stats := e.host.CommitStats()
	tx, cmds := stats.Transactions-before.Transactions, stats.Commands-before.Commands
	t.Logf("%d commands in %d transactions (largest batch %d); %d updates won, %d conflicted",
		cmds, tx, stats.LargestBatch, updates, writers/4-updates)
	if tx >= cmds {
		t.Fatalf("no coalescing: %d commands in %d transactions", cmds, tx)
	}
}

// A store that stops answering (another transaction holds the write lock)
// fails the batch within the commit bound: the caller gets 503
// store-unavailable instead of waiting without end, nothing of the command
// is stored, Close returns while a command is stuck, and once the lock is
// gone the host commits again.
func TestStalledStoreAnswersUnavailable(t *testing.T) {
	onDrivers(t, testStalledStoreAnswersUnavailable)
}

func testStalledStoreAnswersUnavailable(t *testing.T, driver string) {
	e := newEnvOn(t, driver, func(c *host.Config) { c.CommitTimeout = 300 * time.Millisecond })
	created := createUser(t, e.host, "ann@example.com")
	unlock := holdWriteLock(t, e)

	start := time.Now()
	_, err := e.host.Dispatch(ctx, &host.Command{Domain: "user", Name: "update-user", Resource: "user",
		AggregateID: created.ID, Payload: []byte(`{"name":"Stalled"}`)})
	wantError(t, err, host.KindUnavailable, "store-unavailable")
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the stalled commit answered after %v", took)
	}
	unlock()
	rec, err := e.host.State(ctx, alice, "user", "user", created.ID)
	if err != nil || rec.Version != 1 {
		t.Fatalf("after the failed commit: %+v %v", rec, err)
	}
	dispatch(t, e.host, host.Command{Domain: "user", Name: "update-user", Resource: "user",
		AggregateID: created.ID, Payload: []byte(`{"name":"After"}`)})

	// Close while a command waits on a stalled store.
	unlock = holdWriteLock(t, e)
	defer unlock()
	e2 := e.host
	go e2.Dispatch(ctx, &host.Command{Domain: "user", Name: "update-user", Resource: "user",
		AggregateID: created.ID, Payload: []byte(`{"name":"Stuck"}`)})
	time.Sleep(50 * time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- e2.Close(ctx) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return while the store was stalled")
	}
}

// holdWriteLock makes the store stall writers: it takes the lock a writer
// needs in a transaction of its own and returns the function that lets go.
func holdWriteLock(t *testing.T, e *env) func() {
	t.Helper()
	if e.url != "" {
		conn, err := pgx.Connect(ctx, e.url)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "LOCK TABLE events IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
		return sync.OnceFunc(func() { tx.Rollback(ctx); conn.Close(ctx) })
	}
	db, err := sql.Open("sqlite", "file:"+e.path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	return sync.OnceFunc(func() { conn.ExecContext(ctx, "ROLLBACK"); conn.Close(); db.Close() })
}
