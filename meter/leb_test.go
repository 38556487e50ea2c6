package meter

import "testing"

func TestLEBStrict(t *testing.T) {
	for _, c := range []struct {
		in   []byte
		bits int // 0 for u32
		want int64
		ok   bool
	}{
		{[]byte{0x00}, 0, 0, true},
		{[]byte{0x80, 0x00}, 0, 0, true}, // padding is allowed
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 0, 0xffffffff, true},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x1f}, 0, 0, false}, // bits past 32
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, 0, false},
		{[]byte{0x80}, 0, 0, false},
		{[]byte{0x7f}, 32, -1, true},
		{[]byte{0x40}, 33, -64, true},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x7f}, 32, -1, true},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x4f}, 32, 0, false}, // unused bits differ from the sign
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x08}, 32, -1 << 31, false},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x78}, 32, -1 << 31, true},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x10}, 33, 0, false},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x70}, 33, -1 << 32, true},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f}, 64, -1 << 63, true},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 64, 0, false},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}, 64, 1<<63 - 1, true},
	} {
		r := reader{b: c.in}
		var got int64
		var err error
		if c.bits == 0 {
			var u uint32
			u, err = r.u32()
			got = int64(u)
		} else {
			got, err = r.sleb(c.bits)
		}
		if (err == nil) != c.ok || (c.ok && (got != c.want || r.left() != 0)) {
			t.Errorf("% x as %d bits: got %d, %v, %d left; want %d, ok=%v", c.in, c.bits, got, err, r.left(), c.want, c.ok)
		}
	}
}

func TestLEBRoundTrip(t *testing.T) {
	for _, v := range []int64{0, 1, 63, 64, -64, -65, 127, 128, 1 << 40, -1 << 63, 1<<63 - 1} {
		r := reader{b: appendS64(nil, v)}
		if got, err := r.sleb(64); err != nil || got != v || r.left() != 0 {
			t.Errorf("s64 %d: got %d, %v", v, got, err)
		}
	}
	for _, v := range []uint32{0, 127, 128, 1 << 20, 1<<32 - 1} {
		b := appendU32(nil, v)
		r := reader{b: b}
		if got, err := r.u32(); err != nil || got != v || len(b) != sizeU32(v) {
			t.Errorf("u32 %d: got %d, %v, %d bytes", v, got, err, len(b))
		}
	}
}
