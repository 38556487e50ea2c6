package sdk

import (
	"crypto/sha256"
	"encoding/binary"
	"time"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/sdk/jsonlite"
)

// Call is one command being decided: what the host said about it, and what
// the handler has emitted so far.
type Call struct {
	cmd      *abi.Command
	evtKey   string
	version  int64
	events   []abi.Event
	response []byte
	ids      uint32
	fold     func(Event) error
}

// CommandID returns the command's unique id.
func (c *Call) CommandID() string { return c.cmd.ID }

// Command returns the command's name.
func (c *Call) Command() string { return c.cmd.Name }

// Resource returns the addressed resource.
func (c *Call) Resource() string { return c.cmd.Resource }

// AggregateID returns the addressed aggregate's id (host generated for New
// commands).
func (c *Call) AggregateID() string { return c.cmd.AggregateID }

// Caller returns who sent the command.
func (c *Call) Caller() abi.Caller { return c.cmd.Caller }

// Version returns the aggregate's version: what it was when the command
// arrived plus the events emitted since.
func (c *Call) Version() int64 { return c.version }

// Now returns the command's time. It is the guest's only clock: replays and
// retries see the same time.
func (c *Call) Now() time.Time { return time.Unix(0, c.cmd.Time).UTC() }

// NewID returns a new UUID-shaped id, derived from the command id and a
// counter so that deciding the same command again gives the same ids.
func (c *Call) NewID() string {
	c.ids++
	var buf [4]byte
	binary.BigEndian.PutUint32(buf[:], c.ids)
	h := sha256.New()
	h.Write([]byte(c.cmd.ID))
	h.Write(buf[:])
	var sum [32]byte
	u := h.Sum(sum[:0])[:16]
	u[6] = u[6]&0x0f | 0x80 // version 8: custom
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return formatUUID(u)
}

func formatUUID(u []byte) string {
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[b>>4], hex[b&0xf])
	}
	return string(out)
}

// Emit emits the action's event (its EvtKey) with data and folds it into the
// state at once.
func (c *Call) Emit(data jsonlite.Encoder) error { return c.EmitEvent(c.evtKey, data) }

// EmitEvent emits an event of the given type and folds it into the state.
func (c *Call) EmitEvent(eventType string, data jsonlite.Encoder) error {
	raw := []byte("{}")
	if data != nil {
		raw = jsonlite.Marshal(data)
	}
	// The applier reads the event exactly as it will be stored, so folding
	// now and replaying later cannot disagree.
	v, err := jsonlite.Parse(raw)
	if err != nil {
		return err
	}
	c.version++
	if err := c.fold(Event{Type: eventType, Data: v, Version: c.version, Time: c.cmd.Time}); err != nil {
		c.version--
		return err
	}
	c.events = append(c.events, abi.Event{Type: eventType, Data: raw})
	return nil
}

// Respond sets the JSON the command answers with. Without it the host
// answers with the new state.
func (c *Call) Respond(data jsonlite.Encoder) { c.response = jsonlite.Marshal(data) }

// Log writes a message to the host's log, tagged with the command.
func (c *Call) Log(level abi.LogLevel, msg string) { currentHost.Log(level, msg) }

// ReadState reads a state record of this domain (another aggregate, say),
// as last committed. found is false if there is none.
func (c *Call) ReadState(resource, id string) (rec abi.StateRecord, found bool, err error) {
	return currentHost.StateGet(resource, id)
}
