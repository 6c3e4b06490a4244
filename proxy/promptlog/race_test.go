//go:build race

package promptlog

const raceEnabled = true
