package abi

import "errors"

// EventDelivery is the envelope the host passes to ExportOnEvent: one
// stored event for one of the plugin's handlers (feature event-handlers).
type EventDelivery struct {
	Handler       string // 1: the handler's name in the manifest
	EventID       string // 2
	Domain        string // 3: the domain of the aggregate that emitted it
	Resource      string // 4
	AggregateID   string // 5
	Type          string // 6
	Data          []byte // 7: JSON
	Version       int64  // 8: the aggregate version the event created
	Time          int64  // 9: Unix nanoseconds the event was stored
	CorrelationID string // 10
	Caller        Caller // 11: who sent the command that emitted the event
	Attempt       uint64 // 12: 1 for the first delivery
}

// HandlerResult is the envelope ExportOnEvent and ExportRunJob return.
type HandlerResult struct {
	Status   Status          // 1: StatusOK, or a failure
	Commands []IssuedCommand // 2, repeated: commands to send, in order
	Error    Error           // 3: set unless Status is StatusOK
	Jobs     []IssuedJob     // 4, repeated: jobs to enqueue (FeatureJobs)
}

// IssuedJob is a background job a command, handler or job enqueues.
type IssuedJob struct {
	Name      string // 1: a job of the plugin's own manifest
	Args      []byte // 2: JSON object
	DelayMS   uint64 // 3: run no sooner than this after it is enqueued
	UniqueKey string // 4: not enqueued again while one with the same name and key is pending or done
}

// JobRequest is the envelope the host passes to ExportRunJob.
type JobRequest struct {
	Job     string // 1: the job's name in the manifest
	JobID   string // 2
	Args    []byte // 3: JSON
	Attempt uint64 // 4: 1 for the first run
	Time    int64  // 5: Unix nanoseconds the run started
	Caller  Caller // 6: who enqueued it (none for a scheduled job)
}

// MaxIssuedJobs is how many jobs one answer may enqueue.
const MaxIssuedJobs = 100

var errTooManyJobs = errors.New("abi: an answer enqueues more than 100 jobs")

func encodeJobs(e *Encoder, field int, jobs []IssuedJob) {
	for i := range jobs {
		j := &jobs[i]
		m := e.BeginMessage(field)
		e.String(1, j.Name)
		e.BytesField(2, j.Args)
		e.Uint(3, j.DelayMS)
		e.String(4, j.UniqueKey)
		e.EndMessage(m)
	}
}

func decodeJob(m Decoder, jobs *[]IssuedJob) error {
	if len(*jobs) == MaxIssuedJobs {
		return errTooManyJobs
	}
	var j IssuedJob
	for f, ok := m.Next(); ok; f, ok = m.Next() {
		switch f {
		case 1:
			j.Name = m.String()
		case 2:
			j.Args = m.Bytes()
		case 3:
			j.DelayMS = m.Uint()
		case 4:
			j.UniqueKey = m.String()
		default:
			m.Skip()
		}
	}
	if err := m.Err(); err != nil {
		return err
	}
	*jobs = append(*jobs, j)
	return nil
}

// Encode appends the request's encoding to e.
func (r *JobRequest) Encode(e *Encoder) {
	e.String(1, r.Job)
	e.String(2, r.JobID)
	e.BytesField(3, r.Args)
	e.Uint(4, r.Attempt)
	e.Int(5, r.Time)
	r.Caller.encode(e, 6)
}

// Decode reads a job request. Byte fields alias b.
func (r *JobRequest) Decode(b []byte) error {
	d := NewDecoder(b)
	for f, ok := d.Next(); ok; f, ok = d.Next() {
		switch f {
		case 1:
			r.Job = d.String()
		case 2:
			r.JobID = d.String()
		case 3:
			r.Args = d.Bytes()
		case 4:
			r.Attempt = d.Uint()
		case 5:
			r.Time = d.Int()
		case 6:
			if err := r.Caller.decode(d.Message()); err != nil {
				return err
			}
		default:
			d.Skip()
		}
	}
	return d.Err()
}

// IssuedCommand is a command a handler asks the host to send.
type IssuedCommand struct {
	Domain      string // 1: "" is the plugin's own domain
	Name        string // 2
	Resource    string // 3
	AggregateID string // 4: "" addresses a command that creates (:new)
	Payload     []byte // 5: JSON
}

// MaxIssuedCommands is how many commands one delivery may issue.
const MaxIssuedCommands = 100

// Encode appends the delivery's encoding to e.
func (r *EventDelivery) Encode(e *Encoder) {
	e.String(1, r.Handler)
	e.String(2, r.EventID)
	e.String(3, r.Domain)
	e.String(4, r.Resource)
	e.String(5, r.AggregateID)
	e.String(6, r.Type)
	e.BytesField(7, r.Data)
	e.Int(8, r.Version)
	e.Int(9, r.Time)
	e.String(10, r.CorrelationID)
	r.Caller.encode(e, 11)
	e.Uint(12, r.Attempt)
}

// Decode reads a delivery. Byte fields alias b.
func (r *EventDelivery) Decode(b []byte) error {
	d := NewDecoder(b)
	for f, ok := d.Next(); ok; f, ok = d.Next() {
		switch f {
		case 1:
			r.Handler = d.String()
		case 2:
			r.EventID = d.String()
		case 3:
			r.Domain = d.String()
		case 4:
			r.Resource = d.String()
		case 5:
			r.AggregateID = d.String()
		case 6:
			r.Type = d.String()
		case 7:
			r.Data = d.Bytes()
		case 8:
			r.Version = d.Int()
		case 9:
			r.Time = d.Int()
		case 10:
			r.CorrelationID = d.String()
		case 11:
			if err := r.Caller.decode(d.Message()); err != nil {
				return err
			}
		case 12:
			r.Attempt = d.Uint()
		default:
			d.Skip()
		}
	}
	return d.Err()
}

// Encode appends the result's encoding to e.
// Its status is written even when it is 0 (ok), unlike other zero values,
// so that an answer is never empty: the host reads an empty answer as a
// guest that registered no domain.
func (r *HandlerResult) Encode(e *Encoder) {
	e.tag(1, 0)
	e.uvarint(uint64(r.Status))
	for i := range r.Commands {
		c := &r.Commands[i]
		m := e.BeginMessage(2)
		e.String(1, c.Domain)
		e.String(2, c.Name)
		e.String(3, c.Resource)
		e.String(4, c.AggregateID)
		e.BytesField(5, c.Payload)
		e.EndMessage(m)
	}
	r.Error.encode(e, 3)
	encodeJobs(e, 4, r.Jobs)
}

// Decode reads a handler's result. Byte fields alias b. More than
// MaxIssuedCommands commands is an error: the host refuses the delivery.
func (r *HandlerResult) Decode(b []byte) error {
	d := NewDecoder(b)
	for f, ok := d.Next(); ok; f, ok = d.Next() {
		switch f {
		case 1:
			r.Status = Status(d.Uint())
		case 2:
			if len(r.Commands) == MaxIssuedCommands {
				return errTooManyCommands
			}
			var c IssuedCommand
			m := d.Message()
			for g, ok := m.Next(); ok; g, ok = m.Next() {
				switch g {
				case 1:
					c.Domain = m.String()
				case 2:
					c.Name = m.String()
				case 3:
					c.Resource = m.String()
				case 4:
					c.AggregateID = m.String()
				case 5:
					c.Payload = m.Bytes()
				default:
					m.Skip()
				}
			}
			if err := m.Err(); err != nil {
				return err
			}
			r.Commands = append(r.Commands, c)
		case 3:
			if err := r.Error.decode(d.Message()); err != nil {
				return err
			}
		case 4:
			if err := decodeJob(d.Message(), &r.Jobs); err != nil {
				return err
			}
		default:
			d.Skip()
		}
	}
	return d.Err()
}

var errTooManyCommands = errors.New("abi: a handler result issues more than 100 commands")

// MaxAttach is how many media one command may attach.
const MaxAttach = 100

var errTooManyAttach = errors.New("abi: a result attaches more than 100 media")

// MediaGetRequest asks fluvius_media_v1.get for a media's metadata.
type MediaGetRequest struct {
	ID string // 1
}

// MediaInfo is what fluvius_media_v1.get answers.
type MediaInfo struct {
	ID          string // 1
	Name        string // 2
	Size        int64  // 3
	ContentType string // 4
	SHA256      string // 5
	Owner       string // 6
	CreatedAt   int64  // 7: Unix nanoseconds
}

// Encode appends the request's encoding to e.
func (r *MediaGetRequest) Encode(e *Encoder) { e.String(1, r.ID) }

// Decode reads a media request.
func (r *MediaGetRequest) Decode(b []byte) error {
	d := NewDecoder(b)
	for f, ok := d.Next(); ok; f, ok = d.Next() {
		if f == 1 {
			r.ID = d.String()
		} else {
			d.Skip()
		}
	}
	return d.Err()
}

// Encode appends the metadata's encoding to e.
func (m *MediaInfo) Encode(e *Encoder) {
	e.String(1, m.ID)
	e.String(2, m.Name)
	e.Int(3, m.Size)
	e.String(4, m.ContentType)
	e.String(5, m.SHA256)
	e.String(6, m.Owner)
	e.Int(7, m.CreatedAt)
}

// Decode reads media metadata.
func (m *MediaInfo) Decode(b []byte) error {
	d := NewDecoder(b)
	for f, ok := d.Next(); ok; f, ok = d.Next() {
		switch f {
		case 1:
			m.ID = d.String()
		case 2:
			m.Name = d.String()
		case 3:
			m.Size = d.Int()
		case 4:
			m.ContentType = d.String()
		case 5:
			m.SHA256 = d.String()
		case 6:
			m.Owner = d.String()
		case 7:
			m.CreatedAt = d.Int()
		default:
			d.Skip()
		}
	}
	return d.Err()
}
