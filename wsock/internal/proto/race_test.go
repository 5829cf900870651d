//go:build race

package proto_test

// raceEnabled scales the biggest Autobahn rows down under the race detector, which slows
// byte-crunching loops tenfold without finding more in them.
const raceEnabled = true
