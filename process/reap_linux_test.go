// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/process"
)

// reaper returns p, which on Linux is a MemoryReaper.
func reaper(t testing.TB, p process.Process) process.MemoryReaper {
	t.Helper()
	m, ok := p.(process.MemoryReaper)
	require.True(t, ok, "a Linux process is a MemoryReaper")
	return m
}

// TestReapMemory: only a killed process is reaped; one that was not killed
// is refused and runs on; a reaped process still exits, and Wait confirms
// it; a process that has exited, reaped by its parent or not, is
// ErrNotFound.
func TestReapMemory(t *testing.T) {
	c := startChild(t, holdEnv+"=64")
	p := find(t, c.pid)
	m := reaper(t, p)

	err := m.ReapMemory()
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip(err)
	}
	require.ErrorIs(t, err, process.ErrNotDying)
	requireRunning(t, p)

	require.NoError(t, p.Kill())
	// Freeing 64 MiB takes the dying process milliseconds, so the reap
	// nearly always comes first; if it does not, the process is gone.
	if err := m.ReapMemory(); err != nil {
		require.ErrorIs(t, err, process.ErrNotFound)
		t.Log("the process exited before it could be reaped")
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.NoError(t, p.Wait(ctx))
	assert.ErrorIs(t, m.ReapMemory(), process.ErrNotFound, "a zombie")
	assert.Equal(t, -1, c.exitCode(t), "killed by a signal")
	assert.ErrorIs(t, m.ReapMemory(), process.ErrNotFound, "after its parent reaped it")
}

// requireRunning fails unless p is still running.
func requireRunning(t *testing.T, p process.Process) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, p.Wait(ctx), context.DeadlineExceeded, "pid %d exited", p.PID())
}

// BenchmarkReapMemory measures how long a killed process takes to be gone,
// from the kill to Wait's return, when it holds benchHoldMiB of memory
// (PROCESS_BENCH_HOLD_MIB overrides it): "kill" leaves the process to free
// its memory as it exits, "kill and reap" reaps it from the caller, as a
// forced stop does. Process start-up is not timed.
func BenchmarkReapMemory(b *testing.B) {
	mib := benchHoldMiB
	if v, err := strconv.Atoi(os.Getenv("PROCESS_BENCH_HOLD_MIB")); err == nil && v > 0 {
		mib = v
	}
	for _, reap := range []bool{false, true} {
		name := "kill"
		if reap {
			name = "kill and reap"
		}
		b.Run(fmt.Sprintf("%s/%dMiB", name, mib), func(b *testing.B) {
			var gone []time.Duration
			for b.Loop() {
				b.StopTimer()
				c := startChild(b, holdEnv+"="+strconv.Itoa(mib))
				p, err := process.System().Find(c.pid)
				require.NoError(b, err)
				ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
				b.StartTimer()

				start := time.Now()
				require.NoError(b, p.Kill())
				if reap {
					if err := reaper(b, p).ReapMemory(); errors.Is(err, errors.ErrUnsupported) {
						b.Skip(err)
					}
				}
				require.NoError(b, p.Wait(ctx))
				gone = append(gone, time.Since(start))

				b.StopTimer()
				cancel()
				require.NoError(b, p.Release())
				b.StartTimer()
			}
			slices.Sort(gone)
			b.ReportMetric(float64(gone[len(gone)/2].Microseconds()), "p50-gone-µs")
		})
	}
}

// benchHoldMiB is how much memory BenchmarkReapMemory's process holds.
const benchHoldMiB = 1024
