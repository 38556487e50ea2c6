// Package jobs runs plugins' background jobs on River
// (github.com/riverqueue/river), in the host's own store: River's SQLite
// driver on the embedded default, its pgx driver on PostgreSQL. It is the
// host's JobQueue (jobs enqueued by handlers and jobs), enqueues the jobs
// commands record with their events (an internal subscription reads them
// from the feed, so a command's jobs are enqueued if and only if it
// commits), keeps the plugins' schedules as River periodic jobs, and runs
// every job through host.RunJob.
//
// River brings the retries (its backoff, up to each job's max_attempts),
// uniqueness (a job's domain, name, tenant and unique key), leader election
// for schedules, and its own migrations (Migrate; fluvius-host migrate runs
// them).
package jobs

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/postgres"
	"fluvius.dev/fluvius/store/sqlite"
	"fluvius.dev/fluvius/subscribe"
)

// Kind is River's kind of every plugin job: the plugin and job are in its
// arguments.
const Kind = "fluvius_job"

// OutboxSubscription is the internal subscription that enqueues the jobs
// commands record with their events.
const OutboxSubscription = "$jobs"

// args are a job's River arguments. Domain, name, tenant and unique key
// make it unique (River's unique jobs, by the fields tagged so).
type args struct {
	Domain    string          `json:"domain" river:"unique"`
	Job       string          `json:"job" river:"unique"`
	Tenant    string          `json:"tenant,omitempty" river:"unique"`
	UniqueKey string          `json:"unique_key" river:"unique"`
	Args      json.RawMessage `json:"args"`
	Caller    abi.Caller      `json:"caller"`
	// W3C trace context, not part of the job's identity.
	TraceParent string `json:"traceparent,omitempty"`
	TraceState  string `json:"tracestate,omitempty"`
}

func (args) Kind() string { return Kind }

// Options tune a Queue; zero values take the defaults.
type Options struct {
	// Workers is how many jobs run at once on this host (default 4).
	Workers int
	// MaxAttempts is a job's default bound on runs (default 5).
	MaxAttempts int
	// FetchPollInterval is how often River looks for jobs when nothing
	// told it of one (default 1 s; tests use less).
	FetchPollInterval time.Duration
	// Rescan is how often the schedules are compared with the active
	// plugins' (default 1 s).
	Rescan time.Duration
	// RetryPolicy replaces River's backoff (tests use a short one).
	RetryPolicy river.ClientRetryPolicy
	Logger      *slog.Logger
}

func (o *Options) defaults() {
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.FetchPollInterval <= 0 {
		o.FetchPollInterval = time.Second
	}
	if o.Rescan <= 0 {
		o.Rescan = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// client is what Queue needs of a River client, whatever its driver's
// transaction type.
type client interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	InsertMany(ctx context.Context, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
	PeriodicJobs() *river.PeriodicJobBundle
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
}

// Queue is the host's job queue on River.
type Queue struct {
	h      *host.Host
	opts   Options
	client client
	close  func()

	mu       sync.Mutex
	periodic map[string]bool // by ID (scheduleID); false: River refused it
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// Migrate runs River's migrations on the store's database (up to the
// newest); it is safe to run on every start.
func Migrate(ctx context.Context, st store.Driver) error {
	switch d := st.(type) {
	case *sqlite.Driver:
		db, err := d.OpenDB()
		if err != nil {
			return err
		}
		defer db.Close()
		return migrate(ctx, riversqlite.New(db))
	case *postgres.Driver:
		return migrate(ctx, riverpgxv5.New(d.Pool()))
	}
	return fmt.Errorf("jobs: the %s store keeps no jobs", st.Name())
}

func migrate[TTx any](ctx context.Context, drv riverdriver.Driver[TTx]) error {
	m, err := rivermigrate.New(drv, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("jobs: River's migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("jobs: River's migrations: %w", err)
	}
	return nil
}

// New makes the host's queue over its store, runs River's migrations and
// sets it as the host's JobQueue. Start runs the jobs.
func New(ctx context.Context, h *host.Host, opts Options) (*Queue, error) {
	opts.defaults()
	if err := Migrate(ctx, h.Store()); err != nil {
		return nil, err
	}
	q := &Queue{h: h, opts: opts, periodic: map[string]bool{}}
	workers := river.NewWorkers()
	river.AddWorker(workers, &worker{q: q})
	cfg := &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.Workers}},
		Workers:           workers,
		MaxAttempts:       opts.MaxAttempts,
		FetchPollInterval: opts.FetchPollInterval,
		FetchCooldown:     min(opts.FetchPollInterval, 100*time.Millisecond),
		Logger:            opts.Logger,
		JobTimeout:        time.Minute,
		RetryPolicy:       opts.RetryPolicy,
	}
	switch d := h.Store().(type) {
	case *sqlite.Driver:
		db, err := d.OpenDB()
		if err != nil {
			return nil, err
		}
		c, err := river.NewClient[*sql.Tx](riversqlite.New(db), cfg)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("jobs: %w", err)
		}
		q.client, q.close = c, func() { db.Close() }
	case *postgres.Driver:
		c, err := river.NewClient(riverpgxv5.New(d.Pool()), cfg)
		if err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
		q.client, q.close = c, func() {}
	default:
		return nil, fmt.Errorf("jobs: the %s store keeps no jobs", h.Store().Name())
	}
	h.SetJobQueue(q)
	return q, nil
}

// Start runs jobs and keeps the schedules until Close.
func (q *Queue) Start(ctx context.Context) error {
	ctx, q.cancel = context.WithCancel(context.WithoutCancel(ctx))
	q.syncSchedules()
	if err := q.client.Start(ctx); err != nil {
		q.cancel()
		q.cancel = nil
		return fmt.Errorf("jobs: starting River: %w", err)
	}
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(q.opts.Rescan):
			}
			q.syncSchedules()
		}
	}()
	return nil
}

// Close stops taking jobs, lets the running ones finish (up to 30 s), and
// releases River.
func (q *Queue) Close() {
	if q.cancel != nil {
		q.cancel()
		q.wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		q.client.Stop(ctx)
		cancel()
	}
	q.close()
}

// Enqueue implements host.JobQueue.
func (q *Queue) Enqueue(ctx context.Context, jobs []host.QueuedJob) error {
	params := make([]river.InsertManyParams, len(jobs))
	for i, j := range jobs {
		opts := &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}, MaxAttempts: j.MaxAttempts}
		if j.Delay > 0 {
			opts.ScheduledAt = time.Now().Add(j.Delay)
		}
		a := j.Args
		if len(a) == 0 {
			a = json.RawMessage("{}")
		}
		params[i] = river.InsertManyParams{Args: args{Domain: j.Domain, Job: j.Name, Tenant: j.Tenant, UniqueKey: j.UniqueKey,
			Args: a, Caller: j.Caller, TraceParent: j.TraceParent, TraceState: j.TraceState}, InsertOpts: opts}
	}
	_, err := q.client.InsertMany(ctx, params)
	return err
}

// Outbox is the internal subscription (for subscribe.Options.Internal)
// that enqueues the jobs commands record with their events. Reading an
// event again enqueues nothing twice: each job is keyed by its event.
func (q *Queue) Outbox() subscribe.Internal {
	return subscribe.Internal{Name: OutboxSubscription, Handle: func(ctx context.Context, ev *store.Event, _ int) error {
		jobs := q.h.EnqueuedJobs(ev)
		if len(jobs) == 0 {
			return nil
		}
		return q.Enqueue(ctx, jobs)
	}}
}

// syncSchedules registers the active plugins' scheduled jobs with River
// and removes those no longer declared. River's leader enqueues them, so
// a schedule runs once across hosts.
func (q *Queue) syncSchedules() {
	q.mu.Lock()
	defer q.mu.Unlock()
	want := map[string]host.ScheduledJob{}
	for _, s := range q.h.ScheduledJobs() {
		want[scheduleID(s)] = s
	}
	bundle := q.client.PeriodicJobs()
	for id := range q.periodic {
		if _, ok := want[id]; !ok {
			bundle.RemoveByID(id)
			delete(q.periodic, id)
		}
	}
	for id, s := range want {
		if _, seen := q.periodic[id]; seen {
			continue
		}
		sched, err := host.ParseSchedule(s.Schedule)
		if err != nil {
			continue // the host refused the manifest already
		}
		_, err = bundle.AddSafely(river.NewPeriodicJob(sched, func() (river.JobArgs, *river.InsertOpts) {
			// One run per scheduled minute, whichever host's River leads.
			key := "schedule:" + time.Now().UTC().Truncate(time.Minute).Format(time.RFC3339)
			return args{Domain: s.Domain, Job: s.Name, UniqueKey: key, Args: json.RawMessage("{}")},
				&river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}, MaxAttempts: s.MaxAttempts}
		}, &river.PeriodicJobOpts{ID: id}))
		q.periodic[id] = err == nil
		if err != nil {
			q.opts.Logger.Warn("scheduling a job failed", "domain", s.Domain, "job", s.Name, "schedule", s.Schedule, "err", err)
		}
	}
}

// scheduleID names a scheduled job for River: its domain, name and a hash
// of its schedule (River's IDs take no spaces), so a changed schedule is a
// new periodic job.
func scheduleID(s host.ScheduledJob) string {
	sum := sha256.Sum256([]byte(s.Schedule))
	return s.Domain + "." + s.Name + ":" + hex.EncodeToString(sum[:6])
}

// worker runs every plugin job through the host.
type worker struct {
	river.WorkerDefaults[args]
	q *Queue
}

func (w *worker) Work(ctx context.Context, job *river.Job[args]) error {
	a := job.Args
	run := &host.JobRun{QueuedJob: host.QueuedJob{Domain: a.Domain, Name: a.Job, Args: a.Args, Tenant: a.Tenant, Caller: a.Caller,
		UniqueKey: a.UniqueKey, TraceParent: a.TraceParent, TraceState: a.TraceState}, ID: strconv.FormatInt(job.ID, 10), Attempt: job.Attempt}
	_, err := w.q.h.RunJob(ctx, run)
	if err != nil && host.Permanent(err) {
		// Running it again cannot help: River discards it, keeping the error.
		return river.JobCancel(err)
	}
	return err
}

// Job is a job as River keeps it, for the management API.
type Job struct {
	ID          int64           `json:"id"`
	Domain      string          `json:"domain"`
	Job         string          `json:"job"`
	Tenant      string          `json:"tenant,omitempty"`
	State       string          `json:"state"`
	Attempt     int             `json:"attempt"`
	MaxAttempts int             `json:"max_attempts"`
	Args        json.RawMessage `json:"args"`
	Errors      []string        `json:"errors,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	ScheduledAt time.Time       `json:"scheduled_at"`
	FinalizedAt *time.Time      `json:"finalized_at,omitempty"`
}

// List returns the newest jobs, at most limit, in the given River states
// (all when none).
func (q *Queue) List(ctx context.Context, limit int, states ...rivertype.JobState) ([]Job, error) {
	p := river.NewJobListParams().Kinds(Kind).First(limit).OrderBy(river.JobListOrderByID, river.SortOrderDesc)
	if len(states) > 0 {
		p = p.States(states...)
	}
	res, err := q.client.JobList(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([]Job, 0, len(res.Jobs))
	for _, r := range res.Jobs {
		var a args
		if err := json.Unmarshal(r.EncodedArgs, &a); err != nil {
			continue
		}
		j := Job{ID: r.ID, Domain: a.Domain, Job: a.Job, Tenant: a.Tenant, State: string(r.State), Attempt: r.Attempt,
			MaxAttempts: r.MaxAttempts, Args: a.Args, CreatedAt: r.CreatedAt, ScheduledAt: r.ScheduledAt, FinalizedAt: r.FinalizedAt}
		for _, e := range r.Errors {
			j.Errors = append(j.Errors, e.Error)
		}
		out = append(out, j)
	}
	return out, nil
}
