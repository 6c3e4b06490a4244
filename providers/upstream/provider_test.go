package upstream

import (
	"errors"
	"github.com/llmproxy/proxy/providers/mock/mocktest"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/mock"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	)
}

func provider(t *testing.T, base string, firstByte, idle time.Duration) *Provider {
	t.Helper()
	p, err := New(Config{Name: "up", Protocol: wire.OpenAIChat, BaseURL: base, Keys: []string{"k"}, Models: []string{"*"},
		MaxConns: 4, PoolWait: time.Second, ConnectTimeout: time.Second, FirstByteTimeout: firstByte, IdleTimeout: idle,
		ForwardHeaders: mock.Headers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// TestDo covers the answers Do can give: whole bodies, streams, error
// statuses (read whole even for stream requests) and transport failures
// with the kind the client is told.
func TestDo(t *testing.T) {
	up := mocktest.Start(t, mock.ServerOptions{Behaviour: mock.Behaviour{Tokens: 5}})
	body := []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	streamBody := []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`)
	dead := func() string {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		a := ln.Addr().String()
		_ = ln.Close()
		return "http://" + a + "/v1"
	}()
	tests := []struct {
		name      string
		base      string
		body      []byte
		stream    bool
		hdr       map[string]string
		firstByte time.Duration
		status    int
		kind      wire.Kind // for transport failures
		fail      bool
		want      string // substring of the whole body or stream
	}{
		{name: "whole", base: up, body: body, status: 200, want: mock.Text(5)},
		{name: "stream", base: up, body: streamBody, stream: true, status: 200, want: "data: [DONE]"},
		{name: "error-status", base: up, body: body, hdr: map[string]string{mock.HeaderStatus: "429"}, status: 429, want: "injected status 429"},
		{name: "error-status/stream", base: up, body: streamBody, stream: true, hdr: map[string]string{mock.HeaderStatus: "503"}, status: 503, want: "injected status 503"},
		{name: "refused", base: dead, body: body, fail: true, kind: wire.BadGateway},
		{name: "first-byte-timeout", base: up, body: body, hdr: map[string]string{mock.HeaderStall: "1s"}, firstByte: 100 * time.Millisecond, fail: true, kind: wire.Timeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fb := tc.firstByte
			if fb == 0 {
				fb = 5 * time.Second
			}
			p := provider(t, tc.base, fb, 5*time.Second)
			c := &providers.Call{Model: "m", Stream: tc.stream, Body: tc.body}
			if tc.hdr != nil {
				c.Header = headerOf(tc.hdr)
			}
			res, err := p.Do(c)
			if tc.fail {
				var pe *providers.Error
				if !errors.As(err, &pe) || pe.Kind != tc.kind {
					t.Fatalf("Do error %v, want a providers.Error of kind %v", err, tc.kind)
				}
				return
			}
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			defer res.Release()
			if res.Status != tc.status {
				t.Fatalf("status %d, want %d", res.Status, tc.status)
			}
			got := string(res.Body)
			if res.Stream != nil {
				if !tc.stream || tc.status != 200 {
					t.Fatal("stream result for a whole answer")
				}
				b, err := io.ReadAll(res.Stream)
				_ = res.Stream.CloseWithError(nil)
				if err != nil {
					t.Fatalf("reading stream: %v", err)
				}
				got = string(b)
			} else if tc.stream && tc.status == 200 {
				t.Fatal("no stream for a stream answer")
			}
			if !strings.Contains(got, tc.want) {
				t.Fatalf("body %q lacks %q", got, tc.want)
			}
		})
	}
}

// TestIdleTimeoutMidStream checks that a stream whose upstream falls silent
// fails with a timeout on read, after data had flowed.
func TestIdleTimeoutMidStream(t *testing.T) {
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: {}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer s.Close()
	defer close(release)
	p := provider(t, s.URL+"/v1", time.Second, 150*time.Millisecond)
	res, err := p.Do(&providers.Call{Model: "m", Stream: true, Body: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	defer res.Stream.CloseWithError(nil)
	b, err := io.ReadAll(res.Stream)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read ended with %v after %q, want a timeout", err, b)
	}
	if string(b) != "data: {}\n\n" {
		t.Fatalf("data before the timeout %q", b)
	}
}

func headerOf(m map[string]string) *fasthttp.RequestHeader {
	h := new(fasthttp.RequestHeader)
	for k, v := range m {
		h.Set(k, v)
	}
	return h
}

// TestResponseHeaderBound checks that the connection's read buffer, which
// every open stream holds, takes a real API's header block (about 1.5 KB)
// by default, fails a larger one as a bad gateway rather than guessing, and
// takes it once the operator raises max_response_header_bytes.
func TestResponseHeaderBound(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The base URL's first segment is the header padding: /pad/1500/v1/...
		n, _ := strconv.Atoi(strings.Split(r.URL.Path, "/")[2])
		w.Header().Set("X-Pad", strings.Repeat("p", n))
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer s.Close()
	tests := []struct {
		name     string
		pad      int
		maxBytes int
		wantErr  bool
	}{
		{name: "real-sized headers fit the default", pad: 1500},
		{name: "larger than the default", pad: 6000, wantErr: true},
		{name: "raised bound", pad: 6000, maxBytes: 8192},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(Config{Name: "up", Protocol: wire.OpenAIChat, BaseURL: s.URL + "/pad/" + strconv.Itoa(tt.pad) + "/v1",
				Keys: []string{"k"}, Models: []string{"*"}, MaxConns: 2, PoolWait: time.Second, ConnectTimeout: time.Second,
				FirstByteTimeout: time.Second, IdleTimeout: time.Second, MaxHeaderBytes: tt.maxBytes})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			res, err := p.Do(&providers.Call{Model: "m", Body: []byte(`{}`)})
			if tt.wantErr {
				if err == nil {
					res.Release()
					t.Fatal("an answer with headers past the bound was taken")
				}
				if !strings.Contains(err.Error(), "max_response_header_bytes") {
					t.Fatalf("error %q does not name the setting to raise", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			defer res.Release()
			if res.Status != http.StatusOK {
				t.Fatalf("status %d", res.Status)
			}
		})
	}
}
