//go:build race

package wsjson_test

const raceEnabled = true
