package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/wire"
)

// TestTLSUpstream: an https upstream is dialed and handshaken by the
// provider's own dialer (off the caller's goroutine), fasthttp takes the
// connection as TLS already (a second handshake over it would fail), and
// keep-alive reuses it. An upstream whose certificate is not trusted is
// refused at the handshake.
func TestTLSUpstream(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"x","object":"chat.completion","choices":[]}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake of "untrusted"
	srv.StartTLS()
	defer srv.Close()

	t.Run("trusted", func(t *testing.T) {
		p := provider(t, srv.URL+"/v1", time.Second, time.Second)
		roots := x509.NewCertPool()
		roots.AddCert(srv.Certificate())
		p.client.TLSConfig.RootCAs = roots // the dialer's config is the HostClient's
		p.client.TLSConfig.ServerName = "example.com"
		before := conns.Load()
		for i := 0; i < 3; i++ {
			res, err := p.Do(&providers.Call{Model: "m", Body: []byte(`{}`)})
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			if res.Status != http.StatusOK || !strings.Contains(string(res.Body), "chat.completion") {
				t.Fatalf("request %d: status %d body %q", i, res.Status, res.Body)
			}
			res.Release()
		}
		if n := conns.Load() - before; n != 1 {
			t.Fatalf("%d connections for 3 sequential requests, want 1 (keep-alive)", n)
		}
		// A second connection resumes the session the first one got.
		d := p.client.Dial
		c, err := d(strings.TrimPrefix(srv.URL, "https://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		tc, ok := c.(*tls.Conn)
		if !ok {
			t.Fatalf("the dialer returned a %T, want a handshaken *tls.Conn", c)
		}
		if !tc.ConnectionState().HandshakeComplete || !tc.ConnectionState().DidResume {
			t.Fatalf("second connection: handshake complete %v, resumed %v; want both",
				tc.ConnectionState().HandshakeComplete, tc.ConnectionState().DidResume)
		}
	})
	t.Run("silent", func(t *testing.T) {
		// An upstream that accepts but never answers the handshake is cut
		// at connect_timeout (1 s here) and reported as a timeout.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		held := make(chan net.Conn, 1)
		go func() {
			if c, err := ln.Accept(); err == nil {
				held <- c
			}
		}()
		p := provider(t, "https://"+ln.Addr().String()+"/v1", 30*time.Second, 30*time.Second)
		start := time.Now()
		_, err = p.Do(&providers.Call{Model: "m", Body: []byte(`{}`)})
		var pe *providers.Error
		if !errors.As(err, &pe) || pe.Kind != wire.Timeout {
			t.Fatalf("Do error %v, want a providers.Error of kind Timeout", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("the silent handshake took %v, want about the 1 s connect_timeout", d)
		}
		(<-held).Close()
	})
	t.Run("untrusted", func(t *testing.T) {
		p := provider(t, srv.URL+"/v1", time.Second, time.Second)
		_, err := p.Do(&providers.Call{Model: "m", Body: []byte(`{}`)})
		var pe *providers.Error
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), "tls handshake") {
			t.Fatalf("Do error %v, want a providers.Error from the handshake", err)
		}
	})
}
