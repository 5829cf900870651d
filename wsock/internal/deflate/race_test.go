//go:build race

package deflate

// raceEnabled scales test workloads down under the race detector, which slows
// compress/flate about fifty times.
const raceEnabled = true
