// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/siminst"
	"github.com/limastop/stop/process"
)

// The tests in this file stop simulated instances whose host agent has
// started more than its driver: a chain of helpers in its process group, as
// Lima's host agent starts ssh, and an external driver server, as Lima
// master does.

// stepFor returns the first step of kind that acted on pid.
func stepFor(res *stop.Result, kind stop.StepKind, pid int) (stop.Step, bool) {
	for _, s := range res.Steps {
		if s.Kind == kind && s.PID == pid {
			return s, true
		}
	}
	return stop.Step{}, false
}

// hasStep reports whether res holds a step of kind.
func hasStep(res *stop.Result, kind stop.StepKind) bool {
	for _, s := range res.Steps {
		if s.Kind == kind {
			return true
		}
	}
	return false
}

// reasonsByRole returns why the simulated processes said they ended, by
// role: a killed process says nothing.
func reasonsByRole(t *testing.T, sim *siminst.Instance) map[siminst.Role][]siminst.Reason {
	t.Helper()
	records, err := sim.Records()
	require.NoError(t, err)
	reasons := map[siminst.Role][]siminst.Reason{}
	for _, r := range records {
		reasons[r.Role] = append(reasons[r.Role], r.Reason)
	}
	return reasons
}

// TestSimulatedTreeKill: Forcible kills the host agent's helpers, its child
// and grandchild, after the targets, and confirms their deaths; with
// KeepDescendants it leaves them running; and helpers whose host agent died
// before the stop are beyond its reach.
//
// That a process which names the host agent's PID as its parent but
// started before it (its parent was an earlier holder of the PID) is never
// touched cannot be staged here: it needs a PID recycled on purpose. The
// fake-based TestForcibleKillsDescendants covers it.
func TestSimulatedTreeKill(t *testing.T) {
	t.Run("forcible", func(t *testing.T) {
		sim, inst := simulate(t, siminst.Options{Descendants: 2})
		ha, driver := pin(t, sim.HostAgentPID()), pin(t, sim.DriverPID())
		helpers := sim.HelperPIDs()
		require.Len(t, helpers, 2)
		child, grandchild := pin(t, helpers[0]), pin(t, helpers[1])

		res, err := stop.Forcible{Timeout: 10 * time.Second}.Stop(t.Context(), inst)
		require.NoError(t, err)
		t.Log("\n" + res.String())
		assert.Equal(t, stop.StoppedForcibly, res.Outcome)
		for _, p := range []process.Process{ha, driver, child, grandchild} {
			requireExited(t, p)
		}
		assert.Contains(t, res.String(), fmt.Sprintf("find descendants of the host agent (pid %d): 2", ha.PID()))
		for _, p := range []process.Process{child, grandchild} {
			step, ok := stepFor(res, stop.StepConfirm, p.PID())
			if assert.True(t, ok, "no confirmation of pid %d", p.PID()) {
				assert.NoError(t, step.Err)
			}
		}
		// The group kill is there exactly where the process table can
		// do it (Unix): it reaches the helpers before their own kills.
		_, groups := ha.(process.GroupKiller)
		step, ok := stepFor(res, stop.StepKillGroup, ha.PID())
		assert.Equal(t, groups, ok, "kill-group step")
		if ok {
			assert.NoError(t, step.Err)
		}
		// Where the process table can (Linux), the memory of each
		// process that its own kill reached is reaped, unless it has
		// exited by then. (The group kill may have ended a helper
		// before its own kill.)
		_, reaps := ha.(process.MemoryReaper)
		for _, p := range []process.Process{driver, ha, child, grandchild} {
			kill, ok := stepFor(res, stop.StepKill, p.PID())
			require.True(t, ok, "no kill step for pid %d", p.PID())
			step, ok := stepFor(res, stop.StepReap, p.PID())
			if assert.Equal(t, reaps && kill.Err == nil, ok, "reap step for pid %d", p.PID()) && ok && step.Err != nil {
				assert.ErrorIs(t, step.Err, process.ErrNotFound)
			}
		}
		assert.True(t, hostAgentExit(t, sim).Killed)
		assert.Empty(t, reasonsByRole(t, sim), "a killed process recorded its end")
		assert.Equal(t, []string{"lima.yaml"}, limaFiles(t, inst.Dir))
	})

	t.Run("keep descendants", func(t *testing.T) {
		sim, inst := simulate(t, siminst.Options{Descendants: 2})
		ha, driver := pin(t, sim.HostAgentPID()), pin(t, sim.DriverPID())
		helpers := sim.HelperPIDs()
		child, grandchild := pin(t, helpers[0]), pin(t, helpers[1])

		res, err := stop.Forcible{KeepDescendants: true}.Stop(t.Context(), inst)
		require.NoError(t, err)
		t.Log("\n" + res.String())
		assert.Equal(t, stop.StoppedForcibly, res.Outcome)
		requireExited(t, ha)
		requireExited(t, driver)
		// Orphaned by the kill, they run on, as ssh would; sim.Close
		// ends them.
		requireRunning(t, child)
		requireRunning(t, grandchild)
		assert.NotContains(t, res.String(), "find descendants")
		assert.False(t, hasStep(res, stop.StepKillGroup), "the host agent's group was killed")
	})

	// Once the host agent has died, its helpers are nobody's children
	// that a stop can see: the kernel (or Windows' snapshot, through a
	// parent PID that names a dead process) ties them to no live target,
	// and the host agent's PID, with no live leader behind it, cannot be
	// trusted to name its old process group, so Forcible signals no group
	// either. It kills what it can prove is the instance's, the driver,
	// and leaves the helpers running. That is the honest limit of a tree
	// kill done at stop time; the helpers hold no disk, so the instance
	// may look stopped while they run on until their own end.
	t.Run("host agent already killed", func(t *testing.T) {
		sim, inst := simulate(t, siminst.Options{Descendants: 2})
		driver := pin(t, sim.DriverPID())
		helpers := sim.HelperPIDs()
		child, grandchild := pin(t, helpers[0]), pin(t, helpers[1])
		require.NoError(t, sim.KillHostAgent())
		hostAgentExit(t, sim)

		res, err := stop.Forcible{Timeout: 10 * time.Second}.Stop(t.Context(), inst)
		require.NoError(t, err)
		t.Log("\n" + res.String())
		assert.Equal(t, stop.StoppedForcibly, res.Outcome)
		requireExited(t, driver)
		assert.Contains(t, res.String(), fmt.Sprintf("find descendants of the driver (pid %d): 0", driver.PID()))
		assert.False(t, hasStep(res, stop.StepKillGroup), "a group without a live leader was signalled")
		requireRunning(t, child)
		requireRunning(t, grandchild)
		for _, pid := range helpers {
			for _, s := range res.Steps {
				assert.NotEqual(t, pid, s.PID, "step %q acted on a helper", s.Action)
			}
		}
		assert.Equal(t, []string{"lima.yaml"}, limaFiles(t, inst.Dir))
	})
}

// exitCheckingDisks unlocks disks as LimaDisks does and records, at each
// unlock, whether the pinned external driver server had exited.
type exitCheckingDisks struct {
	server process.Process

	mu     sync.Mutex
	exited []bool // one per unlock
	disks  stop.LimaDisks
}

func (d *exitCheckingDisks) Unlock(ctx context.Context, inst *stop.Instance, disk string) error {
	d.mu.Lock()
	d.exited = append(d.exited, hasExited(d.server))
	d.mu.Unlock()
	return d.disks.Unlock(ctx, inst, disk)
}

// hasExited reports whether p has exited by now, without waiting: Wait with
// an expired context returns nil only for a process that has exited. On
// Linux that Wait can also lose a race against its own expired deadline
// and report a dead process alive, so it is asked a few times, within
// microseconds: a live process never passes.
func hasExited(p process.Process) bool {
	for range 10 {
		ctx, cancel := context.WithDeadline(context.Background(), time.Now())
		err := p.Wait(ctx)
		cancel()
		if err == nil {
			return true
		}
	}
	return false
}

// TestSimulatedExternalDriver: Lima master's external driver server, with
// its <name>.drv.pid written by the host agent and "--inst-dir <Dir>" as its
// command line, is killed and confirmed dead by Forcible before any disk is
// unlocked, and waited for by Graceful while the host agent stops it.
func TestSimulatedExternalDriver(t *testing.T) {
	t.Run("forcible", func(t *testing.T) {
		disks := disksIfSupported()
		sim, inst := simulate(t, siminst.Options{ExternalDriver: "krunkit", AdditionalDisks: disks})
		inst.AdditionalDisks = disks
		ha, driver, server := pin(t, sim.HostAgentPID()), pin(t, sim.DriverPID()), pin(t, sim.ExternalDriverPID())
		unlocker := &exitCheckingDisks{server: server}

		res, err := stop.Forcible{Disks: unlocker}.Stop(t.Context(), inst)
		require.NoError(t, err)
		t.Log("\n" + res.String())
		assert.Equal(t, stop.StoppedForcibly, res.Outcome)
		for _, p := range []process.Process{ha, driver, server} {
			requireExited(t, p)
		}
		step, ok := stepFor(res, stop.StepConfirm, server.PID())
		if assert.True(t, ok, "the server's death was not confirmed") {
			assert.Equal(t, stop.RoleExternalDriver, step.Role)
			assert.NoError(t, step.Err)
		}
		// Where symlinks do not work (Wine), no disk is locked, and
		// none is unlocked.
		assert.Len(t, unlocker.exited, len(disks))
		for i, exited := range unlocker.exited {
			assert.True(t, exited, "disk %q was unlocked while the server ran", disks[i])
		}
		for _, d := range disks {
			_, err := os.Lstat(filepath.Join(filepath.Dir(inst.Dir), "_disks", d, "in_use_by"))
			assert.ErrorIs(t, err, os.ErrNotExist, "disk %q is still locked", d)
		}
		assert.Empty(t, reasonsByRole(t, sim), "a killed process recorded its end")
		assert.Equal(t, []string{"lima.yaml"}, limaFiles(t, inst.Dir))
	})

	t.Run("graceful", func(t *testing.T) {
		sim, inst := simulate(t, siminst.Options{ExternalDriver: "krunkit", ShutdownDelay: 20 * time.Millisecond})
		server := pin(t, sim.ExternalDriverPID())

		res, err := stop.Graceful{Timeout: 20 * time.Second}.Stop(t.Context(), inst)
		require.NoError(t, err)
		t.Log("\n" + res.String())
		assert.Equal(t, stop.StoppedGracefully, res.Outcome)
		step, ok := stepFor(res, stop.StepWait, server.PID())
		if assert.True(t, ok, "the server was not waited for") {
			assert.Equal(t, stop.RoleExternalDriver, step.Role)
			assert.NoError(t, step.Err)
		}
		assert.False(t, hostAgentExit(t, sim).Killed)
		requireExited(t, server)
		assert.Equal(t, map[siminst.Role][]siminst.Reason{
			siminst.RoleHostAgent:      {siminst.ReasonInterrupted},
			siminst.RoleDriver:         {siminst.ReasonStdinClosed},
			siminst.RoleExternalDriver: {siminst.ReasonStdinClosed},
		}, reasonsByRole(t, sim))
		assert.Equal(t, []string{"lima.yaml"}, limaFiles(t, inst.Dir))
	})
}
