package abi

// Field numbers are part of the ABI: never renumber or reuse one; add new
// fields with new numbers. Decoders skip fields they do not know.

// Caller is who sent a command, as the host authenticated them.
type Caller struct {
	UserID string   // 1
	Tenant string   // 2
	Roles  []string // 3, repeated
}

// Command is the envelope the host passes to ExportHandle.
type Command struct {
	ID            string // 1: unique per command; host generated
	Domain        string // 2
	Name          string // 3: the command (action) name, e.g. "create-user"
	Resource      string // 4
	AggregateID   string // 5: host generated for commands that create
	Payload       []byte // 6: JSON, already validated against the schema
	Caller        Caller // 7
	CorrelationID string // 8
	CausationID   string // 9
	Time          int64  // 10: Unix nanoseconds; the guest's only clock
	State         []byte // 11: JSON of the current state; nil for a new aggregate
	Version       int64  // 12: the aggregate's version (0 = does not exist)
}

// Event is an event a guest emits or the host hands back for folding.
type Event struct {
	Type    string // 1: the event key (evt_key)
	Data    []byte // 2: JSON
	Version int64  // 3: set by the host when replaying; 0 from the guest
	Time    int64  // 4: Unix nanoseconds; set by the host when replaying
}

// Error is a refusal with a machine-readable code.
type Error struct {
	Code    string // 1: stable, kebab-case, e.g. "invalid-email"
	Message string // 2: for humans
	Details []byte // 3: optional JSON
}

// Result is the envelope ExportHandle returns.
type Result struct {
	Status   Status      // 1
	Events   []Event     // 2, repeated
	Response []byte      // 3: JSON the action answers with; may be nil
	State    []byte      // 4: JSON of the state after folding Events
	Error    Error       // 5: set unless Status is StatusOK
	Deleted  bool        // 6: the command soft-deletes the aggregate
	Jobs     []IssuedJob // 7, repeated: jobs to enqueue once it commits (FeatureJobs)
	Attach   []string    // 8, repeated: media ids attached to the aggregate (FeatureMedia)
}

// ApplyRequest is the envelope ExportApply takes: fold Events into State.
type ApplyRequest struct {
	Resource    string  // 1
	AggregateID string  // 2
	State       []byte  // 3: JSON; nil to start from the zero state
	Events      []Event // 4, repeated
}

// ApplyResult is the envelope ExportApply returns.
type ApplyResult struct {
	Status Status // 1
	State  []byte // 2: JSON
	Error  Error  // 3
}

// StateGetRequest asks fluvius_state_v1.get for one state record of the
// calling guest's domain.
type StateGetRequest struct {
	Resource string // 1
	ID       string // 2
}

// CanRequest asks fluvius_authz_v1.can whether the command's caller may do
// Action on Object.
type CanRequest struct {
	Action string // 1
	Object string // 2
}

// Encode appends the request's encoding to e.
func (r *CanRequest) Encode(e *Encoder) {
	e.String(1, r.Action)
	e.String(2, r.Object)
}

// Decode reads a permission question.
func (r *CanRequest) Decode(b []byte) error {
	d := NewDecoder(b)
	for f, ok := d.Next(); ok; f, ok = d.Next() {
		switch f {
		case 1:
			r.Action = d.String()
		case 2:
			r.Object = d.String()
		default:
			d.Skip()
		}
	}
	return d.Err()
}

// StateRecord is what fluvius_state_v1.get answers.
type StateRecord struct {
	Data    []byte // 1: JSON
	Version int64  // 2
	ETag    string // 3
	Tenant  string // 4
	ID      string // 5: the aggregate's id (set in query results)
}

// QueryRequest asks fluvius_query_v1.list for state records of the calling
// guest's domain, in the tenant of the command being decided.
type QueryRequest struct {
	Resource string // 1
	Filter   string // 2: JSON in the query language, as a list's query parameter
	Sort     string // 3: "f.asc,g.desc"
	Limit    uint64 // 4: 1 to 100; 0 means 25
	Text     string // 5: words to search the resource's text fields for
}

// QueryResult is what fluvius_query_v1.list answers.
type QueryResult struct {
	Records []StateRecord // 1, repeated
	Total   int64         // 2: matching records, beyond the limit too
	Error   string        // 3: why the request was refused (with HostErrBadRequest)
}

// encode appends the caller to e as a nested message in field.
func (c *Caller) encode(e *Encoder, field int) {
	m := e.BeginMessage(field)
	e.String(1, c.UserID)
	e.String(2, c.Tenant)
	e.Strings(3, c.Roles)
	e.EndMessage(m)
}

func (c *Caller) decode(d Decoder) error {
	for f, ok := d.Next(); ok; f, ok = d.Next() {
		switch f {
		case 1:
			c.UserID = d.String()
		case 2:
			c.Tenant = d.String()
		case 3:
			c.Roles = append(c.Roles, d.String())
		default:
			d.Skip()
		}
	}
	return d.Err()
}

// Encode appends the command's encoding to e.
func (c *Command) Encode(e *Encoder) {
	e.String(1, c.ID)
	e.String(2, c.Domain)
	e.String(3, c.Name)
	e.String(4, c.Resource)
	e.String(5, c.AggregateID)
	e.BytesField(6, c.Payload)
	c.Caller.encode(e, 7)
	e.String(8, c.CorrelationID)
	e.String(9, c.CausationID)
	e.Int(10, c.Time)
	e.BytesField(11, c.State)
	e.Int(12, c.Version)
}

// Decode reads a command. Byte fields alias b.
func (c *Command) Decode(b []byte) error {
	d := NewDecoder(b)
	for f, ok := d.Next(); ok; f, ok = d.Next() {
		switch f {
		case 1:
			c.ID = d.String()
		case 2:
			c.Domain = d.String()
		case 3:
			c.Name = d.String()
		case 4:
			c.Resource = d.String()
		case 5:
			c.AggregateID = d.String()
		case 6:
			c.Payload = d.Bytes()
		case 7:
			if err := c.Caller.decode(d.Message()); err != nil {
				return err
			}
		case 8:
			c.CorrelationID = d.String()
		case 9:
			c.CausationID = d.String()
		case 10:
			c.Time = d.Int()
		case 11:
			c.State = d.Bytes()
		case 12:
			c.Version = d.Int()
		default:
			d.Skip()
		}
	}
	return d.Err()
}

func (ev *Event) encode(e *Encoder, field int) {
	m := e.BeginMessage(field)
	e.String(1, ev.Type)
	e.BytesField(2, ev.Data)
	e.Int(3, ev.Version)
	e.Int(4, ev.Time)
	e.EndMessage(m)
}

func (ev *Event) decode(d Decoder) error {
	for f, ok := d.Next(); ok; f, ok = d.Next() {
		switch f {
		case 1:
			ev.Type = d.String()
		case 2:
			ev.Data = d.Bytes()
		case 3:
			ev.Version = d.Int()
		case 4:
			ev.Time = d.Int()
		default:
			d.Skip()
		}
	}
	return d.Err()
}

func (er *Error) encode(e *Encoder, field int) {
	if er.Code == "" && er.Message == "" && er.Details == nil {
		return
	}
	m := e.BeginMessage(field)
	e.String(1, er.Code)
	e.String(2, er.Message)
	e.BytesField(3, er.Details)
	e.EndMessage(m)
}

func (er *Error) decode(d Decoder) error {
	for f, ok := d.Next(); ok; f, ok = d.Next() {
		switch f {
		case 1:
			er.Code = d.String()
		case 2:
			er.Message = d.String()
		case 3:
			er.Details = d.Bytes()
		default:
			d.Skip()
		}
	}
	return d.Err()
}

// Encode appends the result's encoding to e.
func (r *Result) Encode(e *Encoder) {
	e.Uint(1, uint64(r.Status))
	for i := range r.Events {
		r.Events[i].encode(e, 2)
	}
	e.BytesField(3, r.Response)
	e.BytesField(4, r.State)
	r.Error.encode(e, 5)
	if r.Deleted {
		e.Uint(6, 1)
	}
	encodeJobs(e, 7, r.Jobs)
	e.Strings(8, r.Attach)
}

// Decode reads a result. Byte fields alias b.
func (r *Result) Decode(b []byte) error {
	d := NewDecoder(b)
	for f, ok := d.Next(); ok; f, ok = d.Next() {
		switch f {
		case 1:
			r.Status = Status(d.Uint())
		case 2:
			var ev Event
			if err := ev.decode(d.Message()); err != nil {
				return err
			}
			r.Events = append(r.Events, ev)
		case 3:
			r.Response = d.Bytes()
		case 4:
			r.State = d.Bytes()
		case 5:
			if err := r.Error.decode(d.Message()); err != nil {
				return err
			}
		case 6:
			r.Deleted = d.Uint() != 0
		case 7:
			if err := decodeJob(d.Message(), &r.Jobs); err != nil {
				return err
			}
		case 8:
			if len(r.Attach) == MaxAttach {
				return errTooManyAttach
			}
			r.Attach = append(r.Attach, d.String())
		default:
			d.Skip()
		}
	}
	return d.Err()
}

// Encode appends the request's encoding to e.
func (r *ApplyRequest) Encode(e *Encoder) {
	e.String(1, r.Resource)
	e.String(2, r.AggregateID)
	e.BytesField(3, r.State)
	for i := range r.Events {
		r.Events[i].encode(e, 4)
	}
}

// Decode reads an apply request. Byte fields alias b.
func (r *ApplyRequest) Decode(b []byte) error {
	d := NewDecoder(b)
	for f, ok := d.Next(); ok; f, ok = d.Next() {
		switch f {
		case 1:
			r.Resource = d.String()
		case 2:
			r.AggregateID = d.String()
		case 3:
			r.State = d.Bytes()
		case 4:
			var ev Event
			if err := ev.decode(d.Message()); err != nil {
				return err
			}
			r.Events = append(r.Events, ev)
		default:
			d.Skip()
		}
	}
	return d.Err()
}

// Encode appends the result's encoding to e.
func (r *ApplyResult) Encode(e *Encoder) {
	e.Uint(1, uint64(r.Status))
	e.BytesField(2, r.State)
	r.Error.encode(e, 3)
}

// Decode reads an apply result. Byte fields alias b.
func (r *ApplyResult) Decode(b []byte) error {
	d := NewDecoder(b)
	for f, ok := d.Next(); ok; f, ok = d.Next() {
		switch f {
		case 1:
			r.Status = Status(d.Uint())
		case 2:
			r.State = d.Bytes()
		case 3:
			if err := r.Error.decode(d.Message()); err != nil {
				return err
			}
		default:
			d.Skip()
		}
	}
	return d.Err()
}

// Encode appends the request's encoding to e.
func (r *StateGetRequest) Encode(e *Encoder) {
	e.String(1, r.Resource)
	e.String(2, r.ID)
}

// Decode reads a state request.
func (r *StateGetRequest) Decode(b []byte) error {
	d := NewDecoder(b)
	for f, ok := d.Next(); ok; f, ok = d.Next() {
		switch f {
		case 1:
			r.Resource = d.String()
		case 2:
			r.ID = d.String()
		default:
			d.Skip()
		}
	}
	return d.Err()
}

// Encode appends the record's encoding to e.
func (r *StateRecord) Encode(e *Encoder) {
	e.BytesField(1, r.Data)
	e.Int(2, r.Version)
	e.String(3, r.ETag)
	e.String(4, r.Tenant)
	e.String(5, r.ID)
}

// Decode reads a state record. Byte fields alias b.
func (r *StateRecord) Decode(b []byte) error {
	d := NewDecoder(b)
	for f, ok := d.Next(); ok; f, ok = d.Next() {
		switch f {
		case 1:
			r.Data = d.Bytes()
		case 2:
			r.Version = d.Int()
		case 3:
			r.ETag = d.String()
		case 4:
			r.Tenant = d.String()
		case 5:
			r.ID = d.String()
		default:
			d.Skip()
		}
	}
	return d.Err()
}

// Encode appends the request's encoding to e.
func (r *QueryRequest) Encode(e *Encoder) {
	e.String(1, r.Resource)
	e.String(2, r.Filter)
	e.String(3, r.Sort)
	e.Uint(4, r.Limit)
	e.String(5, r.Text)
}

// Decode reads a query request. String fields are copied.
func (r *QueryRequest) Decode(b []byte) error {
	d := NewDecoder(b)
	for f, ok := d.Next(); ok; f, ok = d.Next() {
		switch f {
		case 1:
			r.Resource = d.String()
		case 2:
			r.Filter = d.String()
		case 3:
			r.Sort = d.String()
		case 4:
			r.Limit = d.Uint()
		case 5:
			r.Text = d.String()
		default:
			d.Skip()
		}
	}
	return d.Err()
}

// Encode appends the result's encoding to e.
func (r *QueryResult) Encode(e *Encoder) {
	for i := range r.Records {
		m := e.BeginMessage(1)
		r.Records[i].Encode(e)
		e.EndMessage(m)
	}
	e.Int(2, r.Total)
	e.String(3, r.Error)
}

// Decode reads a query result. Byte fields alias b.
func (r *QueryResult) Decode(b []byte) error {
	d := NewDecoder(b)
	for f, ok := d.Next(); ok; f, ok = d.Next() {
		switch f {
		case 1:
			var rec StateRecord
			if err := rec.Decode(d.Bytes()); err != nil {
				return err
			}
			r.Records = append(r.Records, rec)
		case 2:
			r.Total = d.Int()
		case 3:
			r.Error = d.String()
		default:
			d.Skip()
		}
	}
	return d.Err()
}
