package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/store"
)

// Jobs are a plugin's background work (abi/ABI.md, "Jobs"). The host checks
// and runs them; a queue (package jobs, on River) keeps and schedules them.

// JobQueue enqueues jobs; the host is given one with SetJobQueue.
type JobQueue interface {
	// Enqueue inserts the jobs, each unless one with its unique key (and
	// name and domain) is pending or done already.
	Enqueue(ctx context.Context, jobs []QueuedJob) error
}

// QueuedJob is a job to enqueue, as the queue keeps it.
type QueuedJob struct {
	Domain    string          `json:"domain"`
	Name      string          `json:"job"`
	Args      json.RawMessage `json:"args"`
	Tenant    string          `json:"tenant,omitempty"`
	Caller    abi.Caller      `json:"caller"`
	UniqueKey string          `json:"unique_key"`
	Delay     time.Duration   `json:"-"`
	// MaxAttempts is the manifest's (0: the queue's default).
	MaxAttempts int `json:"-"`
	// The W3C trace context of what enqueued the job: its run continues
	// that trace.
	TraceParent string `json:"traceparent,omitempty"`
	TraceState  string `json:"tracestate,omitempty"`
}

// SetJobQueue gives the host the queue that jobs from handlers and jobs go
// to. Without one, a handler or job that enqueues fails (and is retried).
func (h *Host) SetJobQueue(q JobQueue) { h.jobs.Store(&q) }

func (h *Host) jobQueue() JobQueue {
	if q := h.jobs.Load(); q != nil {
		return *q
	}
	return nil
}

// jobView is a job as a command's first event records it (the outbox).
type jobView struct {
	Name      string          `json:"job"`
	Args      json.RawMessage `json:"args"`
	DelayMS   uint64          `json:"delay_ms,omitempty"`
	UniqueKey string          `json:"unique_key,omitempty"`
}

func viewJobs(jobs []abi.IssuedJob) []jobView {
	out := make([]jobView, len(jobs))
	for i, j := range jobs {
		out[i] = jobView{Name: j.Name, Args: json.RawMessage(j.Args), DelayMS: j.DelayMS, UniqueKey: j.UniqueKey}
	}
	return out
}

// maxJobDelay bounds how far ahead a job may be put off.
const maxJobDelay = 366 * 24 * time.Hour

// checkJobs holds a guest's enqueued jobs to its manifest: declared names,
// JSON objects for arguments, bounded delays and keys.
func (p *Plugin) checkJobs(jobs []abi.IssuedJob) error {
	for _, j := range jobs {
		if p.manifest.jobs[j.Name] == nil {
			return fmt.Errorf("the guest enqueued job %q, which its manifest does not declare", j.Name)
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(j.Args, &obj) != nil || obj == nil { // null decodes without error, to no object
			return fmt.Errorf("the guest enqueued job %q with arguments that are not a JSON object", j.Name)
		}
		if time.Duration(j.DelayMS)*time.Millisecond > maxJobDelay || j.DelayMS > uint64(maxJobDelay/time.Millisecond) {
			return fmt.Errorf("the guest put job %q off by %d ms, more than a year", j.Name, j.DelayMS)
		}
		// The key is kept in the event's metadata (JSON) and keyed on by the
		// queue: invalid UTF-8 would come back as another key, and
		// PostgreSQL's jsonb refuses NUL.
		if err := checkID("unique key of job "+strconv.Quote(j.Name), j.UniqueKey, maxIDBytes); err != nil {
			return fmt.Errorf("the guest gave %v", err)
		}
	}
	return nil
}

// queued makes the queue's jobs of a plugin's answer: enqueued in tenant
// by caller, each keyed by its own unique key or by key:i.
func (p *Plugin) queued(jobs []abi.IssuedJob, tenant string, caller abi.Caller, key string) []QueuedJob {
	out := make([]QueuedJob, len(jobs))
	for i, j := range jobs {
		unique := j.UniqueKey
		if unique == "" {
			unique = key + ":" + strconv.Itoa(i)
		}
		out[i] = QueuedJob{Domain: p.Domain(), Name: j.Name, Args: json.RawMessage(j.Args), Tenant: tenant, Caller: caller,
			UniqueKey: unique, Delay: time.Duration(j.DelayMS) * time.Millisecond, MaxAttempts: p.manifest.jobs[j.Name].MaxAttempts}
	}
	return out
}

// enqueue hands an answer's jobs to the queue.
func (h *Host) enqueue(ctx context.Context, jobs []QueuedJob) error {
	if len(jobs) == 0 {
		return nil
	}
	q := h.jobQueue()
	if q == nil {
		return &Error{Kind: KindUnavailable, Code: "no-job-queue", Message: "this host runs no job queue; the jobs cannot be enqueued"}
	}
	if err := q.Enqueue(ctx, jobs); err != nil {
		return &Error{Kind: KindUnavailable, Code: "job-queue-failed", Message: "enqueueing jobs: " + err.Error(), Err: err}
	}
	return nil
}

// EnqueuedJobs returns the jobs a stored event's command enqueued (its
// first event carries them), ready for the queue: keyed by the event, so
// reading the event again enqueues nothing twice. A job of a domain no
// longer served is kept with its manifest's defaults.
func (h *Host) EnqueuedJobs(ev *store.Event) []QueuedJob {
	var meta eventMetadata
	if json.Unmarshal(ev.Metadata, &meta) != nil || len(meta.Jobs) == 0 {
		return nil
	}
	domain, _, _, ok := SplitStream(ev.Stream)
	if !ok {
		return nil
	}
	caller := abi.Caller{UserID: meta.Caller.UserID, Tenant: meta.Caller.Tenant, Roles: meta.Caller.Roles}
	out := make([]QueuedJob, len(meta.Jobs))
	for i, j := range meta.Jobs {
		unique := j.UniqueKey
		if unique == "" {
			unique = "event:" + ev.ID + ":" + strconv.Itoa(i)
		}
		out[i] = QueuedJob{Domain: domain, Name: j.Name, Args: j.Args, Tenant: ev.Tenant, Caller: caller, UniqueKey: unique,
			Delay: time.Duration(j.DelayMS) * time.Millisecond, TraceParent: meta.TraceParent, TraceState: meta.TraceState}
		if p := h.Plugin(domain); p != nil && p.manifest.jobs[j.Name] != nil {
			out[i].MaxAttempts = p.manifest.jobs[j.Name].MaxAttempts
		}
	}
	return out
}

// ScheduledJob is a job a plugin runs on a schedule.
type ScheduledJob struct {
	Domain, Name, Schedule string
	MaxAttempts            int
}

// ScheduledJobs lists the active plugins' scheduled jobs.
func (h *Host) ScheduledJobs() []ScheduledJob {
	var out []ScheduledJob
	for _, p := range h.Plugins() {
		for _, j := range p.Jobs() {
			if j.Schedule != "" {
				out = append(out, ScheduledJob{Domain: p.Domain(), Name: j.Name, Schedule: j.Schedule, MaxAttempts: j.MaxAttempts})
			}
		}
	}
	return out
}

// JobSubject is the caller id of a job's commands.
func JobSubject(domain, job string) string { return "job:" + domain + "." + job }

// JobRun is one run of a job, as the queue hands it over.
type JobRun struct {
	QueuedJob
	ID      string // the queue's id of the job
	Attempt int
}

// RunJob runs a job and sends the commands it issues through the
// dispatcher: in the job's tenant, as job:DOMAIN.JOB, with the job's id as
// causation. Command i of job J has the idempotency key job:DOMAIN.NAME:J:i
// and, if it creates, an id derived from the same, so a retried run issues
// nothing twice; the jobs it enqueues are keyed likewise. Permanent(err)
// tells whether running it again can help.
func (h *Host) RunJob(ctx context.Context, run *JobRun) (_ *Delivered, err error) {
	p := h.Plugin(run.Domain)
	if p == nil || p.manifest.jobs[run.Name] == nil {
		return nil, errorf(KindUnavailable, "job-not-loaded", "no active plugin declares job %s.%s", run.Domain, run.Name)
	}
	as := abi.Caller{UserID: JobSubject(run.Domain, run.Name), Tenant: run.Tenant}
	// The run joins the trace of whatever enqueued the job.
	ctx, span := tracer.Start(withTraceContext(ctx, run.TraceParent, run.TraceState), "job "+run.Domain+"."+run.Name,
		trace.WithAttributes(attribute.String("fluvius.job_id", run.ID), attribute.Int("fluvius.attempt", run.Attempt)))
	defer func() { endSpan(span, err) }()
	res, err := p.RunJob(ctx, &abi.JobRequest{Job: run.Name, JobID: run.ID, Args: run.Args, Attempt: uint64(run.Attempt),
		Time: h.cfg.Now().UnixNano(), Caller: run.Caller}, as)
	if err != nil {
		var he *Error
		if errors.As(err, &he) {
			return nil, err
		}
		return nil, &Error{Kind: KindInternal, Code: "job-crashed", Message: err.Error(), Err: err}
	}
	key := as.UserID + ":" + run.ID
	return h.issue(ctx, p, res, as, "job "+run.Domain+"."+run.Name, key, run.CausationID(), run.CausationID())
}

// CausationID is what a job's commands name as their cause: the job.
func (r *JobRun) CausationID() string { return "job:" + r.ID }

// issue acts on a handler's or job's answer: its jobs are enqueued, then its
// commands sent, each with an idempotency key of key:i.
func (h *Host) issue(ctx context.Context, p *Plugin, res *abi.HandlerResult, as abi.Caller, who, key, causation, correlation string) (*Delivered, error) {
	if res.Status != abi.StatusOK {
		code := res.Error.Code
		if code == "" {
			code = "handler-failed"
		}
		return nil, &Error{Kind: KindInternal, Code: code, Message: fmt.Sprintf("%s failed: %s", who, res.Error.Message)}
	}
	if err := p.checkJobs(res.Jobs); err != nil {
		return nil, &Error{Kind: KindInternal, Code: "plugin-invalid-result", Message: fmt.Sprintf("%s: %v", who, err)}
	}
	queued := p.queued(res.Jobs, as.Tenant, as, key+":job")
	parent, state := traceContext(ctx)
	for i := range queued {
		queued[i].TraceParent, queued[i].TraceState = parent, state
	}
	if err := h.enqueue(ctx, queued); err != nil {
		return nil, err
	}
	out := &Delivered{}
	for i, ic := range res.Commands {
		cmd := &Command{Domain: ic.Domain, Name: ic.Name, Resource: ic.Resource, AggregateID: ic.AggregateID,
			New: ic.AggregateID == "", Payload: ic.Payload, Caller: as, CorrelationID: correlation, CausationID: causation,
			IdempotencyKey: key + ":" + strconv.Itoa(i)}
		if cmd.Domain == "" {
			cmd.Domain = p.Domain()
		}
		if cmd.New {
			cmd.newID = derivedID(cmd.IdempotencyKey)
		}
		r, err := h.Dispatch(ctx, cmd)
		if err != nil {
			var he *Error
			if !errors.As(err, &he) {
				he = &Error{Kind: KindUnavailable, Code: "command-failed", Message: err.Error(), Err: err}
			}
			return out, &Error{Kind: he.Kind, Code: he.Code, Details: he.Details, Err: err,
				Message: fmt.Sprintf("command %d (%s:%s) issued by %s: %s", i, cmd.Domain, cmd.Name, who, he.Message)}
		}
		out.Commands = append(out.Commands, Issued{Domain: cmd.Domain, Name: cmd.Name, Resource: cmd.Resource,
			AggregateID: r.AggregateID, Replayed: r.Replayed})
	}
	return out, nil
}
