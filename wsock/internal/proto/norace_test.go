//go:build !race

package proto_test

const raceEnabled = false
