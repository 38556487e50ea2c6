package sdk

import "fluvius.dev/fluvius/abi"

// command is an abi.Command envelope as the SDK reads it. abi.Command.Decode
// copies every string field, five allocations per command even though a
// handler rarely asks for more than one of them; here they alias the
// request, like the byte fields, and Call makes strings of the ones a
// handler asks for. Field numbers and decoding rules are abi.Command's: a
// request abi.Command.Decode refuses is refused here too.
type command struct {
	id, name, resource, aggregateID []byte
	payload, state                  []byte
	caller                          []byte // the Caller message; Call.Caller decodes it
	time, version                   int64
}

func (c *command) decode(b []byte) error {
	*c = command{}
	d := abi.NewDecoder(b)
	for f, ok := d.Next(); ok; f, ok = d.Next() {
		switch f {
		case 1:
			c.id = d.Bytes()
		case 3:
			c.name = d.Bytes()
		case 4:
			c.resource = d.Bytes()
		case 5:
			c.aggregateID = d.Bytes()
		case 6:
			c.payload = d.Bytes()
		case 7:
			c.caller = d.Bytes()
			if err := decodeCaller(c.caller, nil); err != nil {
				return err
			}
		case 10:
			c.time = d.Int()
		case 11:
			c.state = d.Bytes()
		case 12:
			c.version = d.Int()
		case 2, 8, 9: // domain, correlation and causation ids: strings the SDK does not read
			d.Bytes()
		default:
			d.Skip()
		}
	}
	return d.Err()
}

// decodeCaller reads a Caller message into c, or only checks it if c is nil.
func decodeCaller(b []byte, c *abi.Caller) error {
	d := abi.NewDecoder(b)
	for f, ok := d.Next(); ok; f, ok = d.Next() {
		switch f {
		case 1, 2, 3:
			s := d.Bytes()
			if c == nil {
				continue
			}
			switch f {
			case 1:
				c.UserID = string(s)
			case 2:
				c.Tenant = string(s)
			case 3:
				c.Roles = append(c.Roles, string(s))
			}
		default:
			d.Skip()
		}
	}
	return d.Err()
}

// containsBytes is contains for a name that aliases a request.
func containsBytes(list []string, b []byte) bool {
	for _, x := range list {
		if string(b) == x {
			return true
		}
	}
	return false
}

// applyRequest is an abi.ApplyRequest envelope as the SDK reads it: like
// command, its fields alias the request, and an event's type becomes the
// string its applier was registered under instead of a copy.
type applyRequest struct {
	resource []byte
	state    []byte
	events   []event // reused from request to request
}

type event struct {
	typ, data     []byte
	version, time int64
}

func (r *applyRequest) decode(b []byte) error {
	*r = applyRequest{events: r.events[:0]}
	d := abi.NewDecoder(b)
	for f, ok := d.Next(); ok; f, ok = d.Next() {
		switch f {
		case 1:
			r.resource = d.Bytes()
		case 2: // the aggregate id, which the SDK does not read
			d.Bytes()
		case 3:
			r.state = d.Bytes()
		case 4:
			var ev event
			if err := ev.decode(d.Bytes(), d.Err()); err != nil {
				return err
			}
			r.events = append(r.events, ev)
		default:
			d.Skip()
		}
	}
	return d.Err()
}

// decode reads an Event message; err is the enclosing decoder's, which has
// failed if the message could not be read.
func (ev *event) decode(b []byte, err error) error {
	if err != nil {
		return err
	}
	d := abi.NewDecoder(b)
	for f, ok := d.Next(); ok; f, ok = d.Next() {
		switch f {
		case 1:
			ev.typ = d.Bytes()
		case 2:
			ev.data = d.Bytes()
		case 3:
			ev.version = d.Int()
		case 4:
			ev.time = d.Int()
		default:
			d.Skip()
		}
	}
	return d.Err()
}
