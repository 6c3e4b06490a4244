package proxy

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/llmproxy/proxy/providers/jsonpatch"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/llmproxy/proxy/stream"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// wsTurn is one response.create made into a POST /v1/responses body.
type wsTurn struct {
	body []byte
	// items is the conversation this response continues, raw items joined
	// by commas: the expanded history and this turn's own input.
	items []byte
	// generate false: Codex's warm-up, answered without an upstream.
	generate bool
	model    string
	// upstreamKeeps: a Responses upstream stores this response, so it can
	// resolve its id in a later previous_response_id itself.
	upstreamKeeps bool
	// partial: the turn continued a response the upstream resolved whose
	// history this socket does not hold in full, so items is not the
	// whole conversation.
	partial bool
}

// socket message field names the proxy acts on.
const (
	fieldType     = "type"
	fieldPrevious = "previous_response_id"
	fieldInput    = "input"
)

// isProcessed reports Codex's response.processed acknowledgement.
func isProcessed(msg []byte) bool {
	s, e, ok, err := jsonpatch.Find(msg, fieldType)
	if err != nil || !ok {
		return false
	}
	t, _ := jsonString(msg[s:e])
	return t == "response.processed"
}

// turn runs one response.create: as a POST /v1/responses through the
// server's handler, whose stream the relay writes as frames.
func (w *wsSocket) turn(msg []byte) {
	rc := w.newCtx()
	t, kind, emsg, param := w.prepare(rc, msg)
	if emsg != "" {
		w.ended.Store(true)
		w.fail(kind, emsg, param)
		return
	}
	if !t.generate {
		w.warmUp(&t)
		return
	}
	rc.Request.SetBodyRaw(t.body)
	if n := int64(len(t.body)); n > smallBody {
		// Large bodies share the budget of the HTTP route's.
		if !w.s.bodies.reserve(&rc.Request.Header, n) {
			w.ended.Store(true)
			w.fail(wire.Unavailable, "too many large request bodies are being handled at once (server.limits.max_inflight_body_bytes); retry later", "")
			return
		}
		defer w.s.bodies.release(&rc.Request.Header)
	}
	w.s.srv.Handler(rc)
	frames := &w.frames // its buffers serve the socket's every response
	*frames = wsFrames{sock: w, max: w.s.cfg.Server.MaxEventBytes,
		carry: frames.carry[:0], data: frames.data[:0], name: frames.name[:0], batch: frames.batch[:0], output: frames.output[:0]}
	resp := &rc.Response
	if resp.IsBodyStream() {
		if r, ok := resp.BodyStream().(*stream.Relay); ok {
			w.setCurrent(r)
			if w.gone.Load() {
				r.Abort(stream.ErrClientGone) // the client left while the handler ran
			}
			_, _ = r.WriteTo(frames)
			w.setCurrent(nil)
		}
		_ = resp.CloseBodyStream()
	} else if resp.StatusCode() == fasthttp.StatusOK {
		w.ended.Store(true)
		frames.whole(resp.Body())
	} else {
		w.ended.Store(true)
		w.relayError(resp.StatusCode(), resp.Body())
	}
	if frames.done && frames.id != "" {
		w.conv.commit(frames.id, t.items, frames.output, t.upstreamKeeps, w.limit)
		w.conv.lost = w.conv.lost || t.partial
	}
	if cap(frames.batch) > 64<<10 || cap(frames.output) > 64<<10 {
		frames.batch, frames.output = nil, nil // an idle socket keeps no large buffer
	}
}

// newCtx is a request context for one response: the upgrade request's
// headers, the socket's client and path, the client's connection. One per
// socket, reused: responses run one at a time and nothing keeps it.
func (w *wsSocket) newCtx() *fasthttp.RequestCtx {
	rc := w.rc
	if rc == nil {
		rc = new(fasthttp.RequestCtx)
		w.rc = rc
	}
	rc.Request.Reset()
	rc.Response.Reset()
	rc.ResetUserValues()
	rc.Init2(w.view, w.s.srv.Logger, true) // an idle socket keeps no body buffers
	w.header.CopyTo(&rc.Request.Header)
	if w.client != nil {
		rc.SetUserValue(userClient, w.client)
	}
	if w.provider != "" {
		rc.SetUserValue("provider", w.provider)
	}
	return rc
}

// prepare checks msg and makes the request body: the message's members
// but its type and the WebSocket-only ones, stream on, and for a
// continuation the input either left to an upstream that keeps the
// previous response or expanded from the socket's memory of it.
func (w *wsSocket) prepare(rc *fasthttp.RequestCtx, msg []byte) (wsTurn, wire.Kind, string, string) {
	var t wsTurn
	if err := fastjson.ValidateBytes(msg); err != nil {
		return t, wire.InvalidRequest, "the message is not valid JSON: " + err.Error(), ""
	}
	ms, err := members(msg, nil)
	if err != nil {
		return t, wire.InvalidRequest, "the message must be a JSON object: " + err.Error(), ""
	}
	if k := uniqueKeys(ms); k != "" {
		return t, wire.InvalidRequest, "the message has the key " + strconv.Quote(k) + " twice", k
	}
	if typ, _ := jsonString(lookup(ms, fieldType)); typ != "response.create" {
		return t, wire.InvalidRequest, "unsupported event type " + strconv.Quote(capString([]byte(typ), 64)) +
			": this socket takes response.create (and response.processed)", fieldType
	}
	if v := lookup(ms, "background"); v != nil && string(v) != "false" {
		return t, wire.InvalidRequest, "background responses are not supported over a WebSocket", "background"
	}
	t.model, _ = jsonString(lookup(ms, "model"))
	t.generate = string(lookup(ms, "generate")) != "false"
	input, err := inputItems(lookup(ms, fieldInput))
	if err != nil {
		return t, wire.InvalidRequest, "input: " + err.Error(), fieldInput
	}
	stored := string(lookup(ms, "store")) != "false"
	responsesUp := w.routesToResponses(rc, t.model)
	t.upstreamKeeps = stored && responsesUp

	var history []byte
	keepPrevious := false
	if v := lookup(ms, fieldPrevious); v != nil && string(v) != "null" {
		prev, ok := jsonString(v)
		switch {
		case !ok:
			return t, wire.InvalidRequest, "previous_response_id must be a string", fieldPrevious
		case prev == w.conv.id && w.conv.upstream && t.upstreamKeeps && t.generate:
			// The upstream made and stored it: it resolves the id itself.
			keepPrevious = true
			history = w.conv.items
			t.partial = w.conv.lost
		case prev == w.conv.id && w.conv.lost:
			return t, wire.InvalidRequest, "the conversation of response " + strconv.Quote(prev) + " is not held in full on this socket " +
				"(it outgrew server.max_body_bytes, or began on another connection); send the whole input without previous_response_id", fieldPrevious
		case prev == w.conv.id:
			history = w.conv.items
		case responsesUp && t.generate:
			// Not made on this socket: perhaps stored upstream earlier,
			// which then resolves it; its history is unknown here.
			keepPrevious = true
			t.partial = true
		default:
			return t, wire.NotFound, "previous response " + strconv.Quote(prev) + " is not the last response of this socket; " +
				"send the whole input without previous_response_id", fieldPrevious
		}
		if !keepPrevious {
			t.upstreamKeeps = false
		}
	}
	t.items = joinItems(history, input)
	if !t.generate {
		return t, 0, "", ""
	}
	var extra [][]byte
	extra = append(extra, []byte(`"stream":true`))
	if !keepPrevious && len(history) > 0 {
		in := append([]byte(`"input":`), appendArray(nil, [][]byte{t.items})...)
		extra = append(extra, in)
	}
	t.body = appendObject(make([]byte, 0, len(msg)+len(history)+32), ms, func(k []byte) bool {
		switch string(k) {
		case fieldType, "generate", "stream", "background":
			return false
		case fieldPrevious:
			return keepPrevious
		case fieldInput:
			return keepPrevious || len(history) == 0
		}
		return true
	}, extra...)
	if len(t.body) > w.limit {
		return t, wire.RequestTooLarge, "the request with its conversation is " + strconv.Itoa(len(t.body)) + " bytes, over " +
			strconv.Itoa(w.limit) + " (server.max_body_bytes); start again without previous_response_id", fieldPrevious
	}
	return t, 0, "", ""
}

// routesToResponses reports whether model goes to a Responses upstream
// first (its fallbacks may differ).
func (w *wsSocket) routesToResponses(rc *fasthttp.RequestCtx, model string) bool {
	rt, _, msg := w.s.current().route(rc, []byte(model))
	return msg == "" && rt.provider.Protocol() == wire.OpenAIResponses
}

// inputItems returns the raw items of a Responses input: a string is one
// user message.
func inputItems(v []byte) ([][]byte, error) {
	if v == nil || string(v) == "null" {
		return nil, nil
	}
	if v[0] == '"' {
		item := append([]byte(`{"type":"message","role":"user","content":`), v...)
		return [][]byte{append(item, '}')}, nil
	}
	return elements(v, nil)
}

// joinItems joins history (items already joined) and more items by commas.
func joinItems(history []byte, more [][]byte) []byte {
	n := len(history)
	for _, m := range more {
		n += len(m) + 1
	}
	out := make([]byte, 0, n)
	out = append(out, history...)
	for _, m := range more {
		if len(out) > 0 {
			out = append(out, ',')
		}
		out = append(out, m...)
	}
	return out
}

// warmUp answers response.create with generate:false, which Codex sends to
// open a conversation before its first real turn: a response with no
// output that later turns continue, made without calling an upstream.
func (w *wsSocket) warmUp(t *wsTurn) {
	var idb [12]byte
	_, _ = rand.Read(idb[:])
	id := "resp_" + hex.EncodeToString(idb[:])
	now := strconv.FormatInt(time.Now().Unix(), 10)
	head := `{"id":"` + id + `","object":"response","created_at":` + now + `,"model":` +
		string(wire.AppendJSONString(nil, t.model)) + `,"output":[],`
	if w.send([]byte(`{"type":"response.created","sequence_number":0,"response":`+head+`"status":"in_progress"}}`)) != nil {
		return
	}
	w.ended.Store(true)
	if w.send([]byte(`{"type":"response.completed","sequence_number":1,"response":`+head+
		`"status":"completed","usage":{"input_tokens":0,"output_tokens":0,"total_tokens":0}}}`)) != nil {
		return
	}
	w.conv.commit(id, t.items, nil, false, w.limit)
}

// relayError sends an answer the handler gave instead of a stream (the
// HTTP route's error, in OpenAI's shape) as an error event with its status.
func (w *wsSocket) relayError(status int, body []byte) {
	var errObj []byte
	if s, e, ok, err := jsonpatch.Find(body, "error"); err == nil && ok && body[s] == '{' {
		errObj = body[s:e]
	} else {
		errObj = wire.AppendError(nil, wire.OpenAIResponses, wire.KindForStatus(status),
			"upstream answered HTTP "+strconv.Itoa(status), "")
		errObj = errObj[len(`{"error":`) : len(errObj)-1]
		errObj = append([]byte(nil), errObj...)
	}
	_ = w.send(appendSocketError(nil, status, append(append([]byte(`{"error":`), errObj...), '}')))
}

// appendSocketError appends a WebSocket error event: the HTTP error body
// {"error":{...}} with "type":"error" and the status it would have had, the
// shape OpenAI's socket sends and Codex reads (it retries by status).
func appendSocketError(dst []byte, status int, body []byte) []byte {
	dst = append(dst, `{"type":"error","status":`...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	if s, e, ok, err := jsonpatch.Find(body, "error"); err == nil && ok {
		dst = append(dst, `,"error":`...)
		dst = append(dst, body[s:e]...)
	}
	return append(dst, '}')
}

// wsFrames is the relay's writer for a socket: each SSE event the relay
// writes (whole events, as the relay always writes) leaves as one text
// frame holding the event's data; a heartbeat becomes a ping. It also
// notes the response's id and output for previous_response_id.
type wsFrames struct {
	sock *wsSocket
	max  int
	// carry holds an event cut between two writes (not expected).
	carry []byte
	data  []byte
	name  []byte
	// batch holds the frames of one write, sent together.
	batch []byte
	// id and output of the response; done once it completed.
	id     string
	output []byte
	done   bool
}

func (f *wsFrames) Write(p []byte) (int, error) {
	if f.sock.gone.Load() {
		return 0, errSocketGone
	}
	buf := p
	if len(f.carry) > 0 {
		f.carry = append(f.carry, p...)
		buf = f.carry
	}
	rest, err := f.events(buf)
	if err == nil && len(f.batch) > 0 {
		err = f.sock.sendFrames(f.batch)
	}
	f.batch = f.batch[:0]
	if err != nil {
		return 0, err
	}
	if len(rest) > f.max {
		return 0, stream.ErrEventTooLarge
	}
	f.carry = append(f.carry[:0], rest...)
	return len(p), nil
}

// events sends every complete event in buf and returns what is left.
func (f *wsFrames) events(buf []byte) ([]byte, error) {
	start := 0
	comment, seen := false, false
	f.data, f.name = f.data[:0], f.name[:0]
	hasData := false
	for i := 0; i < len(buf); {
		nl := bytes.IndexByte(buf[i:], '\n')
		if nl < 0 {
			break
		}
		line := bytes.TrimSuffix(buf[i:i+nl], []byte("\r"))
		i += nl + 1
		if len(line) == 0 {
			if seen {
				if err := f.event(hasData, comment); err != nil {
					return nil, err
				}
			}
			start = i
			comment, seen, hasData = false, false, false
			f.data, f.name = f.data[:0], f.name[:0]
			continue
		}
		seen = true
		if line[0] == ':' {
			comment = true
			continue
		}
		field, value := line, []byte(nil)
		if c := bytes.IndexByte(line, ':'); c >= 0 {
			field, value = line[:c], bytes.TrimPrefix(line[c+1:], []byte(" "))
		}
		switch string(field) {
		case "event":
			f.name = append(f.name[:0], value...)
		case "data":
			if hasData {
				f.data = append(f.data, '\n')
			}
			f.data = append(f.data, value...)
			hasData = true
		}
	}
	return buf[start:], nil
}

// event sends one event's data as a frame.
func (f *wsFrames) event(hasData, comment bool) error {
	if !hasData {
		if comment && len(f.batch) == 0 {
			return f.sock.ping()
		}
		return nil
	}
	data := f.data
	if string(data) == "[DONE]" {
		return nil
	}
	typ := string(f.name)
	if typ == "" {
		if s, e, ok, err := jsonpatch.Find(data, fieldType); err == nil && ok {
			typ, _ = jsonString(data[s:e])
		}
	}
	switch typ {
	case "error":
		f.sock.ended.Store(true)
		f.batch = appendTextFrame(f.batch, socketErrorEvent(data))
		return nil
	case "response.created":
		f.id = responseID(data)
	case "response.completed", "response.incomplete":
		f.note(data)
		f.sock.ended.Store(true)
	case "response.failed":
		f.sock.ended.Store(true)
	}
	f.batch = appendTextFrame(f.batch, data)
	return nil
}

// whole sends a complete (non-stream) response, which an upstream may give
// even when asked to stream, as the stream's terminal event.
func (f *wsFrames) whole(body []byte) {
	ev := append([]byte(`{"type":"response.completed","response":`), body...)
	ev = append(ev, '}')
	f.note(ev)
	_ = f.sock.send(ev)
}

// note keeps the id and output of a finished response.
func (f *wsFrames) note(data []byte) {
	s, e, ok, err := jsonpatch.Find(data, "response")
	if err != nil || !ok {
		return
	}
	resp := data[s:e]
	if id := responseID(data); id != "" {
		f.id = id
	}
	if s, e, ok, err := jsonpatch.Find(resp, "output"); err == nil && ok {
		f.output = append(f.output[:0], resp[s:e]...)
	}
	f.done = true
}

// responseID is response.id of a response event.
func responseID(data []byte) string {
	s, e, ok, err := jsonpatch.Find(data, "response")
	if err != nil || !ok || data[s] != '{' {
		return ""
	}
	resp := data[s:e]
	if s, e, ok, err := jsonpatch.Find(resp, "id"); err == nil && ok {
		id, _ := jsonString(resp[s:e])
		return id
	}
	return ""
}

// socketErrorEvent rewrites an SSE error event (the relay's own, nested
// under "error", or an upstream's flat {type,code,message,param}) as the
// socket's error event, with a status from its type and code.
func socketErrorEvent(data []byte) []byte {
	obj := data
	if s, e, ok, err := jsonpatch.Find(data, "error"); err == nil && ok && data[s] == '{' {
		obj = data[s:e]
	}
	var code, typ string
	if s, e, ok, err := jsonpatch.Find(obj, "code"); err == nil && ok {
		code, _ = jsonString(obj[s:e])
	}
	if s, e, ok, err := jsonpatch.Find(obj, "type"); err == nil && ok {
		typ, _ = jsonString(obj[s:e])
	}
	ms, err := members(obj, nil)
	if err != nil {
		ms = nil
	}
	body := append([]byte(`{"error":`), appendObject(nil, ms, func(k []byte) bool {
		return string(k) != "sequence_number" && !(string(k) == "type" && typ == "error")
	})...)
	body = append(body, '}')
	return appendSocketError(nil, errorStatus(typ, code), body)
}

// errorStatus is the HTTP status an in-stream error stands for.
func errorStatus(typ, code string) int {
	switch code {
	case "rate_limit_exceeded", "insufficient_quota":
		return 429
	case "bad_gateway":
		return 502
	case "service_unavailable", "server_is_overloaded":
		return 503
	case "timeout":
		return 504
	case "request_too_large", "context_length_exceeded":
		return 400
	case "invalid_api_key":
		return 401
	case "model_not_found", "not_found":
		return 404
	}
	switch typ {
	case "invalid_request_error":
		return 400
	case "authentication_error":
		return 401
	case "permission_error":
		return 403
	case "rate_limit_error":
		return 429
	}
	return 500
}
