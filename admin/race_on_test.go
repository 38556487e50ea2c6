//go:build race

package admin_test

// underRace: this test binary runs under the race detector.
const underRace = true
