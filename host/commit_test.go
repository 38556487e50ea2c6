package host_test

import (
	"fmt"
	"sync"
	"testing"

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
	rec, _ := e.host.State(ctx, "user", "user", shared.ID)
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
