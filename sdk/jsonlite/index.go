package jsonlite

import "math"

// An Index makes repeated Gets on the objects of a document cheap. Get on a
// Value of a plain Parse scans the object each time; on a Value of an Index
// the first Get of an object records where its members are, and later Gets
// on that object compare the key with theirs without scanning the document
// again. Decoders that read every field of a state (six Gets on six keys
// rescan the object six times) gain the most; the sdk indexes the payload,
// state and events it hands to handlers and appliers.
//
// An Index serves one document at a time and keeps its storage from one to
// the next, so indexing a document usually allocates nothing. Values of the
// document an Index served before remain usable (Get falls back to scanning
// them) as long as their bytes do. The zero Index is ready to use. An Index
// is not safe for concurrent use, and neither are its Values, whose Gets
// may add to it.
type Index struct {
	doc     []byte
	objects []indexedObject // most recently indexed last
	members []indexedMember
}

// maxIndexedObjects bounds how many objects of one document are indexed;
// Get scans the others. It keeps the search for an object's entry short in
// documents with many objects (arrays of them, say).
const maxIndexedObjects = 32

// minLazyIndexed is the size below which an object is scanned rather than
// indexed on first Get (except the top-level object of Index.Parse, which
// Parse indexes as it goes). Indexing reads the whole object, and a Get that
// finds its key among the first members of a small object reads less: on
// objects of two members and some 50 bytes, indexing pays only if every
// member and then some is read; from four members and 100 bytes it pays
// when most are.
const minLazyIndexed = 64

type indexedObject struct {
	off          int32 // where the object starts in the document
	first, count int32 // its members are members[first : first+count]
}

// indexedMember is where a member lies in the document: its key between
// the quotes, and its value.
type indexedMember struct {
	key, keyEnd, val, valEnd int32
	escaped                  bool
}

func (m *indexedMember) matches(doc []byte, key string) bool {
	if m.escaped {
		return keyEqual(doc[m.key:m.keyEnd], key)
	}
	return int(m.keyEnd-m.key) == len(key) && string(doc[m.key:m.keyEnd]) == key
}

// Parse parses b like Parse and returns it indexed by x. The members of a
// document that is an object are recorded as Parse meets them, so even the
// first Get does not scan it again.
func (x *Index) Parse(b []byte) (Value, error) {
	x.doc, x.objects, x.members = nil, x.objects[:0], x.members[:0]
	if len(b) > math.MaxInt32 {
		return Parse(b)
	}
	v, err := parse(b, x)
	if err != nil {
		x.members = x.members[:0]
		return Value{}, err
	}
	x.doc = v.raw
	if v.Kind() == Object {
		// The offsets are b's; the document starts after any white space.
		if lead := int32(skipWS(b, 0)); lead > 0 {
			for i := range x.members {
				m := &x.members[i]
				m.key, m.keyEnd, m.val, m.valEnd = m.key-lead, m.keyEnd-lead, m.val-lead, m.valEnd-lead
			}
		}
		x.objects = append(x.objects, indexedObject{off: 0, first: 0, count: int32(len(x.members))})
	}
	return Value{raw: v.raw, idx: x}, nil
}

// Attach makes v the document x serves, forgetting the one before, and
// returns v indexed by x.
func (x *Index) Attach(v Value) Value {
	x.doc, x.objects, x.members = v.raw, x.objects[:0], x.members[:0]
	if len(v.raw) == 0 || len(v.raw) > math.MaxInt32 {
		return Value{raw: v.raw}
	}
	return Value{raw: v.raw, idx: x}
}

// object returns the members of the object raw, a Value of x's document,
// indexing it on first use. ok is false if raw is not in x's document (x
// has moved on to another) or x indexes no more objects.
func (x *Index) object(raw []byte) (members []indexedMember, ok bool) {
	// raw is a slice of the document, which leaves its capacity running to
	// the end of the document's storage: that gives its offset, and the
	// address of its first byte confirms it.
	off := cap(x.doc) - cap(raw)
	if off < 0 || off >= len(x.doc) || &x.doc[off] != &raw[0] {
		return nil, false
	}
	for i := len(x.objects) - 1; i >= 0; i-- {
		if o := x.objects[i]; int(o.off) == off {
			return x.members[o.first : o.first+o.count], true
		}
	}
	if len(x.objects) == maxIndexedObjects || len(raw) < minLazyIndexed {
		return nil, false
	}
	first := len(x.members)
	for i := skipWS(raw, 1); i < len(raw) && raw[i] == '"'; {
		m := readMember(raw, i)
		x.members = append(x.members, indexedMember{
			key: int32(off + m.key + 1), keyEnd: int32(off + m.keyEnd - 1),
			val: int32(off + m.val), valEnd: int32(off + m.valEnd),
			escaped: m.escaped,
		})
		i = m.next
	}
	x.objects = append(x.objects, indexedObject{off: int32(off), first: int32(first), count: int32(len(x.members) - first)})
	return x.members[first:], true
}
