//go:build linux

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package bench_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/limastop/stop/internal/siminst"
	"github.com/limastop/stop/process"
)

// pollInterval is the interval at which Lima's StopGracefully polls
// store.Inspect, which checks each pid with kill(pid, 0).
const pollInterval = 500 * time.Millisecond

// BenchmarkExitDetection compares two ways of learning that a process
// which is not the caller's child has exited, both watching the same exit:
// process.Process.Wait (a pidfd) against kill(pid, 0) every pollInterval,
// which is how Lima learns it through store.Inspect. The process is a
// simulated driver, the child of its host agent, which reaps it at once:
// until then kill(pid, 0) would still find the zombie. The driver is
// stopped through a graceful stop of its host agent, a random fraction of
// pollInterval after the poll started, as the poll's phase is random in
// Lima too.
//
//   - detect: from the exit time the driver recorded just before exiting
//     to the moment each method saw the exit.
//
// The benchmark timer runs from the interrupt to the return of Wait.
func BenchmarkExitDetection(b *testing.B) {
	home := limaHome(b)
	var ours, poll []time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		s := startSim(b, home, fmt.Sprintf("exit-%d", i), siminst.Options{})
		ha, err := process.System().Find(s.HostAgentPID())
		require.NoError(b, err)
		driver, err := process.System().Find(s.DriverPID())
		require.NoError(b, err)
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		polled := make(chan time.Time, 1)
		go func() { polled <- pollExit(ctx, s.DriverPID()) }()
		time.Sleep(rand.N(pollInterval))

		b.StartTimer()
		require.NoError(b, ha.Interrupt())
		require.NoError(b, driver.Wait(ctx))
		waited := time.Now()
		b.StopTimer()

		exited := driverExit(b, s)
		ours = append(ours, waited.Sub(exited))
		seen := <-polled
		require.False(b, seen.IsZero(), "the poll did not see the driver exit")
		poll = append(poll, seen.Sub(exited))
		cancel()
		require.NoError(b, driver.Release())
		require.NoError(b, ha.Release())
		s.gone(b)
		b.StartTimer()
	}
	b.ReportMetric(ms(ours), "ours-detect-ms")
	b.ReportMetric(ms(poll), "poll-detect-ms")
	b.ReportMetric(ratio(ms(poll), ms(ours)), "poll/ours")
}

// pollExit checks with kill(pid, 0) every pollInterval, the first time one
// interval after it starts, until pid is gone, and returns when it saw
// that, or the zero time if ctx ends first.
func pollExit(ctx context.Context, pid int) time.Time {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if errors.Is(unix.Kill(pid, 0), unix.ESRCH) {
				return time.Now()
			}
		case <-ctx.Done():
			return time.Time{}
		}
	}
}

// driverExit returns the exit time the driver of s recorded.
func driverExit(tb testing.TB, s *sim) time.Time {
	tb.Helper()
	recs, err := s.Records()
	require.NoError(tb, err)
	for _, r := range recs {
		if r.Role == siminst.RoleDriver {
			return r.Time
		}
	}
	tb.Fatalf("the driver of %s recorded no exit: %v", s.Name(), recs)
	return time.Time{}
}
