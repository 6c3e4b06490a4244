package main

import (
	"os"
	"time"
)

// watchFile reports changes of path's size or modification time, polled
// every interval, until stop closes. Polling survives editors that replace
// the file (rename over it) and files on volumes without inotify, such as
// a Kubernetes ConfigMap's symlink swap.
func watchFile(path string, interval time.Duration, stop <-chan struct{}) <-chan struct{} {
	changed := make(chan struct{}, 1)
	stamp := func() (time.Time, int64) {
		st, err := os.Stat(path)
		if err != nil {
			return time.Time{}, -1
		}
		return st.ModTime(), st.Size()
	}
	mod, size := stamp()
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			m, s := stamp()
			if m.Equal(mod) && s == size {
				continue
			}
			mod, size = m, s
			select {
			case changed <- struct{}{}:
			default: // a reload is already pending
			}
		}
	}()
	return changed
}
