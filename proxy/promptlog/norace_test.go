//go:build !race

package promptlog

const raceEnabled = false
