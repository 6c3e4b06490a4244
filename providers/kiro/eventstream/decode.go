// Package eventstream decodes AWS event-stream messages
// (application/vnd.amazon.eventstream), the binary framing Amazon's
// streaming APIs answer with: a 12-byte prelude (total length, headers
// length, both big-endian uint32, and the prelude's CRC32), the headers,
// the payload, and the CRC32 of everything before it. Both checksums are
// checked; a message that fails either, or ends early, is an error, never
// a guess at where the next one starts.
package eventstream

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

const (
	preludeLen = 12
	crcLen     = 4
	// minMessage is a message with no header and no payload.
	minMessage = preludeLen + crcLen
	// DefaultMaxMessage bounds one message (the framing spec's own
	// limit is 16 MiB of payload; a chat event is a few KiB).
	DefaultMaxMessage = 16 << 20
	// maxHeaders is the spec's bound on a message's headers.
	maxHeaders = 128 << 10
)

// Header value types, as the framing spec numbers them.
const (
	TypeBoolTrue  = 0
	TypeBoolFalse = 1
	TypeByte      = 2
	TypeShort     = 3
	TypeInt       = 4
	TypeLong      = 5
	TypeBytes     = 6
	TypeString    = 7
	TypeTimestamp = 8
	TypeUUID      = 9
)

// Errors a Decoder returns (wrapped with detail).
var (
	ErrTruncated  = errors.New("eventstream: the stream ended inside a message")
	ErrPreludeCRC = errors.New("eventstream: prelude CRC mismatch")
	ErrMessageCRC = errors.New("eventstream: message CRC mismatch")
	ErrMalformed  = errors.New("eventstream: malformed message")
	ErrTooLarge   = errors.New("eventstream: message larger than the limit")
)

// Header is one header of a message. Value holds the raw value bytes (a
// string's or byte array's content without its length; a number's
// big-endian bytes; nothing for the booleans).
type Header struct {
	Name  string
	Type  byte
	Value []byte
}

// Message is one decoded message. Its Payload and header values alias the
// Decoder's buffer and are valid until the next call to Next.
type Message struct {
	Headers []Header
	Payload []byte
}

// Header returns the string value of the header named name, or "".
func (m *Message) Header(name string) string {
	for _, h := range m.Headers {
		if h.Name == name && (h.Type == TypeString || h.Type == TypeBytes) {
			return string(h.Value)
		}
	}
	return ""
}

// Decoder reads messages one after another from a stream.
type Decoder struct {
	r   *bufio.Reader
	max int
	buf []byte
	msg Message
}

// NewDecoder reads from r; a message longer than max bytes (0: the
// default) is refused before any of it is buffered.
func NewDecoder(r io.Reader, max int) *Decoder {
	if max <= 0 {
		max = DefaultMaxMessage
	}
	return &Decoder{r: bufio.NewReaderSize(r, 32<<10), max: max}
}

// Next returns the next message; io.EOF when the stream ended cleanly
// between two messages, another error otherwise.
func (d *Decoder) Next() (*Message, error) {
	var prelude [preludeLen]byte
	n, err := io.ReadFull(d.r, prelude[:])
	switch {
	case err == io.EOF:
		return nil, io.EOF
	case err == io.ErrUnexpectedEOF:
		return nil, fmt.Errorf("%w (%d of the prelude's %d bytes)", ErrTruncated, n, preludeLen)
	case err != nil:
		return nil, err
	}
	total := binary.BigEndian.Uint32(prelude[0:4])
	hlen := binary.BigEndian.Uint32(prelude[4:8])
	if got, want := crc32.ChecksumIEEE(prelude[:8]), binary.BigEndian.Uint32(prelude[8:12]); got != want {
		return nil, fmt.Errorf("%w (computed %08x, message says %08x)", ErrPreludeCRC, got, want)
	}
	if total < minMessage || uint64(hlen) > uint64(total)-minMessage {
		return nil, fmt.Errorf("%w: total length %d, headers length %d", ErrMalformed, total, hlen)
	}
	if uint64(total) > uint64(d.max) || hlen > maxHeaders {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrTooLarge, total, d.max)
	}
	if cap(d.buf) < int(total) {
		d.buf = make([]byte, total)
	}
	buf := d.buf[:total]
	copy(buf, prelude[:])
	if n, err := io.ReadFull(d.r, buf[preludeLen:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%w (%d of %d bytes)", ErrTruncated, preludeLen+n, total)
		}
		return nil, err
	}
	body := buf[:total-crcLen]
	if got, want := crc32.ChecksumIEEE(body), binary.BigEndian.Uint32(buf[total-crcLen:]); got != want {
		return nil, fmt.Errorf("%w (computed %08x, message says %08x)", ErrMessageCRC, got, want)
	}
	headers := body[preludeLen : preludeLen+hlen]
	d.msg.Headers = d.msg.Headers[:0]
	if err := d.parseHeaders(headers); err != nil {
		return nil, err
	}
	d.msg.Payload = body[preludeLen+hlen:]
	return &d.msg, nil
}

// valueLen is the fixed length of a header type's value, or -1 for the
// types with a 2-byte length prefix, or -2 for an unknown type.
func valueLen(t byte) int {
	switch t {
	case TypeBoolTrue, TypeBoolFalse:
		return 0
	case TypeByte:
		return 1
	case TypeShort:
		return 2
	case TypeInt:
		return 4
	case TypeLong, TypeTimestamp:
		return 8
	case TypeUUID:
		return 16
	case TypeBytes, TypeString:
		return -1
	}
	return -2
}

func (d *Decoder) parseHeaders(b []byte) error {
	for len(b) > 0 {
		nameLen := int(b[0])
		if nameLen == 0 || len(b) < 1+nameLen+1 {
			return fmt.Errorf("%w: header name runs past the headers", ErrMalformed)
		}
		name := headerName(b[1 : 1+nameLen])
		typ := b[1+nameLen]
		b = b[2+nameLen:]
		n := valueLen(typ)
		switch n {
		case -2:
			return fmt.Errorf("%w: header %q has unknown value type %d", ErrMalformed, name, typ)
		case -1:
			if len(b) < 2 {
				return fmt.Errorf("%w: header %q value length runs past the headers", ErrMalformed, name)
			}
			n = int(binary.BigEndian.Uint16(b))
			b = b[2:]
		}
		if len(b) < n {
			return fmt.Errorf("%w: header %q value runs past the headers", ErrMalformed, name)
		}
		d.msg.Headers = append(d.msg.Headers, Header{Name: name, Type: typ, Value: b[:n]})
		b = b[n:]
	}
	return nil
}

// headerName returns the well-known names without allocating.
func headerName(b []byte) string {
	switch string(b) {
	case ":event-type":
		return ":event-type"
	case ":content-type":
		return ":content-type"
	case ":message-type":
		return ":message-type"
	case ":exception-type":
		return ":exception-type"
	case ":error-code":
		return ":error-code"
	case ":error-message":
		return ":error-message"
	}
	return string(b)
}
