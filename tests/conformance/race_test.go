//go:build race

package conformance

// raceEnabled scales the largest cases (sections 9, 12 and 13) down under the race
// detector, which slows byte-crunching tenfold without finding more in it.
const raceEnabled = true
