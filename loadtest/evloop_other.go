//go:build !linux

package loadtest

import "errors"

// evSupported: the event-loop client is Linux only (epoll).
const evSupported = false

func runEvClient(*endpoint, evPlan, <-chan struct{}) (int64, error) {
	return 0, errors.New("the event-loop client runs on Linux only")
}
