package proxy

import (
	"bytes"
	"io"
	"net"
	"time"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// create runs one response.create as a streamed POST /v1/responses
// through the proxy's handler and sends its events to the socket.
func (w *wsSocket) create(msg []byte) {
	body, input, why := w.requestBody(msg)
	if why != "" {
		w.sendError(wire.InvalidRequest, why)
		w.busy.Store(false) // the refusal was this request's answer
		return
	}
	ctx := new(fasthttp.RequestCtx)
	ctx.Init2(&wsRequestConn{w: w}, w.s.srv.Logger, false)
	w.hdr.CopyTo(&ctx.Request.Header)
	ctx.Request.Header.SetMethod(fasthttp.MethodPost)
	ctx.Request.SetRequestURIBytes(w.path)
	ctx.Request.Header.SetContentType("application/json")
	ctx.Request.SetBodyRaw(body)
	w.s.srv.Handler(ctx)
	defer func() { _ = ctx.Response.CloseBodyStream() }()
	if wt, ok := ctx.Response.BodyStream().(io.WriterTo); ok && ctx.Response.StatusCode() == fasthttp.StatusOK {
		ev := &wsEvents{w: w, input: input}
		_, _ = wt.WriteTo(ev)
		return
	}
	// Refused before any stream: the proxy's or the upstream's error.
	w.sendErrorBody(ctx.Response.StatusCode(), ctx.Response.Body())
	w.busy.Store(false)
}

// requestBody turns a response.create message into a streamed create body
// (type dropped, stream:true), expanding a previous_response_id of this
// socket into the conversation it continues. input is the request's whole
// input, kept for the next previous_response_id.
func (w *wsSocket) requestBody(msg []byte) (body, input []byte, why string) {
	var p fastjson.Parser
	v, err := p.ParseBytes(msg)
	if err != nil || v.Type() != fastjson.TypeObject {
		return nil, nil, "a message must be a JSON object"
	}
	if t := string(v.GetStringBytes("type")); t != "response.create" {
		return nil, nil, "unknown message type " + quote(t) + ": want response.create"
	}
	prev := string(v.GetStringBytes("previous_response_id"))
	expand := prev != "" && prev == w.lastID
	input = append(input, '[')
	if expand {
		input = append(input, w.lastItems...)
	}
	input = appendInputItems(input, v.Get("input"), expand && len(w.lastItems) > 0)
	input = append(input, ']')

	obj, _ := v.Object()
	body = append(body, '{')
	obj.Visit(func(k []byte, f *fastjson.Value) {
		switch string(k) {
		case "type", "stream", "input", "background":
			return
		case "previous_response_id":
			if expand {
				return // the socket sends the conversation itself
			}
		}
		body = wire.AppendJSONString(append(body, ""...), string(k))
		body = f.MarshalTo(append(body, ':'))
		body = append(body, ',')
	})
	body = append(append(append(body, `"input":`...), input...), `,"stream":true}`...)
	return body, input, ""
}

// appendInputItems writes a create body's input as array elements: a
// string is one user message.
func appendInputItems(dst []byte, in *fastjson.Value, comma bool) []byte {
	if in == nil {
		return dst
	}
	if in.Type() == fastjson.TypeString {
		if comma {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"role":"user","content":`...)
		return append(in.MarshalTo(dst), '}')
	}
	items, _ := in.Array()
	for _, it := range items {
		if comma {
			dst = append(dst, ',')
		}
		comma = true
		dst = it.MarshalTo(dst)
	}
	return dst
}

// wsEvents receives a Responses SSE stream from the relay and sends each
// event's data as one text message. It keeps the final response's id and
// output for previous_response_id.
type wsEvents struct {
	w     *wsSocket
	input []byte // the request's input array
	buf   []byte
}

func (e *wsEvents) Write(p []byte) (int, error) {
	if e.w.gone.Load() {
		return 0, net.ErrClosed // the relay then closes the upstream
	}
	e.buf = append(e.buf, p...)
	for {
		i := bytes.Index(e.buf, []byte("\n\n"))
		if i < 0 {
			break
		}
		e.event(e.buf[:i])
		e.buf = e.buf[i+2:]
	}
	if e.w.gone.Load() {
		return 0, net.ErrClosed
	}
	return len(p), nil
}

// event sends one SSE event's data (comments and heartbeats are the
// socket's own business: WebSocket has pings).
func (e *wsEvents) event(block []byte) {
	var data []byte
	for _, line := range bytes.Split(block, []byte("\n")) {
		if d, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			data = append(data, bytes.TrimPrefix(d, []byte(" "))...)
		}
	}
	if len(data) == 0 {
		return
	}
	e.remember(data)
	e.w.send(data)
	if terminal(data) {
		// The client may send its next response.create from here on.
		e.w.busy.Store(false)
	}
}

// terminal reports whether a Responses event ends its response.
func terminal(data []byte) bool {
	for _, t := range [...]string{`"type":"response.completed"`, `"type":"response.incomplete"`, `"type":"response.failed"`, `"type":"error"`} {
		if bytes.HasPrefix(data, []byte("{"+t)) {
			return true
		}
	}
	return false
}

// remember keeps a finished response's conversation: the input it was
// given and the output it produced, for a response.create that continues
// it. A conversation larger than a request body may be is not kept.
func (e *wsEvents) remember(data []byte) {
	if !bytes.Contains(data, []byte(`"response.completed"`)) && !bytes.Contains(data, []byte(`"response.incomplete"`)) {
		return
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(data)
	if err != nil {
		return
	}
	r := v.Get("response")
	id := string(r.GetStringBytes("id"))
	items := e.input[1 : len(e.input)-1] // the elements, without brackets
	kept := append([]byte(nil), items...)
	var out []*fastjson.Value
	if ov := r.Get("output"); ov != nil && ov.Type() == fastjson.TypeArray {
		out, _ = ov.Array()
	}
	for _, it := range out {
		if len(kept) > 0 {
			kept = append(kept, ',')
		}
		kept = it.MarshalTo(kept)
	}
	e.w.lastID, e.w.lastItems = id, nil
	if len(kept) <= e.w.s.current().cfg.Server.MaxBodyBytes {
		e.w.lastItems = kept
	}
}

// errorObject is the {...} inside an {"error":{...}} body, nil if body is
// not one.
func errorObject(body []byte) []byte {
	var p fastjson.Parser
	v, err := p.ParseBytes(body)
	if err != nil {
		return nil
	}
	e := v.Get("error")
	if e == nil || e.Type() != fastjson.TypeObject {
		return nil
	}
	return e.MarshalTo(nil)
}

// wsRequestConn stands in for the client connection of a request that
// came over the socket: the handler and the relay may ask its addresses,
// set deadlines, and ask whether the client left.
type wsRequestConn struct {
	w *wsSocket
}

func (c *wsRequestConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (c *wsRequestConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *wsRequestConn) Close() error                     { return nil }
func (c *wsRequestConn) LocalAddr() net.Addr              { return c.w.c.LocalAddr() }
func (c *wsRequestConn) RemoteAddr() net.Addr             { return c.w.remote }
func (c *wsRequestConn) SetDeadline(time.Time) error      { return nil }
func (c *wsRequestConn) SetReadDeadline(time.Time) error  { return nil }
func (c *wsRequestConn) SetWriteDeadline(time.Time) error { return nil }

// PeerClosed reports whether the socket's client went away (peerClosed
// asks it of connections that are not sockets of their own).
func (c *wsRequestConn) PeerClosed() bool { return c.w.gone.Load() }
