// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/siminst"
	"github.com/limastop/stop/internal/testutil"
	"github.com/limastop/stop/process"
)

// The tests in this file stop simulated instances made of real processes:
// the test binary re-executed as host agent and driver.

// simTimeout bounds the stops of simulated instances, far below the
// policies' defaults (three minutes for Graceful): a regression that keeps
// a process from exiting fails the test in seconds instead of hanging it.
const simTimeout = 10 * time.Second

// simOrphan returns an Orphan stop whose graceful phase takes at most grace
// and whose forced phase at most simTimeout.
func simOrphan(grace time.Duration) stop.Orphan {
	return stop.Orphan{Graceful: stop.Graceful{Timeout: grace}, Forcible: stop.Forcible{Timeout: simTimeout}}
}

// simulate starts a simulated instance in a LIMA_HOME whose path holds glob
// metacharacters, and closes it at cleanup.
func simulate(t *testing.T, opts siminst.Options) (*siminst.Instance, *stop.Instance) {
	t.Helper()
	opts.LimaHome = testutil.TempDir(t, dirPattern)
	opts.Lifetime = time.Minute
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	sim, err := siminst.Start(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, sim.Close()) })
	return sim, &stop.Instance{Name: sim.Name(), Dir: sim.Dir(), VMType: sim.VMType()}
}

// hostAgentExit waits for the simulated host agent, the test's child, to
// exit and returns how it did.
func hostAgentExit(t *testing.T, sim *siminst.Instance) siminst.Exit {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	exit, err := sim.WaitHostAgent(ctx)
	require.NoError(t, err)
	return exit
}

// pin finds pid and releases it at cleanup.
func pin(t *testing.T, pid int) process.Process {
	t.Helper()
	p, err := process.System().Find(pid)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Release() })
	return p
}

// requireRunning checks that p has not exited a short while later.
func requireRunning(t *testing.T, p process.Process) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, p.Wait(ctx), context.DeadlineExceeded, "pid %d exited", p.PID())
}

// requireExited checks that p has exited (or will within a bound).
func requireExited(t *testing.T, p process.Process) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	require.NoError(t, p.Wait(ctx), "pid %d is still running", p.PID())
}

// dirNames lists dir, leaving out the file that Windows stops lock, which
// stays by design.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if e.Name() != "limastop.lock" {
			names = append(names, e.Name())
		}
	}
	return names
}

// hostAgentRecords returns why the simulated host agent said it ended: an
// interrupted one records "interrupted"; a killed one cannot record.
func hostAgentRecords(t *testing.T, sim *siminst.Instance) []siminst.Reason {
	t.Helper()
	records, err := sim.Records()
	require.NoError(t, err)
	var reasons []siminst.Reason
	for _, r := range records {
		if r.Role == siminst.RoleHostAgent {
			reasons = append(reasons, r.Reason)
		}
	}
	return reasons
}

func TestSimulatedInstance(t *testing.T) {
	for _, tc := range []struct {
		name            string
		opts            siminst.Options
		stopper         stop.Stopper
		wantOutcome     stop.Outcome
		wantInterrupted bool // the host agent shut down by itself
	}{
		{name: "graceful", opts: siminst.Options{ShutdownDelay: 20 * time.Millisecond},
			stopper: stop.Graceful{Timeout: simTimeout}, wantOutcome: stop.StoppedGracefully, wantInterrupted: true},
		{name: "forcible", stopper: stop.Forcible{Timeout: simTimeout}, wantOutcome: stop.StoppedForcibly},
		{name: "orphan that shuts down", opts: siminst.Options{ShutdownDelay: 20 * time.Millisecond},
			stopper: simOrphan(simTimeout), wantOutcome: stop.StoppedGracefully, wantInterrupted: true},
		{name: "orphan that ignores interrupts", opts: siminst.Options{IgnoreInterrupt: true},
			stopper: simOrphan(200 * time.Millisecond), wantOutcome: stop.StoppedForcibly},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, inst := simulate(t, tc.opts)
			driver := pin(t, sim.DriverPID())

			res, err := tc.stopper.Stop(t.Context(), inst)
			require.NoError(t, err)
			t.Log("\n" + res.String())
			assert.Equal(t, tc.wantOutcome, res.Outcome)

			exit := hostAgentExit(t, sim)
			requireExited(t, driver)
			if tc.wantInterrupted {
				assert.False(t, exit.Killed)
				assert.Equal(t, []siminst.Reason{siminst.ReasonInterrupted}, hostAgentRecords(t, sim))
			} else {
				assert.True(t, exit.Killed, "exit: %+v", exit)
				assert.Empty(t, hostAgentRecords(t, sim))
			}
			for _, name := range dirNames(t, inst.Dir) {
				assert.NotContains(t, []string{"ha.pid", "ha.sock", inst.VMType + ".pid"}, name)
			}

			res, err = tc.stopper.Stop(t.Context(), inst)
			require.NoError(t, err)
			assert.Equal(t, stop.AlreadyStopped, res.Outcome)
		})
	}
}

func TestSimulatedCancelMidStop(t *testing.T) {
	sim, inst := simulate(t, siminst.Options{IgnoreInterrupt: true})
	ha, driver := pin(t, sim.HostAgentPID()), pin(t, sim.DriverPID())
	before := dirNames(t, inst.Dir)

	// Cancelled, not timed out: a deadline would leave Orphan its forced
	// budget, a cancellation means stop now.
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	res, err := simOrphan(time.Minute).Stop(ctx, inst)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, stop.NotStopped, res.Outcome)
	requireRunning(t, ha)
	requireRunning(t, driver)
	assert.Equal(t, before, dirNames(t, inst.Dir))
}

func TestSimulatedConcurrentStops(t *testing.T) {
	sim, inst := simulate(t, siminst.Options{ShutdownDelay: 10 * time.Millisecond})
	stoppers := []stop.Stopper{stop.Forcible{Timeout: simTimeout}, simOrphan(simTimeout), stop.Graceful{Timeout: simTimeout}}
	outcomes := make([]stop.Outcome, 6)
	var wg sync.WaitGroup
	for i := range outcomes {
		wg.Go(func() {
			res, err := stoppers[i%len(stoppers)].Stop(t.Context(), inst)
			assert.NoError(t, err)
			outcomes[i] = res.Outcome
		})
	}
	wg.Wait()
	var stopped int
	for _, o := range outcomes {
		if o != stop.AlreadyStopped {
			stopped++
		}
	}
	assert.Equal(t, 1, stopped, "outcomes: %v", outcomes)
	hostAgentExit(t, sim)
}
