//go:build linux

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/lima-vm/lima/pkg/instance"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/siminst"
)

// shutdownDelay is how long a simulated host agent takes to shut down once
// interrupted, in the graceful benchmarks.
const shutdownDelay = 50 * time.Millisecond

// BenchmarkGraceful stops a host agent that shuts down shutdownDelay after
// its interrupt: stop.Graceful against Lima's instance.StopGracefully.
//
//   - overhead: from the later of the two exits the simulated processes
//     recorded just before exiting to the return of Stop. This is time a
//     caller waits for nothing.
//   - vs-observer: from the moment the benchmark's own observer saw the
//     later process exit to the return of Stop; about zero means Stop
//     returns as soon as the exit can be known at all.
//   - B/stop: bytes allocated by the process during the Stop call.
func BenchmarkGraceful(b *testing.B) {
	opts := siminst.Options{ShutdownDelay: shutdownDelay}
	var ours, lima stops
	eachPair(b, opts, func(oursSim *sim) {
		inst := oursSim.instance(b)
		c := measure(b, true, func() error {
			return stopExpecting(stop.Graceful{}, inst, stop.StoppedGracefully)
		})
		require.NoError(b, c.err)
		ours.add(b, c, oursSim)
	}, func(limaSim *sim) {
		li := limaSim.inspect(b)
		c := measure(b, false, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), waitBound)
			defer cancel()
			return instance.StopGracefully(ctx, li, false)
		})
		require.NoError(b, c.err)
		lima.add(b, c, limaSim)
	})
	oursOverhead, limaOverhead := ms(ours.overhead), ms(lima.overhead)
	b.ReportMetric(oursOverhead, "ours-overhead-ms")
	b.ReportMetric(limaOverhead, "lima-overhead-ms")
	b.ReportMetric(ratio(limaOverhead, oursOverhead), "lima/ours-overhead")
	b.ReportMetric(ms(ours.vsObserver), "ours-vs-observer-ms")
	b.ReportMetric(ms(lima.vsObserver), "lima-vs-observer-ms")
	b.ReportMetric(median(ours.bytes), "ours-B/stop")
	b.ReportMetric(median(lima.bytes), "lima-B/stop")
}

// stops collects the measurements of graceful stops by one implementation.
type stops struct {
	overhead   []time.Duration
	vsObserver []time.Duration
	bytes      []uint64
}

func (s *stops) add(tb testing.TB, c call, sim *sim) {
	tb.Helper()
	s.overhead = append(s.overhead, c.returned.Sub(sim.lastExit(tb)))
	s.vsObserver = append(s.vsObserver, c.returned.Sub(sim.gone(tb)))
	s.bytes = append(s.bytes, c.allocated)
}
