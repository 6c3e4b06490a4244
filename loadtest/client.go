package loadtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// endpoint is one target URL with its connection pool and pre-built bodies.
type endpoint struct {
	name       string
	url        string
	proto      *protocol
	hc         *fasthttp.HostClient
	uriPlain   string
	uriStream  string
	auth       string
	headers    [][2]string
	bodyStream []byte
	bodyPlain  []byte
	pool       [][2][]byte // more than one body pair: rotated
	tl         *timeline
	recs       []*recorder
	// open and inflight count the streams open and the requests in flight
	// now, for the resource samples.
	open, inflight atomic.Int64
	log            *requestLog // nil unless --request-log
}

// endpointSpec is what every endpoint of a run shares.
type endpointSpec struct {
	proto   *protocol
	model   string
	apiKey  string
	conns   int
	timeout time.Duration
	bodies  [2][]byte // plain, streamed
	// pool, when it holds more than one pair, is rotated through by
	// every worker (bodies is its first pair).
	pool [][2][]byte
}

// newEndpoint builds the HostClient for target, which is either a base URL
// (scheme://host:port[/prefix][/v1]) or a full endpoint URL of the
// protocol (…/v1/chat/completions, …/v1beta/models/M:generateContent).
// Connections are kept alive and reused; MaxConns covers every worker so no
// request waits for a free connection inside the client.
func newEndpoint(name, target string, sp endpointSpec) (*endpoint, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("parse %s URL %q: %w", name, target, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%s URL %q: scheme must be http or https", name, target)
	}
	if sp.proto == nil {
		sp.proto = protocols["chat"]
	}
	addr := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			addr += ":443"
		} else {
			addr += ":80"
		}
	}
	model := sp.model
	path, proto, urlModel, full := endpointPaths(u.Path)
	switch {
	case full && proto != sp.proto.name:
		return nil, fmt.Errorf("%s URL %q is a %s endpoint, the run speaks %s", name, target, proto, sp.proto.name)
	case full:
		if urlModel != "" {
			model = urlModel
		}
	default:
		// A base URL, with or without the API version.
		path = strings.TrimSuffix(u.Path, "/")
		path = strings.TrimSuffix(strings.TrimSuffix(path, "/v1"), "/v1beta")
	}
	root := u.Scheme + "://" + u.Host + path
	ep := &endpoint{
		name:  name,
		url:   target,
		proto: sp.proto,
		hc: &fasthttp.HostClient{
			Addr:                addr,
			IsTLS:               u.Scheme == "https",
			MaxConns:            sp.conns + 4,
			MaxConnWaitTimeout:  sp.timeout,
			ReadBufferSize:      16 << 10,
			Name:                "proxy-loadtest",
			MaxIdleConnDuration: 10 * time.Second,
		},
		uriPlain:   root + sp.proto.suffix(model, false),
		uriStream:  root + sp.proto.suffix(model, true),
		bodyStream: sp.bodies[1],
		bodyPlain:  sp.bodies[0],
		pool:       sp.pool,
	}
	if sp.apiKey != "" {
		ep.auth = "Bearer " + sp.apiKey
	}
	if sp.proto.headers != nil {
		ep.headers = sp.proto.headers(sp.apiKey)
	}
	return ep, nil
}

// scatter gathers the recorders' request samples.
func (ep *endpoint) scatter() []scatterPoint {
	var out []scatterPoint
	for _, r := range ep.recs {
		out = append(out, r.scatter()...)
	}
	return out
}

// worker issues requests one at a time; every buffer it uses is reused, so
// steady-state requests allocate almost nothing in the generator.
type worker struct {
	proto    *protocol
	rec      *recorder
	reqPlain *fasthttp.Request
	reqSSE   *fasthttp.Request
	resp     *fasthttp.Response
	br       *bufio.Reader
	parser   fastjson.Parser
	scratch  []byte
	event    []byte // data of the SSE event being assembled
	buffered bytes.Reader
	gaps     []time.Duration
	s        sample
	warmEnd  time.Time // requests due before it are warm-up
	nextBody int       // position in the endpoint's body pool
	heldBack bool      // the next request waited for the user's previous answer
	// cutAt ends requests still running this long after the phase's cap
	// (zero: only the request timeout bounds them).
	cutAt time.Time
}

func newWorker(ep *endpoint, rec *recorder) *worker {
	w := &worker{rec: rec, resp: fasthttp.AcquireResponse(), br: bufio.NewReaderSize(nil, 16<<10)}
	w.proto = ep.proto
	w.reqPlain = buildRequest(ep, ep.uriPlain, ep.bodyPlain)
	w.reqSSE = buildRequest(ep, ep.uriStream, ep.bodyStream)
	return w
}

func buildRequest(ep *endpoint, uri string, body []byte) *fasthttp.Request {
	req := fasthttp.AcquireRequest()
	req.SetRequestURI(uri)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	if ep.auth != "" {
		req.Header.Set("Authorization", ep.auth)
	}
	for _, h := range ep.headers {
		req.Header.Set(h[0], h[1])
	}
	req.SetBodyRaw(body)
	return req
}

func (w *worker) release() {
	fasthttp.ReleaseResponse(w.resp)
	fasthttp.ReleaseRequest(w.reqPlain)
	fasthttp.ReleaseRequest(w.reqSSE)
}

// maxLine caps one SSE line or one non-streamed body kept for parsing.
const maxLine = 4 << 20

var errLineTooLong = errors.New("response line longer than 4 MiB")

// do sends one request and records it. intended is when it should have been
// sent (equal to now in a closed loop); deadline bounds the whole exchange,
// stream included.
func (w *worker) do(ep *endpoint, stream bool, intended time.Time, deadline time.Time) {
	s := &w.s
	*s = sample{intended: intended, streamed: stream, warmup: intended.Before(w.warmEnd), heldBack: w.heldBack}
	w.gaps = w.gaps[:0]
	req := w.reqPlain
	if stream {
		req = w.reqSSE
	}
	if len(ep.pool) > 1 {
		b := ep.pool[w.nextBody%len(ep.pool)]
		w.nextBody++
		if stream {
			req.SetBodyRaw(b[1])
		} else {
			req.SetBodyRaw(b[0])
		}
	}
	// Only streams are read incrementally; a plain answer lands in the
	// worker's pooled response buffer, which the next request reuses, and
	// skips the per-request closures fasthttp builds for body streams.
	w.resp.StreamBody = stream
	ep.inflight.Add(1)
	defer ep.inflight.Add(-1)
	if stream {
		ep.open.Add(1)
		defer ep.open.Add(-1)
	}
	capped := !w.cutAt.IsZero() && deadline.After(w.cutAt)
	if capped {
		deadline = w.cutAt
	}
	defer func() {
		// A request the cap's grace ended is not a failure of the target.
		if capped && s.class == classTimeout && !time.Now().Before(w.cutAt) {
			s.class = classCut
		}
		w.finish(ep)
	}()
	s.sent = time.Now()
	err := ep.hc.DoDeadline(req, w.resp, deadline)
	if err != nil {
		s.end = time.Now()
		s.class = classifyErr(err)
		return
	}
	s.headers = time.Since(s.sent)
	code := w.resp.StatusCode()
	body := w.resp.BodyStream()
	piped := body != nil
	if !piped {
		// Plain answers, and small known-length streamed ones, arrive
		// already buffered.
		w.buffered.Reset(w.resp.Body())
		body = &w.buffered
	}
	switch {
	case code != fasthttp.StatusOK:
		s.class = statusClass(code)
		err = w.discard(body)
	case stream:
		err = w.readSSE(body)
	default:
		err = w.readJSON(body, piped)
	}
	if piped {
		_ = w.resp.CloseBodyStream()
	}
	s.end = time.Now()
	if err != nil && s.class == "" {
		s.class = classifyErr(err)
	}
}

func (w *worker) finish(ep *endpoint) { ep.record(w.rec, &w.s, w.gaps) }

// record files one finished request with rec, the request log and the
// timeline; both clients (fasthttp's and the event loop) end here.
func (ep *endpoint) record(rec *recorder, s *sample, gaps []time.Duration) {
	rec.record(s, gaps)
	if ep.log != nil {
		ep.log.record(ep.name, s)
	}
	ep.tl.add(s.end, s.class != "", s.bytes, s.end.Sub(s.intended))
}

// discard drains an error body, counting bytes, so the connection can be
// reused.
func (w *worker) discard(body io.Reader) error {
	w.br.Reset(body)
	n, err := w.br.WriteTo(io.Discard)
	w.s.bytes += n
	return err
}

// readJSON parses a non-streamed answer and takes the output token count
// from usage. The body is normally already in the response buffer; a piped
// body is read into the reused scratch buffer.
func (w *worker) readJSON(body io.Reader, piped bool) error {
	data := w.resp.Body()
	if piped {
		w.scratch = w.scratch[:0]
		w.br.Reset(body)
		for {
			line, err := w.br.ReadSlice('\n')
			if len(w.scratch)+len(line) > maxLine {
				return errLineTooLong
			}
			w.scratch = append(w.scratch, line...)
			if err == io.EOF {
				break
			}
			if err != nil && err != bufio.ErrBufferFull {
				return err
			}
		}
		data = w.scratch
	}
	w.s.bytes += int64(len(data))
	v, err := w.parser.ParseBytes(data)
	if err != nil {
		w.s.class = classInvalidBody
		return nil
	}
	ok, tokens := w.proto.plain(v)
	if !ok {
		w.s.class = classInvalidBody
		return nil
	}
	w.s.tokens = tokens
	return nil
}

// classifyErr maps a transport error to an error class.
func classifyErr(err error) string {
	var ne net.Error
	var op *net.OpError
	switch {
	case errors.Is(err, fasthttp.ErrDialTimeout), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, fasthttp.ErrNoFreeConns), errors.As(err, &op) && op.Op == "dial":
		return classConnect
	case errors.Is(err, fasthttp.ErrTimeout), errors.As(err, &ne) && ne.Timeout():
		return classTimeout
	}
	return classOther
}
