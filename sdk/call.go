package sdk

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"time"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/sdk/jsonlite"
)

// Call is one command being decided: what the host said about it, and what
// the handler has emitted so far. A Call, like the state and payload a
// handler gets, is only valid during the handler's call: the domain reuses
// it for the next command.
type Call struct {
	cmd     *command
	evtKey  string
	version int64
	events  []abi.Event
	// response aliases the domain's buffer, like the events' data.
	response []byte
	ids      uint32
	agg      aggregate // folds events into the state
	buf      *buffers
	// The action's name and the resource, as the aggregate spells them (the
	// request's copies alias it).
	name, resource string
	// Strings made on first request.
	id, aggregateID string
	caller          abi.Caller
	made            uint8 // which of them: madeID, madeAggregateID, madeCaller
	deleted         bool
	jobs            []abi.IssuedJob
	attach          []string
}

// Media reads the metadata of an uploaded file of the command's tenant:
// found is false when there is none (or it is another tenant's). Its size,
// type and hash are the host's, counted and sniffed at upload. A Host
// without a MediaReader (natively) finds nothing.
func (c *Call) Media(id string) (info abi.MediaInfo, found bool, err error) {
	if m, ok := currentHost.(MediaReader); ok {
		return m.Media(id)
	}
	return abi.MediaInfo{}, false, nil
}

// Attach attaches an uploaded file to the command's aggregate once the
// command commits (with an event that records it): the file is then read
// under the aggregate's read rules, and cannot be deleted while attached.
// Check it with Media first; the host refuses the command (422
// media-not-found) if the tenant has no such file.
func (c *Call) Attach(mediaID string) error {
	if len(c.attach) == abi.MaxAttach {
		return errors.New("sdk: a command attaches at most 100 media")
	}
	c.attach = append(c.attach, mediaID)
	return nil
}

// Enqueue asks for a background job of this domain to run once the command
// commits (with at least one event: a command that changes nothing
// enqueues nothing). See Job.
func (c *Call) Enqueue(j Job) error { return enqueue(&c.jobs, j) }

// Delete soft-deletes the aggregate once the command commits: reads and
// commands no longer find it, lists leave it out unless asked, and its
// events stay. Emit the event that records why, as for any change.
func (c *Call) Delete() { c.deleted = true }

const (
	madeID = 1 << iota
	madeAggregateID
	madeCaller
)

// buffers are the storage a domain reuses from command to command for the
// JSON it writes: one buffer per event, the response and the state.
type buffers struct {
	events   [][]byte
	response []byte
	state    []byte
	w        jsonlite.Writer // for events
	rw       jsonlite.Writer // for responses, which handlers write between events
	// The indexes of the documents handlers and appliers read.
	payload, stateDoc, event jsonlite.Index
}

// write writes e with w into *buf's storage, keeps what it grew to for the
// next time and returns the bytes written.
func write(w *jsonlite.Writer, buf *[]byte, e jsonlite.Encoder) []byte {
	w.ResetTo(*buf)
	e.EncodeJSON(w)
	*buf = w.Bytes()
	return *buf
}

// CommandID returns the command's unique id.
func (c *Call) CommandID() string {
	if c.made&madeID == 0 {
		c.id, c.made = string(c.cmd.id), c.made|madeID
	}
	return c.id
}

// Command returns the command's name.
func (c *Call) Command() string { return c.name }

// Resource returns the addressed resource.
func (c *Call) Resource() string { return c.resource }

// AggregateID returns the addressed aggregate's id (host generated for New
// commands).
func (c *Call) AggregateID() string {
	if c.made&madeAggregateID == 0 {
		c.aggregateID, c.made = string(c.cmd.aggregateID), c.made|madeAggregateID
	}
	return c.aggregateID
}

// Caller returns who sent the command.
func (c *Call) Caller() abi.Caller {
	if c.made&madeCaller == 0 {
		decodeCaller(c.cmd.caller, &c.caller) // checked when the envelope was read
		c.made |= madeCaller
	}
	return c.caller
}

// Version returns the aggregate's version: what it was when the command
// arrived plus the events emitted since.
func (c *Call) Version() int64 { return c.version }

// Now returns the command's time. It is the guest's only clock: replays and
// retries see the same time.
func (c *Call) Now() time.Time { return time.Unix(0, c.cmd.time).UTC() }

// NewID returns a new UUID-shaped id, derived from the command id and a
// counter so that deciding the same command again gives the same ids.
func (c *Call) NewID() string {
	c.ids++
	var in [64]byte
	b := append(in[:0], c.cmd.id...)
	b = binary.BigEndian.AppendUint32(b, c.ids)
	sum := sha256.Sum256(b)
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x80 // version 8: custom
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return formatUUID(u)
}

func formatUUID(u []byte) string {
	const hex = "0123456789abcdef"
	var out [36]byte
	n := 0
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[n] = '-'
			n++
		}
		out[n], out[n+1] = hex[b>>4], hex[b&0xf]
		n += 2
	}
	return string(out[:])
}

// Emit emits the action's event (its EvtKey) with data and folds it into the
// state at once.
func (c *Call) Emit(data jsonlite.Encoder) error { return c.EmitEvent(c.evtKey, data) }

// emptyObject is the data of an event emitted without any.
var emptyObject = []byte("{}")

// EmitEvent emits an event of the given type and folds it into the state.
func (c *Call) EmitEvent(eventType string, data jsonlite.Encoder) error {
	raw := emptyObject
	if data != nil {
		n := len(c.events)
		if n == len(c.buf.events) {
			c.buf.events = append(c.buf.events, nil)
		}
		raw = write(&c.buf.w, &c.buf.events[n], data)
	}
	// The applier reads the event exactly as it will be stored, so folding
	// now and replaying later cannot disagree. The writer vouches for what
	// it wrote itself; only bytes a handler passed to Raw, or calls that did
	// not form one document, are parsed again.
	var v jsonlite.Value
	var err error
	if data != nil {
		v, err = c.buf.w.Document()
	} else {
		v, err = jsonlite.Parse(raw)
	}
	if err != nil {
		return err
	}
	v = c.buf.event.Attach(v)
	c.version++
	if err := c.agg.foldCurrent(Event{Type: eventType, Data: v, Version: c.version, Time: c.cmd.time}); err != nil {
		c.version--
		return err
	}
	c.events = append(c.events, abi.Event{Type: eventType, Data: raw})
	return nil
}

// Respond sets the JSON the command answers with. Without it the host
// answers with the new state.
func (c *Call) Respond(data jsonlite.Encoder) {
	c.response = write(&c.buf.rw, &c.buf.response, data)
}

// Log writes a message to the host's log, tagged with the command.
func (c *Call) Log(level abi.LogLevel, msg string) { currentHost.Log(level, msg) }

// Can asks whether the caller of this command holds a permission: action
// ("run", "read", or one of the domain's own) on object, in the caller's
// tenant. It is for finer questions than the permission a command
// declares, asked while deciding (may this clerk approve amounts this
// large?). A Host without an Authorizer grants everything.
func (c *Call) Can(action, object string) (bool, error) {
	if a, ok := currentHost.(Authorizer); ok {
		return a.Can(action, object)
	}
	return true, nil
}

// QueryRequest is a query over this domain's read models, as a list takes
// it: Filter in the query language ({"email": "ann@example.com"}), Sort
// ("name.asc"), Limit (1 to 100; 0 means 25), Text (words to search for).
type QueryRequest struct {
	Filter string
	Sort   string
	Limit  int
	Text   string
}

// QueryResult is a query's records (each with its ID) and how many match
// in all, past the limit too.
type QueryResult struct {
	Records []abi.StateRecord
	Total   int64
}

// Query runs a query over the read models of this domain, in the tenant of
// the command being decided: "is this e-mail taken already?". It reads
// what is committed (not this command's own events) and is bounded by the
// host in rows and time. A query the resource cannot serve (an unknown
// field, a bad operator) is an error saying why. A Host without a Querier
// (natively) answers nothing.
func (c *Call) Query(resource string, q QueryRequest) (QueryResult, error) {
	h, ok := currentHost.(Querier)
	if !ok {
		return QueryResult{}, nil
	}
	if q.Limit < 0 || q.Limit > 100 {
		return QueryResult{}, errors.New("sdk: a query's limit is 1 to 100 (0 means 25)")
	}
	res, err := h.Query(abi.QueryRequest{Resource: resource, Filter: q.Filter, Sort: q.Sort, Limit: uint64(q.Limit), Text: q.Text})
	if err != nil {
		return QueryResult{}, err
	}
	if res.Error != "" {
		return QueryResult{}, errors.New("query refused: " + res.Error)
	}
	return QueryResult{Records: res.Records, Total: res.Total}, nil
}

// ReadState reads a state record of this domain (another aggregate, say),
// as last committed. found is false if there is none.
func (c *Call) ReadState(resource, id string) (rec abi.StateRecord, found bool, err error) {
	return currentHost.StateGet(resource, id)
}
