// Package mocktest starts the standalone mock upstream (package mock) on a
// loopback port for the tests of other packages, and stops it when the
// test ends: one helper instead of a copy in every package's tests.
package mocktest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/mock"
)

// Start serves a mock upstream with options o and returns its base URL
// including /v1, as a provider's base_url takes it.
func Start(t testing.TB, o mock.ServerOptions) string {
	t.Helper()
	s := mock.NewServer(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mocktest: listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("mocktest: shutdown: %v", err)
		}
		<-done
	})
	return "http://" + ln.Addr().String() + "/v1"
}
