package proxy

import (
	"bytes"
	"strconv"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/convert"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// relayUpstreamError answers with the upstream's error status in the
// client's protocol. A body that already is an error object of that
// protocol goes through as it came; one from another protocol is converted;
// anything else (an HTML page from a load balancer, plain text) is wrapped.
func (s *Server) relayUpstreamError(x *exchange, res *providers.Result) {
	ctx := x.ctx
	markNoRetry(ctx, res.Status)
	body := bytes.TrimSpace(res.Body)
	if red := x.snap.redactor; red.Contains(body) {
		// Upstreams quote the key they rejected; the client must not see it.
		body = red.Bytes(nil, body)
	}
	ctx.SetContentType("application/json")
	if from := x.route.provider.Protocol(); from != x.in {
		status, out := convert.UpstreamError(from, x.in, res.Status, body)
		ctx.SetStatusCode(status)
		ctx.Response.SetBodyRaw(out)
		return
	}
	ctx.SetStatusCode(res.Status)
	if looksLikeError(body) {
		ctx.Response.SetBody(body)
		return
	}
	msg := "upstream answered HTTP " + strconv.Itoa(res.Status)
	if len(body) > 0 {
		if len(body) > 512 {
			body = body[:512]
		}
		msg += ": " + string(body)
	}
	ctx.Response.SetBodyRaw(wire.AppendError(nil, x.in, wire.KindForStatus(res.Status), msg, ""))
}

// looksLikeError reports whether b is a JSON object carrying an "error" key,
// the shape every supported protocol uses for errors.
func looksLikeError(b []byte) bool {
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	v, err := fastjson.ParseBytes(b)
	return err == nil && v.Get("error") != nil
}

func upstreamFailure(k wire.Kind) string {
	switch k {
	case wire.Timeout:
		return "upstream timed out"
	case wire.Unavailable:
		return "upstream connection pool exhausted; retry later"
	}
	return "upstream unreachable"
}

// setRequestID keeps the client's X-Request-Id or makes one, and returns it
// on the response.
func (s *Server) setRequestID(ctx *fasthttp.RequestCtx) {
	if id := ctx.Request.Header.Peek("X-Request-Id"); len(id) > 0 && len(id) <= 128 {
		ctx.Response.Header.SetBytesV("X-Request-Id", id)
		return
	}
	var buf [40]byte
	ctx.Response.Header.SetBytesV("X-Request-Id", s.ids.append(buf[:0]))
}
