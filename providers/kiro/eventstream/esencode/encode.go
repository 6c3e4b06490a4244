// Package esencode writes AWS event-stream messages for tests and mock
// upstreams. It is written from the framing spec on its own (its own
// bitwise CRC-32, its own layout code) so that a test of the decoder
// against it checks the decoder against the spec, not against itself.
package esencode

// Header is one header to write: a string value (type 7) unless Raw is
// set, in which case Type and Raw are written as they are (Raw carries
// its own length prefix for the variable-length types).
type Header struct {
	Name  string
	Value string
	Type  byte
	Raw   []byte
}

// String is a string-valued header.
func String(name, value string) Header { return Header{Name: name, Value: value, Type: 7} }

// Message appends one message with headers and payload to dst.
func Message(dst []byte, headers []Header, payload []byte) []byte {
	var hb []byte
	for _, h := range headers {
		hb = append(hb, byte(len(h.Name)))
		hb = append(hb, h.Name...)
		hb = append(hb, h.Type)
		if h.Raw != nil {
			hb = append(hb, h.Raw...)
			continue
		}
		hb = append(hb, byte(len(h.Value)>>8), byte(len(h.Value)))
		hb = append(hb, h.Value...)
	}
	total := 4 + 4 + 4 + len(hb) + len(payload) + 4
	start := len(dst)
	dst = be32(dst, uint32(total))
	dst = be32(dst, uint32(len(hb)))
	dst = be32(dst, CRC32(dst[start:start+8]))
	dst = append(dst, hb...)
	dst = append(dst, payload...)
	return be32(dst, CRC32(dst[start:]))
}

// Event is a message as Amazon's services send an event: message type
// "event", the event type, and a JSON payload.
func Event(dst []byte, eventType, jsonPayload string) []byte {
	return Message(dst, []Header{
		String(":event-type", eventType),
		String(":content-type", "application/json"),
		String(":message-type", "event"),
	}, []byte(jsonPayload))
}

// Exception is a message of type "exception" (a failure in the stream).
func Exception(dst []byte, exceptionType, jsonPayload string) []byte {
	return Message(dst, []Header{
		String(":exception-type", exceptionType),
		String(":content-type", "application/json"),
		String(":message-type", "exception"),
	}, []byte(jsonPayload))
}

func be32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// CRC32 is the IEEE 802.3 CRC (reflected polynomial 0xEDB88320, initial
// and final value 0xFFFFFFFF), computed bit by bit.
func CRC32(b []byte) uint32 {
	c := ^uint32(0)
	for _, x := range b {
		c ^= uint32(x)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xEDB88320
			} else {
				c >>= 1
			}
		}
	}
	return ^c
}
