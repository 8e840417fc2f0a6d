// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/process"
)

// BenchmarkExitDetection measures how long Wait takes to return after a
// process that is not the caller's child exits: from the exit time the
// process records just before exiting to Wait's return. It reports the
// median and the maximum; process start-up is not timed.
func BenchmarkExitDetection(b *testing.B) {
	latencies := make([]time.Duration, 0, b.N)
	for b.Loop() {
		b.StopTimer()
		c := startNonChild(b)
		p, err := systemFind(c.pid)
		require.NoError(b, err)
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		b.StartTimer()

		require.NoError(b, c.stdin.Close())
		require.NoError(b, p.Wait(ctx))
		returned := time.Now()

		b.StopTimer()
		cancel()
		latencies = append(latencies, returned.Sub(c.exitTime(b)))
		require.NoError(b, p.Release())
		b.StartTimer()
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(latencies[len(latencies)-1].Microseconds()), "max-µs")
}

// BenchmarkIdentify measures what the identity check adds to a lookup:
// "find" pins the process and reads its start time, all that the rule of
// the start time against the pid file's modification time needed; "find
// and command line" also reads the command line through the pin, which
// the rules by command line need; "children" lists the children of the
// waiter, a Go process with several threads, as a forced stop does for
// every process it kills; "read pid file" is what a stop pays for each of
// the several reads of each pid file; "list" is the scan of the whole process table
// paid only when a pid file is unusable or missing.
func BenchmarkIdentify(b *testing.B) {
	c := startChild(b)
	b.Run("find", func(b *testing.B) {
		for b.Loop() {
			p, err := process.System().Find(c.pid)
			require.NoError(b, err)
			_ = p.StartTime()
			_ = p.Release()
		}
	})
	b.Run("find and command line", func(b *testing.B) {
		for b.Loop() {
			p, err := process.System().Find(c.pid)
			require.NoError(b, err)
			_ = p.StartTime()
			_, err = p.CommandLine()
			require.NoError(b, err)
			_ = p.Release()
		}
	})
	b.Run("children", func(b *testing.B) {
		p, err := process.System().Find(c.pid)
		require.NoError(b, err)
		defer p.Release()
		parent, ok := p.(process.Parent)
		if !ok {
			b.Skip("no process.Parent here")
		}
		for b.Loop() {
			_, err := parent.Children()
			require.NoError(b, err)
		}
	})
	b.Run("read pid file", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "ha.pid")
		require.NoError(b, os.WriteFile(path, []byte(strconv.Itoa(c.pid)+"\n"), 0o644))
		for b.Loop() {
			_, _, err := process.ReadPIDFile(path)
			require.NoError(b, err)
		}
	})
	b.Run("list", func(b *testing.B) {
		for b.Loop() {
			_, err := process.System().(process.Lister).List()
			require.NoError(b, err)
		}
	})
}

// BenchmarkFirstLook measures what a forced stop pays for each process of
// an instance before it signals anything: Find, CommandLine and Children
// on a waiter, a Go process with several threads. "first" looks at a
// process that has just started, whose /proc entries the kernel builds
// on this first lookup, as a stop finds a host agent and a driver that
// nothing has looked at; "again" looks at the same process once more.
// Each reports the median; process start-up is not timed.
func BenchmarkFirstLook(b *testing.B) {
	var first, again []time.Duration
	look := func(pid int) time.Duration {
		start := time.Now()
		p, err := process.System().Find(pid)
		require.NoError(b, err)
		_, err = p.CommandLine()
		require.NoError(b, err)
		if pp, ok := p.(process.Parent); ok {
			_, err = pp.Children()
			require.NoError(b, err)
		}
		took := time.Since(start)
		require.NoError(b, p.Release())
		return took
	}
	for b.Loop() {
		b.StopTimer()
		c := startChild(b)
		b.StartTimer()
		first = append(first, look(c.pid))
		again = append(again, look(c.pid))
		b.StopTimer()
		require.NoError(b, c.stdin.Close())
		b.StartTimer()
	}
	b.ReportMetric(medianMicros(first), "first-µs")
	b.ReportMetric(medianMicros(again), "again-µs")
}

// medianMicros returns the median of ds in microseconds.
func medianMicros(ds []time.Duration) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[len(s)/2].Nanoseconds()) / 1e3
}
