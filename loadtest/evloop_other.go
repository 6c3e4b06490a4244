//go:build !linux

package loadtest

import "errors"

// evSupported: the event-loop client is Linux only (epoll).
const evSupported = false

type evPhase struct{}

func newEvPhase(*endpoint) (*evPhase, error) {
	return nil, errors.New("the event-loop client runs on Linux only")
}

func runEvPhase(*evPhase, <-chan struct{}) (int64, error) {
	return 0, errors.New("the event-loop client runs on Linux only")
}
