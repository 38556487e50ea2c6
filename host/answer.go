package host

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// appendJSON renders a command's answer. It is written out by hand because
// every part is either a string or JSON the host has already checked
// (checkResult): encoding/json would validate and compact the raw parts a
// second time, and allocate on the way.
func (b *commandBody) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, b.ID)
	dst = append(dst, `,"resource":`...)
	dst = appendJSONString(dst, b.Resource)
	dst = append(dst, `,"data":`...)
	dst = appendRaw(dst, b.Data)
	dst = append(dst, `,"events":[`...)
	for i := range b.Events {
		if i > 0 {
			dst = append(dst, ',')
		}
		ev := &b.Events[i]
		dst = append(dst, `{"id":`...)
		dst = appendJSONString(dst, ev.ID)
		dst = append(dst, `,"type":`...)
		dst = appendJSONString(dst, ev.Type)
		dst = append(dst, `,"version":`...)
		dst = strconv.AppendInt(dst, ev.Version, 10)
		if ev.Position != 0 {
			dst = append(dst, `,"position":`...)
			dst = strconv.AppendInt(dst, ev.Position, 10)
		}
		dst = append(dst, `,"data":`...)
		dst = appendRaw(dst, ev.Data)
		if len(ev.Metadata) > 0 {
			dst = append(dst, `,"metadata":`...)
			dst = append(dst, ev.Metadata...)
		}
		dst = append(dst, `,"created_at":"`...)
		dst = ev.CreatedAt.AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, `"}`...)
	}
	dst = append(dst, `],"version":`...)
	dst = strconv.AppendInt(dst, b.Version, 10)
	dst = append(dst, `,"etag":`...)
	dst = appendJSONString(dst, b.ETag)
	return append(dst, '}')
}

func appendRaw(dst, raw []byte) []byte {
	if len(raw) == 0 {
		return append(dst, "null"...)
	}
	return append(dst, raw...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaping what RFC 8259
// requires and replacing invalid UTF-8 with U+FFFD, as encoding/json does.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
