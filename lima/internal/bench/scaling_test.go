//go:build linux

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package bench_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lima-vm/lima/pkg/instance"
	"github.com/lima-vm/lima/pkg/store"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/siminst"
)

// BenchmarkScaling stops N instances at once, each in its own goroutine,
// every host agent shutting down shutdownDelay after its interrupt:
// stop.Graceful against Lima's instance.StopGracefully. What one instance
// costs must not grow with N.
//
//   - wall: from the start of the first stop to the return of the last.
//   - overhead: from the latest exit any simulated process recorded to the
//     return of the last stop.
//   - cpu/inst: CPU time, user and system, of the benchmark process
//     (getrusage RUSAGE_SELF: all its threads; the simulated processes are
//     other processes and are not counted) during the stops, divided by N.
//     It includes the benchmark's own two waits per instance, the same for
//     both implementations.
//   - B/inst and allocs/inst: allocated by the process during the stops,
//     divided by N.
func BenchmarkScaling(b *testing.B) {
	for _, n := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) { benchmarkScaling(b, n) })
	}
}

func benchmarkScaling(b *testing.B, n int) {
	home := limaHome(b)
	opts := siminst.Options{ShutdownDelay: shutdownDelay}
	var ours, lima batches
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		oursSims := startSims(b, home, names(fmt.Sprintf("ours-%d", i), n), opts)
		limaSims := startSims(b, home, names(fmt.Sprintf("lima-%d", i), n), opts)
		runOurs := func() {
			insts := make([]*stop.Instance, n)
			for j, s := range oursSims {
				insts[j] = s.instance(b)
			}
			ours.add(b, oursSims, concurrently(b, true, n, func(j int) error {
				_, err := stop.Graceful{}.Stop(context.Background(), insts[j])
				return err
			}))
		}
		runLima := func() {
			lis := make([]*store.Instance, n)
			for j, s := range limaSims {
				lis[j] = s.inspect(b)
			}
			lima.add(b, limaSims, concurrently(b, false, n, func(j int) error {
				ctx, cancel := context.WithTimeout(context.Background(), waitBound)
				defer cancel()
				return instance.StopGracefully(ctx, lis[j], false)
			}))
		}
		interleave(i, runOurs, runLima)
		b.StartTimer()
	}
	perInst := func(xs []uint64) float64 { return median(xs) / float64(n) }
	b.ReportMetric(ms(ours.wall), "ours-wall-ms")
	b.ReportMetric(ms(lima.wall), "lima-wall-ms")
	b.ReportMetric(ms(ours.overhead), "ours-overhead-ms")
	b.ReportMetric(ms(lima.overhead), "lima-overhead-ms")
	b.ReportMetric(ms(ours.cpu)/float64(n), "ours-cpu-ms/inst")
	b.ReportMetric(ms(lima.cpu)/float64(n), "lima-cpu-ms/inst")
	b.ReportMetric(perInst(ours.bytes), "ours-B/inst")
	b.ReportMetric(perInst(lima.bytes), "lima-B/inst")
	b.ReportMetric(perInst(ours.mallocs), "ours-allocs/inst")
	b.ReportMetric(perInst(lima.mallocs), "lima-allocs/inst")
}

// names returns n instance names starting with prefix.
func names(prefix string, n int) []string {
	ns := make([]string, n)
	for i := range ns {
		ns[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return ns
}

// batch is one measured run of n concurrent stops.
type batch struct {
	call
	cpu time.Duration
}

// concurrently runs stop(0) ... stop(n-1) at once and measures them as one
// call, with the process's CPU time.
func concurrently(b *testing.B, timed bool, n int, stop func(int) error) batch {
	errs := make([]error, n)
	var cpu time.Duration
	c := measure(b, timed, func() error {
		cpuBefore := cpuTime(b)
		var wg sync.WaitGroup
		for j := range n {
			wg.Go(func() { errs[j] = stop(j) })
		}
		wg.Wait()
		cpu = cpuTime(b) - cpuBefore
		return errors.Join(errs...)
	})
	require.NoError(b, c.err)
	return batch{call: c, cpu: cpu}
}

// batches collects the measurements of batches by one implementation.
type batches struct {
	wall, overhead, cpu []time.Duration
	bytes, mallocs      []uint64
}

func (bs *batches) add(tb testing.TB, sims []*sim, c batch) {
	tb.Helper()
	var last time.Time
	for _, s := range sims {
		last = later(last, s.lastExit(tb))
		s.gone(tb)
	}
	bs.wall = append(bs.wall, c.took())
	bs.overhead = append(bs.overhead, c.returned.Sub(last))
	bs.cpu = append(bs.cpu, c.cpu)
	bs.bytes = append(bs.bytes, c.allocated)
	bs.mallocs = append(bs.mallocs, c.mallocs)
}

// slowShutdown is how long the host agent takes to shut down in
// BenchmarkWaitCPU: long enough for any polling to show.
const slowShutdown = 2 * time.Second

// BenchmarkWaitCPU stops a host agent that takes slowShutdown to shut
// down, and measures the CPU time the benchmark process uses meanwhile
// (getrusage RUSAGE_SELF, all threads): stop.Graceful against Lima's
// instance.StopGracefully. Waiting must cost next to nothing: no busy
// polling.
//
//   - cpu-ms: CPU time used during the stop.
//   - cpu-%: that CPU time relative to the stop's wall time.
func BenchmarkWaitCPU(b *testing.B) {
	opts := siminst.Options{ShutdownDelay: slowShutdown}
	var oursCPU, limaCPU, oursShare, limaShare []float64
	eachPair(b, opts, func(oursSim *sim) {
		inst := oursSim.instance(b)
		c := concurrently(b, true, 1, func(int) error {
			_, err := stop.Graceful{}.Stop(context.Background(), inst)
			return err
		})
		oursCPU = append(oursCPU, float64(c.cpu)/float64(time.Millisecond))
		oursShare = append(oursShare, 100*float64(c.cpu)/float64(c.took()))
	}, func(limaSim *sim) {
		li := limaSim.inspect(b)
		c := concurrently(b, false, 1, func(int) error {
			ctx, cancel := context.WithTimeout(context.Background(), waitBound)
			defer cancel()
			return instance.StopGracefully(ctx, li, false)
		})
		limaCPU = append(limaCPU, float64(c.cpu)/float64(time.Millisecond))
		limaShare = append(limaShare, 100*float64(c.cpu)/float64(c.took()))
	})
	b.ReportMetric(median(oursCPU), "ours-cpu-ms")
	b.ReportMetric(median(limaCPU), "lima-cpu-ms")
	b.ReportMetric(median(oursShare), "ours-cpu-%")
	b.ReportMetric(median(limaShare), "lima-cpu-%")
}
