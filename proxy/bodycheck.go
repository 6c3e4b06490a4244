package proxy

import (
	"bytes"
	"errors"
	"strconv"

	"github.com/llmproxy/proxy/providers/jsonscan"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
)

// jsonBody wraps a handler whose body is a JSON request object. Before any
// field is read it refuses, in protocol p:
//   - a content type other than JSON: a web page can POST text/plain or a
//     form to a local port without a preflight, JSON needs one;
//   - anything but strict JSON, a top-level key given twice or spelt with
//     escapes (the upstream would read another value than the proxy
//     authorised and routed on), NaN, Infinity or numbers out of range;
//   - a body over server.limits (values, depth, top-level array length):
//     what a small body can cost once parsed is bounded.
func (s *Server) jsonBody(p wire.Protocol, h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if len(ctx.PostBody()) > 0 && !isJSON(ctx.Request.Header.ContentType()) {
			s.reject(ctx, p, wire.UnsupportedMediaType, "Content-Type must be application/json, got "+
				strconv.Quote(capString(ctx.Request.Header.ContentType(), 100)))
			return
		}
		if kind, msg, param := s.checkJSON(ctx.PostBody()); msg != "" {
			s.rejectParam(ctx, p, kind, msg, param)
			s.prompts.Log(b2s(ctx.Response.Header.Peek("X-Request-Id")), p.String(), "", ctx.PostBody())
			return
		}
		h(ctx)
	}
}

// checkJSON scans body and says what is wrong with it, if anything.
func (s *Server) checkJSON(body []byte) (wire.Kind, string, string) {
	lim := s.cfg.Server.Limits
	var (
		tooMany bool
		key     []byte
		items   int
	)
	err := jsonscan.Object(body, jsonscan.Limits{MaxDepth: lim.MaxJSONDepth, MaxValues: lim.MaxJSONValues}, func(m jsonscan.Member) error {
		if m.Elems > lim.MaxArrayItems && !tooMany {
			tooMany, key, items = true, m.Key, m.Elems
		}
		return nil
	})
	switch {
	case err != nil:
		return scanRefusal(err)
	case tooMany:
		return wire.RequestTooLarge, string(key) + " has " + strconv.Itoa(items) + " items, more than " +
			strconv.Itoa(lim.MaxArrayItems) + " (server.limits.max_array_items)", string(key)
	}
	return 0, "", ""
}

// scanRefusal says what the scanner found wrong. It is a function of its
// own because the *jsonscan.Error that errors.As fills moves to the heap:
// declared in checkJSON, it cost an allocation on every request.
func scanRefusal(err error) (wire.Kind, string, string) {
	var se *jsonscan.Error
	switch {
	case errors.As(err, &se) && se.TooLarge:
		return wire.RequestTooLarge, se.Error() + " (server.limits)", ""
	case errors.As(err, &se):
		return wire.InvalidRequest, "invalid request body: " + se.Error(), se.Key
	}
	return wire.InvalidRequest, "invalid request body: " + err.Error(), ""
}

// isJSON accepts application/json with or without parameters
// (charset=utf-8), case-insensitively.
func isJSON(ct []byte) bool {
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return bytes.EqualFold(bytes.TrimSpace(ct), []byte("application/json"))
}

// capString returns at most n bytes of b as a string, marked when cut.
func capString(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}
