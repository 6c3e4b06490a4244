package convert

import (
	"errors"
	"fmt"
	"time"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// Framing is how a Gemini client receives a stream.
type Framing uint8

const (
	// FramingSSE writes "data: {...}\n\n" events (Gemini alt=sse, and every
	// other protocol).
	FramingSSE Framing = iota
	// FramingJSONArray writes one JSON array incrementally: "[", chunks
	// separated by ",", "]" (Gemini streamGenerateContent without alt).
	FramingJSONArray
)

// ErrTruncated is returned by End when the upstream body ended before the
// upstream protocol's terminator.
var ErrTruncated = errors.New("upstream stream ended without its terminator")

// streamTool is one tool call of the stream, by ordinal.
type streamTool struct {
	upIdx    int    // upstream key: Chat tool index, Anthropic block index, Responses output index
	out      int    // client-side block / output index
	id, name []byte // owned copies
	args     []byte // accumulated arguments
	open     bool   // not yet closed on the client side
}

// Stream converts one upstream stream into the client's protocol event by
// event. It is not safe for concurrent use; one Stream serves one request.
type Stream struct {
	from, to wire.Protocol
	model    string
	framing  Framing
	created  int64
	p        *fastjson.Parser // pooled, held during one Event only
	out      []byte           // dst while an event is being converted

	id        []byte
	idBuf     [64]byte // id's bytes when they fit (every vendor's ids do)
	started   bool
	upDone    bool // upstream terminator seen
	failed    bool // an error event was delivered to the client
	errEnd    int  // len(s.out) right after the error event: nothing follows it
	ended     bool // client terminator written
	u         usage
	usageSent bool
	fin       finish
	finSent   bool
	stopSeq   []byte
	sawCalls  bool
	tools     []streamTool
	scratch   []byte

	// client-side state
	chatNoUsage bool   // Chat client did not ask for the usage chunk
	chatPre     []byte // "data: {"id":…,"model":…," of every Chat chunk
	roles       uint64 // Chat choices whose role chunk went out
	seq         int    // Responses sequence_number
	nextOut     int    // next Anthropic block index / Responses output index
	cur         blockKind
	curOut      int
	curTool     int    // ordinal of the open tool block, -1 none
	text        []byte // Responses: text of the open message or reasoning item
	items       []byte // Responses: finished output items, for the terminal event
	gemFirst    bool   // Gemini array: "[" written
	gemTool     int    // Gemini: ordinal of the buffered call, -1 none
	tm          *ToolMap
}

type blockKind uint8

const (
	blockNone blockKind = iota
	blockText
	blockThinking
	blockTool
)

// NewStream prepares a conversion from upstream protocol `from` to client
// protocol `to`; model is the name the client asked for and framing applies
// to Gemini clients only.
func NewStream(from, to wire.Protocol, model string, framing Framing) *Stream {
	s := new(Stream)
	s.Init(from, to, model, framing)
	return s
}

// Init is NewStream for a Stream that lives inside the caller's own
// per-stream state (one allocation for both). A Stream must not be copied
// once it started: its id may point into the Stream itself.
func (s *Stream) Init(from, to wire.Protocol, model string, framing Framing) {
	*s = Stream{from: from, to: to, model: model, framing: framing,
		created: time.Now().Unix(), curTool: -1, gemTool: -1}
}

// MapTools gives back to a Responses client the names of the namespace
// and custom tools its request declared (the Converter's Tools).
func (s *Stream) MapTools(tm *ToolMap) { s.tm = tm }

// OmitUsageChunk stops a Chat client from receiving the final usage chunk
// (choices:[]), for clients that did not set stream_options.include_usage:
// some of them index choices[0] of every chunk.
func (s *Stream) OmitUsageChunk() { s.chatNoUsage = true }

// Done reports whether the upstream's terminator was seen (or an upstream
// error event ended the stream).
func (s *Stream) Done() bool { return s.upDone || s.failed }

// Failed reports whether an upstream error event was passed to the client.
func (s *Stream) Failed() bool { return s.failed }

// Event converts one parsed upstream SSE event (name may be empty; data is
// the joined data payload) and appends the resulting complete client events
// to dst. A malformed event is an error and appends nothing.
func (s *Stream) Event(dst []byte, name, data []byte) ([]byte, error) {
	if s.failed || s.ended {
		return dst, nil
	}
	s.out = dst
	s.p = getParser(len(data))
	var err error
	switch s.from {
	case wire.OpenAIChat:
		err = s.decodeChat(data)
	case wire.OpenAIResponses:
		err = s.decodeResponses(name, data)
	case wire.Anthropic:
		err = s.decodeAnthropic(name, data)
	case wire.Gemini:
		err = s.decodeGemini(data)
	default:
		err = fmt.Errorf("convert stream: unknown upstream protocol %d", s.from)
	}
	putParser(s.p, len(data))
	s.p = nil
	out := s.takeOut()
	if err != nil {
		return out, fmt.Errorf("convert %s stream event: %w", s.from, err)
	}
	return out, nil
}

// takeOut ends one call's output. An error event is the last thing a client
// receives, so whatever the converter went on to write after one (the rest
// of the event's parts, the closing chunks of End) is cut here, in one place.
func (s *Stream) takeOut() []byte {
	out := s.out
	s.out = nil
	if s.failed {
		out = out[:s.errEnd]
	}
	return out
}

// End is called when the upstream body ended normally. It appends the
// client's terminator events, or, when the upstream never sent its own
// terminator, an in-stream error event and returns ErrTruncated.
func (s *Stream) End(dst []byte) ([]byte, error) {
	if s.failed || s.ended {
		return dst, nil
	}
	if !s.upDone {
		return s.Fail(dst, wire.BadGateway, "upstream stream ended before it was complete"), ErrTruncated
	}
	s.out = dst
	s.onDone()
	return s.takeOut(), nil
}

// Fail appends an in-stream error event in the client's protocol, closing
// any framing; the stream accepts nothing after it.
func (s *Stream) Fail(dst []byte, kind wire.Kind, message string) []byte {
	if s.failed || s.ended {
		return dst
	}
	s.out = dst
	s.onError(kind, message)
	return s.takeOut()
}

// parse parses one event payload; values die at the next call.
func (s *Stream) parse(data []byte) (*fastjson.Value, error) {
	v, err := s.p.ParseBytes(data)
	if err != nil {
		return nil, err
	}
	if v.Type() != fastjson.TypeObject {
		return nil, errors.New("event data is not a JSON object")
	}
	return v, nil
}

// tool returns the ordinal of the call the upstream knows as upIdx, or -1.
func (s *Stream) tool(upIdx int) int {
	for i := len(s.tools) - 1; i >= 0; i-- {
		if s.tools[i].upIdx == upIdx {
			return i
		}
	}
	return -1
}

func (s *Stream) newTool(upIdx int, id, name []byte) int {
	s.sawCalls = true
	n := len(s.tools)
	if n < cap(s.tools) {
		s.tools = s.tools[:n+1]
	} else {
		s.tools = append(s.tools, streamTool{})
	}
	t := &s.tools[n]
	t.upIdx, t.out, t.open = upIdx, -1, false
	t.id = append(t.id[:0], id...)
	t.name = append(t.name[:0], name...)
	t.args = t.args[:0]
	return n
}

// errorFrom reads an upstream in-stream error object.
func errorFrom(e *fastjson.Value, base wire.Kind) (wire.Kind, string) {
	if e == nil {
		return base, "upstream stream error"
	}
	if inner := e.Get("error"); isType(inner, fastjson.TypeObject) {
		e = inner
	}
	if c := e.Get("code"); isType(c, fastjson.TypeNumber) {
		base = wire.KindForStatus(c.GetInt())
	}
	msg := str(e, "message")
	if msg == "" {
		msg = "upstream stream error"
	}
	return refineKind(base, e), msg
}
