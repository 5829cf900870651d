//go:build race

package wsock

const raceEnabled = true
