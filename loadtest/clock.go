package loadtest

import "time"

// Clock abstracts time so the pacer can be tested on a virtual clock.
type Clock interface {
	Now() time.Time
	// SleepUntil blocks until t or until done is closed; it reports false
	// when done was closed first.
	SleepUntil(t time.Time, done <-chan struct{}) bool
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) SleepUntil(t time.Time, done <-chan struct{}) bool {
	d := time.Until(t)
	if d <= 0 {
		select {
		case <-done:
			return false
		default:
			return true
		}
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-done:
		return false
	}
}
