//go:build race

package convert

// raceEnabled is set under -race, where sync.Pool drops items at random and
// allocation counts say nothing about production.
const raceEnabled = true
