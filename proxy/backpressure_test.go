package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestBackpressure checks that a client that stops reading stops the
// upstream too, instead of the proxy buffering the stream in memory: an
// upstream offers 512 MB of events as fast as it can, the client reads only
// the response headers and then nothing for 3 s, and the process heap must
// stay within a few MB of where it started. Afterwards the client hangs up
// and the upstream connection must be closed.
func TestBackpressure(t *testing.T) {
	if testing.Short() {
		t.Skip("moves tens of MB through loopback")
	}
	const (
		total     = 512 << 20
		heapBound = 16 << 20
		// sentBound is far above what socket buffers and the relay's buffer
		// can hold, and far below total.
		sentBound = 96 << 20
	)
	var block []byte
	for len(block) < 64<<10 {
		block = fmt.Appendf(block, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", strings.Repeat("y", 150))
	}
	var sent atomic.Int64
	closed := make(chan error, 1)
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		for sent.Load() < total {
			n, err := w.Write(block)
			sent.Add(int64(n))
			if err != nil {
				closed <- err
				return
			}
		}
		closed <- nil
	}))
	_, base := startProxy(t, baseConfig(openaiProvider("up", up, "firehose")))

	before := heapInUse()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := chatBody("firehose", true)
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", testKey, len(body), body)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReaderSize(conn, 4096)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading response headers: %v", err)
		}
		if strings.HasPrefix(line, "HTTP/1.1 ") && !strings.Contains(line, " 200 ") {
			t.Fatalf("status %q", line)
		}
		if line == "\r\n" {
			break
		}
	}

	// Not reading: sample the heap while the proxy is stuck behind the client.
	peak := before
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		peak = max(peak, heapInUse())
	}
	if grew := int64(peak) - int64(before); grew > heapBound {
		t.Errorf("heap grew by %d MB while the client did not read (bound %d MB)", grew>>20, heapBound>>20)
	}
	if s := sent.Load(); s >= sentBound {
		t.Errorf("upstream sent %d MB to a client that read nothing: no backpressure", s>>20)
	}
	t.Logf("heap in use: before %d KB, peak %d KB; upstream sent %d KB while the client stalled",
		before>>10, peak>>10, sent.Load()>>10)

	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-closed:
		if err == nil {
			t.Fatalf("upstream delivered all %d MB: the proxy drained it for a client that left", total>>20)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("upstream connection still open 5 s after the client disconnected")
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
