// cenkalti/backoff v4 (Debian golang-github-cenkalti-backoff-dev) measured beside the Swift benchmarks.
// Run by Benchmarks/run.sh: GOPATH=/usr/share/gocode GO111MODULE=off go test -bench . -benchmem
package cenkalti

import (
	"testing"
	"time"

	"github.com/cenkalti/backoff"
)

// The library's defaults: 500 ms, x1.5, randomization 0.5, max 60 s, max elapsed 15 min (reads the clock).
func BenchmarkNextBackOffDefaults(b *testing.B) {
	eb := backoff.NewExponentialBackOff()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%16 == 0 {
			eb.Reset()
		}
		if eb.NextBackOff() == backoff.Stop {
			b.Fatal("stopped")
		}
	}
}

// The closest match to the Swift benchmark: no elapsed-time budget, so no clock read per delay.
func BenchmarkNextBackOffNoElapsedLimit(b *testing.B) {
	eb := backoff.NewExponentialBackOff()
	eb.MaxElapsedTime = 0
	eb.MaxInterval = 60 * time.Second
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%16 == 0 {
			eb.Reset()
		}
		if eb.NextBackOff() == backoff.Stop {
			b.Fatal("stopped")
		}
	}
}
