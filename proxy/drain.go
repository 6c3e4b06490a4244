package proxy

import (
	"context"
	"time"
)

// stopWait is how long relays told to stop get to write their error event
// before the server stops waiting for them.
const stopWait = 5 * time.Second

// drain stops accepting, lets requests and streams finish until ctx ends,
// then tells the remaining relays to end with an error event in their
// protocol and waits briefly for them to do so.
func (s *Server) drain(ctx context.Context) error {
	inner, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.srv.ShutdownWithContext(inner) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	s.StopStreams()
	t := time.NewTimer(stopWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		cancel()
		<-done
	}
	return ctx.Err()
}

// StopStreams ends every running stream at its next event or heartbeat
// with an error event; Shutdown calls it when the grace period is over.
func (s *Server) StopStreams() {
	s.stopOnce.Do(func() { close(s.stop) })
}
