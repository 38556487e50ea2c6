package sdk

import (
	"errors"
	"time"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/sdk/jsonlite"
)

// JobFunc runs one background job. Like a handler it may read state, query
// this domain's read models, Send commands and Enqueue further jobs; an
// error fails the run, which the host retries (River's backoff) until the
// job's MaxAttempts.
type JobFunc func(c *JobCall, args jsonlite.Value) error

// JobSpec declares a background job of this domain.
type JobSpec struct {
	Name        string // lower-case words
	Description string
	// Schedule, when set, is a cron expression (five fields, UTC) on which
	// the host enqueues the job with {} as its arguments.
	Schedule string
	// MaxAttempts bounds its runs (0: the host's default, 5).
	MaxAttempts int
	Run         JobFunc
}

// AddJob declares a background job.
func (d *Domain) AddJob(j JobSpec) { d.jobs = append(d.jobs, j) }

// Job is a job to enqueue: one of this domain's, with its arguments.
type Job struct {
	Name  string
	Args  jsonlite.Encoder // nil for {}
	Delay time.Duration    // run no sooner than this after it is enqueued
	// UniqueKey, when set, keeps a job of the same name and key from being
	// enqueued again while one is pending or done.
	UniqueKey string
}

func enqueue(jobs *[]abi.IssuedJob, j Job) error {
	if len(*jobs) == abi.MaxIssuedJobs {
		return errors.New("sdk: an answer enqueues at most 100 jobs")
	}
	if j.Delay < 0 {
		return errors.New("sdk: a job's delay is not negative")
	}
	args := emptyObject
	if j.Args != nil {
		args = jsonlite.Marshal(j.Args)
	}
	*jobs = append(*jobs, abi.IssuedJob{Name: j.Name, Args: args, DelayMS: uint64(j.Delay / time.Millisecond), UniqueKey: j.UniqueKey})
	return nil
}

// JobCall is one run of a background job.
type JobCall struct {
	req *abi.JobRequest
	issuer
}

// JobID returns the job's unique id.
func (c *JobCall) JobID() string { return c.req.JobID }

// Attempt is 1 for the first run, then 2, 3, ...
func (c *JobCall) Attempt() int { return int(c.req.Attempt) }

// Caller returns who enqueued the job (nobody for a scheduled one).
func (c *JobCall) Caller() abi.Caller { return c.req.Caller }

// Now returns the time the run started: the job's clock.
func (c *JobCall) Now() time.Time { return time.Unix(0, c.req.Time).UTC() }

// RunJob runs the job an abi.JobRequest envelope names and returns an
// abi.HandlerResult envelope, valid until the next call.
func (d *Domain) RunJob(in []byte) []byte {
	var req abi.JobRequest
	res := abi.HandlerResult{}
	if err := req.Decode(in); err != nil {
		res.Status, res.Error = abi.StatusInvalid, abi.Error{Code: "malformed-envelope", Message: "job request: " + err.Error()}
	} else if j := d.jobByName(req.Job); j == nil {
		res.Status, res.Error = abi.StatusUnknownCommand, abi.Error{Code: "unknown-job", Message: "domain " + d.name + " has no job " + req.Job}
	} else {
		call := &JobCall{req: &req}
		args, err := jsonlite.Parse(req.Args)
		if err == nil {
			err = j.Run(call, args)
		}
		if err != nil {
			res.Status, res.Error = errorStatus(err)
		} else {
			res.Commands, res.Jobs = call.commands, call.jobs
		}
	}
	d.out.Reset()
	res.Encode(&d.out)
	return d.out.Bytes()
}

func (d *Domain) jobByName(name string) *JobSpec {
	for i := range d.jobs {
		if d.jobs[i].Name == name {
			return &d.jobs[i]
		}
	}
	return nil
}

// Run runs a job natively, the way the host runs it in the guest, and
// returns the decoded result. It is for unit tests of jobs.
func (d *Domain) Run(req *abi.JobRequest) (*abi.HandlerResult, error) {
	var e abi.Encoder
	req.Encode(&e)
	out := d.RunJob(e.Bytes())
	var res abi.HandlerResult
	if err := res.Decode(append([]byte(nil), out...)); err != nil {
		return nil, err
	}
	return &res, nil
}
