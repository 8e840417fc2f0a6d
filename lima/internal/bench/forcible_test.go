//go:build linux

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package bench_test

import (
	"os/exec"
	"testing"
	"time"

	"github.com/lima-vm/lima/pkg/instance"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/siminst"
)

// BenchmarkForcible kills an instance with one locked additional disk:
// stop.Forcible, which confirms both deaths before it unlocks the disk and
// removes the pid files, against Lima's instance.StopForcibly, which sends
// SIGKILL, unlocks and removes at once and returns without waiting.
//
//   - return: from the call to its return.
//   - gone: from the call to the moment the benchmark's own observer saw
//     the later of the two processes exit. Lima's processes are still dying
//     when it returns; ours are gone before it returns.
//   - ours-return/lima-gone: when ours has confirmed the deaths and
//     cleaned up, relative to when Lima's killed processes are actually
//     gone. Lima's own return, which confirms nothing, is context.
//   - ours-signal: when ours sent its first signal, from the start its
//     Result records: what identifying the processes and pinning their
//     subtrees cost before anything is killed. Lima signals at once.
//   - ours-confirmed: when ours had confirmed the last death, from the
//     same start. What follows it, up to ours' return, is the check of the
//     pid files, the unlock, the removal and the release of the pins.
//   - B/stop: bytes allocated by the process during the call.
func BenchmarkForcible(b *testing.B) {
	benchmarkForcible(b, stop.Forcible{}, siminst.Options{AdditionalDisks: []string{"data"}})
}

// BenchmarkForcibleBusyHost is BenchmarkForcible on a host running
// extraProcesses more processes, with a host agent that has a child and a
// grandchild of its own, as Lima's starts ssh: ours kills and confirms that
// tree too, which Lima's StopForcibly leaves running. The target is
// ours-return/lima-gone <= 1.25: the tree costs a fraction of what Lima's
// processes take to die.
//
// The child and grandchild are a shell and a sleep (siminst's
// LightHelpers), which weigh what ssh weighs: a re-executed Go test binary
// takes several times as long to die, and the benchmark would measure that
// rather than the stop.
func BenchmarkForcibleBusyHost(b *testing.B) {
	startIdle(b, extraProcesses)
	benchmarkForcible(b, stop.Forcible{}, busyHostOptions)
}

// BenchmarkBusyHostKeepDescendants is BenchmarkForcibleBusyHost with
// Forcible.KeepDescendants: ours kills the driver and the host agent alone,
// as Lima's StopForcibly does. The difference between the two is what the
// tree kill costs: the search before the first signal, and the deaths of
// the tree.
func BenchmarkBusyHostKeepDescendants(b *testing.B) {
	startIdle(b, extraProcesses)
	benchmarkForcible(b, stop.Forcible{KeepDescendants: true}, busyHostOptions)
}

// busyHostOptions is the instance of the busy-host benchmarks.
var busyHostOptions = siminst.Options{AdditionalDisks: []string{"data"}, Descendants: 2, LightHelpers: true}

// extraProcesses is how many idle processes the busy-host benchmarks add.
const extraProcesses = 1000

// startIdle starts n idle processes that live until the benchmark ends.
func startIdle(b *testing.B, n int) {
	b.Helper()
	cmds := make([]*exec.Cmd, 0, n)
	b.Cleanup(func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	})
	for range n {
		c := exec.Command("sleep", "600")
		require.NoError(b, c.Start())
		cmds = append(cmds, c)
	}
	// Let the burst of start-ups settle: the host is to be busy with
	// processes, not with starting them.
	time.Sleep(2 * time.Second)
}

func benchmarkForcible(b *testing.B, f stop.Forcible, opts siminst.Options) {
	var oursReturn, oursSignal, oursConfirmed, oursGone, limaReturn, limaGone []time.Duration
	var oursBytes, limaBytes []uint64
	eachPair(b, opts, func(oursSim *sim) {
		inst := oursSim.instance(b)
		var res *stop.Result
		c := measure(b, true, func() (err error) {
			res, err = stopResult(f, inst, stop.StoppedForcibly)
			return err
		})
		require.NoError(b, c.err)
		signal, ok := firstSignal(res)
		require.True(b, ok, "no kill step in\n%s", res)
		oursSignal = append(oursSignal, signal)
		oursConfirmed = append(oursConfirmed, lastConfirmed(res))
		oursReturn = append(oursReturn, c.took())
		oursGone = append(oursGone, oursSim.gone(b).Sub(c.start))
		oursBytes = append(oursBytes, c.allocated)
	}, func(limaSim *sim) {
		li := limaSim.inspect(b)
		c := measure(b, false, func() error {
			instance.StopForcibly(li)
			return nil
		})
		limaReturn = append(limaReturn, c.took())
		limaGone = append(limaGone, limaSim.gone(b).Sub(c.start))
		limaBytes = append(limaBytes, c.allocated)
	})
	b.ReportMetric(ms(oursReturn), "ours-return-ms")
	b.ReportMetric(ms(oursSignal), "ours-signal-ms")
	b.ReportMetric(ms(oursConfirmed), "ours-confirmed-ms")
	b.ReportMetric(ms(oursGone), "ours-gone-ms")
	b.ReportMetric(ms(limaReturn), "lima-return-ms")
	b.ReportMetric(ms(limaGone), "lima-gone-ms")
	b.ReportMetric(ratio(ms(oursReturn), ms(limaGone)), "ours-return/lima-gone")
	b.ReportMetric(median(oursBytes), "ours-B/stop")
	b.ReportMetric(median(limaBytes), "lima-B/stop")
}

// firstSignal returns when res records its first kill, counted from the
// start of the stop.
func firstSignal(res *stop.Result) (time.Duration, bool) {
	for _, s := range res.Steps {
		if s.Kind == stop.StepKill || s.Kind == stop.StepKillGroup {
			return s.At, true
		}
	}
	return 0, false
}

// lastConfirmed returns when res's last confirmation of a death ended,
// counted from the start of the stop.
func lastConfirmed(res *stop.Result) time.Duration {
	var last time.Duration
	for _, s := range res.Steps {
		if s.Kind == stop.StepConfirm {
			last = max(last, s.At+s.Took)
		}
	}
	return last
}
