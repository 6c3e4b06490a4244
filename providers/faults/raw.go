package faults

import (
	"io"
	"net"
	"strconv"
	"time"

	"github.com/llmproxy/proxy/providers/wire"
)

func statusBody(status int) []byte {
	return wire.AppendError(nil, wire.OpenAIChat, wire.KindForStatus(status),
		"injected fault: status "+strconv.Itoa(status), "")
}

// rawResp writes an HTTP/1.1 response by hand on a hijacked connection.
type rawResp struct {
	s      *Server
	c      net.Conn
	sc     Script
	gone   chan struct{} // closed when the client's side is closed
	chunks int           // content chunks sent
	ended  bool          // the response is complete or we cut it on purpose
	left   bool          // the client left and was reported
	buf    []byte
}

// serveRaw runs a hijacked response. raw is the underlying TCP connection
// (c reads through fasthttp's buffer).
func (s *Server) serveRaw(c, raw net.Conn, sc Script, ri reqInfo) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.conns[raw] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, raw)
		s.mu.Unlock()
		s.wg.Done()
	}()

	if sc.Kind == Reset {
		if tc, ok := raw.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close sends RST, not FIN
		}
		raw.Close()
		return
	}
	r := &rawResp{s: s, c: c, sc: sc, gone: make(chan struct{})}
	go func() {
		// The client sends nothing more; a read returns only when it (or we)
		// closed the connection.
		_, _ = io.Copy(io.Discard, c)
		close(r.gone)
	}()
	r.run(ri)
	raw.Close()
	<-r.gone
}

func (r *rawResp) run(ri reqInfo) {
	sc := r.sc
	if sc.Kind == Stall && !r.wait(sc.Delay) {
		return
	}
	if !ri.stream && (sc.Kind == Stall || sc.Kind == OK) {
		body := appendCompletion(nil, ri.model, sc.Chunks)
		r.ended = true
		r.write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
			strconv.Itoa(len(body)) + "\r\n\r\n" + string(body)))
		return
	}
	if !r.write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n" +
		"Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n")) {
		return
	}
	n := sc.Chunks
	switch sc.Kind {
	case Malformed:
		if !r.content(ri.model, 0) || !r.chunk([]byte(malformedEvents)) {
			return
		}
		n = 1
	case HugeLine:
		r.buf = appendHugeChunk(r.buf[:0], ri.model, sc.Size)
		if !r.chunk(r.buf) {
			return
		}
		r.chunks++
		n = 1
	default:
		for i := range n {
			if i > 0 && sc.Kind == Slow && !r.wait(sc.Gap) {
				return
			}
			if !r.content(ri.model, i) {
				return
			}
		}
	}
	switch sc.Kind {
	case Truncate:
		return // cut on purpose: no finish, no [DONE], no last HTTP chunk
	case StreamStall:
		if !r.wait(sc.Delay) {
			return
		}
	}
	r.ended = true
	r.buf = appendFinish(r.buf[:0], ri.model, n, ri.usage)
	if r.chunk(r.buf) {
		r.write([]byte("0\r\n\r\n"))
	}
}

// wait pauses for d (forever if d is 0) and reports false if the client
// left or the server is closing.
func (r *rawResp) wait(d time.Duration) bool {
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		return true
	case <-r.gone:
		r.clientLeft()
		return false
	case <-r.s.closing:
		return false
	}
}

func (r *rawResp) content(model string, i int) bool {
	r.buf = appendContentChunk(r.buf[:0], model, chunkText(i))
	if !r.chunk(r.buf) {
		return false
	}
	r.chunks++
	return true
}

// chunk writes p as one HTTP chunk, so each event leaves in its own write.
func (r *rawResp) chunk(p []byte) bool {
	frame := make([]byte, 0, len(p)+16)
	frame = strconv.AppendInt(frame, int64(len(p)), 16)
	frame = append(frame, "\r\n"...)
	frame = append(frame, p...)
	frame = append(frame, "\r\n"...)
	return r.write(frame)
}

func (r *rawResp) write(p []byte) bool {
	select {
	case <-r.gone:
		r.clientLeft()
		return false
	default:
	}
	if _, err := r.c.Write(p); err != nil {
		r.clientLeft()
		return false
	}
	return true
}

func (r *rawResp) clientLeft() {
	if r.ended || r.left {
		return
	}
	select {
	case <-r.s.closing:
		return // our own shutdown closed it
	default:
	}
	r.left = true
	r.s.disconnects.Add(1)
	select {
	case r.s.gone <- Disconnect{Script: r.sc, Chunks: r.chunks}:
	default:
	}
}
