// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop"
	"github.com/limastop/stop/process"
	"github.com/limastop/stop/process/processtest"
)

// TestForcibleKillsDescendants: the host agent's child and grandchild are
// killed after the targets and their deaths confirmed; a process that names
// the host agent's PID as its parent but started before it (its parent was
// an earlier holder of the PID) is never touched.
func TestForcibleKillsDescendants(t *testing.T) {
	const child, grandchild, orphan = haPID + 100, haPID + 101, haPID + 102
	for _, keep := range []bool{false, true} {
		f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
		c := f.table.Add(child, processtest.Behavior{Parent: haPID, CommandLine: stranger})
		g := f.table.Add(grandchild, processtest.Behavior{Parent: child, CommandLine: stranger})
		o := f.table.Add(orphan, processtest.Behavior{Parent: haPID, CommandLine: stranger, StartTime: f.ha.StartTime().Add(-time.Hour)})
		res, err := stop.Forcible{Processes: &f.table, KeepDescendants: keep, Timeout: time.Second}.Stop(context.Background(), f.inst)
		require.NoError(t, err)
		assert.Equal(t, stop.StoppedForcibly, res.Outcome)
		assert.Equal(t, !keep, c.Exited(), "child, keep=%v", keep)
		assert.Equal(t, !keep, g.Exited(), "grandchild, keep=%v", keep)
		assert.False(t, o.Exited(), "a process older than its supposed parent was killed")
		assert.Empty(t, f.signalled(orphan))
		if !keep {
			assert.Contains(t, res.String(), "find descendants of the host agent (pid 4000002): 2")
			assert.Contains(t, res.String(), "confirm descendant of the host agent (pid 4000103) exited")
		}
	}
}

// recyclingTable recycles pid once, as it is pinned: the process listed as
// a child exits, and a stranger takes its PID just before Find.
type recyclingTable struct {
	*processtest.Table
	pid      int
	once     sync.Once
	stranger *processtest.Process
}

func (r *recyclingTable) Find(pid int) (process.Process, error) {
	if pid == r.pid {
		r.once.Do(func() {
			r.stranger = r.Add(pid, processtest.Behavior{Parent: 1, CommandLine: stranger})
		})
	}
	return r.Table.Find(pid)
}

// TestForcibleDescendantRecycledWhilePinned: a child listed by the host
// agent whose PID a stranger took before it was pinned is not the host
// agent's child when listed again, and is left alone.
func TestForcibleDescendantRecycledWhilePinned(t *testing.T) {
	f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
	const child = haPID + 100
	f.table.Add(child, processtest.Behavior{Parent: haPID, CommandLine: stranger})
	table := &recyclingTable{Table: &f.table, pid: child}
	res, err := stop.Forcible{Processes: table, Timeout: time.Second}.Stop(context.Background(), f.inst)
	require.NoError(t, err)
	require.NotNil(t, table.stranger, "the child was never pinned")
	assert.False(t, table.stranger.Exited(), "the stranger that took the child's PID was killed")
	assert.Empty(t, f.signalled(child))
	assert.Contains(t, res.String(), "find descendants of the host agent (pid 4000002): 0")
}

// TestForcibleSearchesBeforeKilling: every subtree is pinned before the
// first signal, so that the kills come in one burst and no process of the
// instance lives on to react to another's death (a host agent to its
// driver's); the descendants are killed after the targets.
func TestForcibleSearchesBeforeKilling(t *testing.T) {
	f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
	f.table.Add(driverPID+100, processtest.Behavior{Parent: driverPID, CommandLine: stranger})
	f.table.Add(haPID+100, processtest.Behavior{Parent: haPID, CommandLine: stranger})
	res, err := stop.Forcible{Processes: &f.table, Timeout: time.Second}.Stop(context.Background(), f.inst)
	require.NoError(t, err)
	t.Log("\n" + res.String())
	var order []string
	for _, s := range res.Steps {
		switch {
		case s.Kind == stop.StepFind && strings.HasPrefix(s.Action, "find descendants"):
			order = append(order, "search "+string(s.Role))
		case s.Kind == stop.StepKill || s.Kind == stop.StepKillGroup:
			order = append(order, "kill "+string(s.Role))
		}
	}
	assert.Equal(t, []string{
		"search driver", "search host agent",
		"kill driver", "kill host agent",
		"kill descendant of the driver", "kill descendant of the host agent",
	}, order)
}

// TestForcibleChecksOnce: without a WSL2 distro to terminate between them,
// the check of the pid files after the deaths is also the one before the
// disks are unlocked; restart_test.go covers the second check a WSL2
// instance needs.
func TestForcibleChecksOnce(t *testing.T) {
	f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
	res, err := stop.Forcible{Processes: &f.table, Timeout: time.Second}.Stop(context.Background(), f.inst)
	require.NoError(t, err)
	var kinds []stop.StepKind
	for _, s := range res.Steps {
		if s.Kind == stop.StepCheck || s.Kind == stop.StepUnlock || s.Kind == stop.StepRemove {
			kinds = append(kinds, s.Kind)
		}
	}
	assert.Equal(t, []stop.StepKind{stop.StepCheck, stop.StepUnlock, stop.StepRemove}, kinds)
	f.assertDiskLocked(t, false)
}

// TestForcibleDescendantSurvives: a descendant that cannot be killed keeps
// the instance's files, as a surviving target does.
func TestForcibleDescendantSurvives(t *testing.T) {
	f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
	f.table.Add(haPID+100, processtest.Behavior{Parent: haPID, RefuseKill: true})
	res, err := stop.Forcible{Processes: &f.table, Timeout: 100 * time.Millisecond}.Stop(context.Background(), f.inst)
	require.ErrorIs(t, err, processtest.ErrKillRefused)
	assert.Equal(t, stop.NotStopped, res.Outcome)
	assert.ElementsMatch(t, []string{"lima.yaml", "ha.pid", "qemu.pid", "ha.sock"}, f.files(t))
	f.assertDiskLocked(t, true)
}

// recordingDisks records, at each unlock, which fake processes still ran.
type recordingDisks struct {
	running func() bool
	sawLive *bool
}

func (d recordingDisks) Unlock(context.Context, *stop.Instance, string) error {
	if d.running() {
		*d.sawLive = true
	}
	return nil
}

// TestExternalDriver: Lima master's external driver servers write
// <name>.drv.pid and are started with --inst-dir <Dir>: Forcible kills and
// confirms them before it unlocks the disks, Graceful waits for them, and
// a stranger named by such a file is left alone.
func TestExternalDriver(t *testing.T) {
	const drvPID = haPID + 200
	setup := func(t *testing.T, b processtest.Behavior) (*fixture, *processtest.Process) {
		f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
		ext := f.table.Add(drvPID, withArgs(b, "/usr/local/libexec/lima/lima-driver-krunkit", "--inst-dir", f.inst.Dir))
		writeFile(t, filepath.Join(f.inst.Dir, "krunkit.drv.pid"), strconv.Itoa(drvPID))
		writeFile(t, filepath.Join(f.inst.Dir, "krunkit.drv.sock"), "")
		return f, ext
	}
	t.Run("forcible", func(t *testing.T) {
		f, ext := setup(t, processtest.Behavior{})
		var sawLive bool
		disks := recordingDisks{running: func() bool { return !ext.Exited() }, sawLive: &sawLive}
		res, err := stop.Forcible{Processes: &f.table, Disks: disks, Timeout: time.Second}.Stop(context.Background(), f.inst)
		require.NoError(t, err)
		assert.Equal(t, stop.StoppedForcibly, res.Outcome)
		assert.Equal(t, []string{"kill"}, f.signalled(drvPID))
		assert.False(t, sawLive, "a disk was unlocked while the external driver ran")
		assert.Equal(t, []string{"lima.yaml"}, f.files(t))
	})
	t.Run("graceful", func(t *testing.T) {
		f, ext := setup(t, processtest.Behavior{})
		f.haEndsDriver()
		go func() {
			<-f.ha.Done()
			time.Sleep(20 * time.Millisecond)
			ext.Exit()
		}()
		res, err := stop.Graceful{Processes: &f.table, Timeout: 5 * time.Second}.Stop(context.Background(), f.inst)
		require.NoError(t, err)
		assert.Equal(t, stop.StoppedGracefully, res.Outcome)
		assert.Contains(t, res.String(), "wait for external driver (pid 4000202) to exit")
		assert.True(t, ext.Exited())
	})
	t.Run("stranger", func(t *testing.T) {
		f, ext := setup(t, processtest.Behavior{CommandLine: stranger, StartTime: time.Now().Add(time.Hour)})
		_, err := stop.Forcible{Processes: &f.table, Timeout: time.Second}.Stop(context.Background(), f.inst)
		require.NoError(t, err)
		assert.Empty(t, f.signalled(drvPID))
		assert.False(t, ext.Exited())
	})
}

// TestRequestStop: a StopRequester that makes the request (Lima master's
// autostart) replaces the interrupt; one that declines leaves it.
func TestRequestStop(t *testing.T) {
	for _, requested := range []bool{true, false} {
		f := newFixture(t, processtest.Behavior{}, processtest.Behavior{}).haEndsDriver()
		request := func(context.Context, *stop.Instance) (bool, error) {
			if requested {
				time.AfterFunc(10*time.Millisecond, f.ha.Exit)
			}
			return requested, nil
		}
		res, err := stop.Graceful{Processes: &f.table, Request: request, Timeout: 5 * time.Second}.Stop(context.Background(), f.inst)
		require.NoError(t, err)
		assert.Equal(t, stop.StoppedGracefully, res.Outcome)
		if requested {
			assert.Empty(t, f.signalled(haPID))
		} else {
			assert.Equal(t, []string{"interrupt"}, f.signalled(haPID))
		}
	}
}

// TestOrphanForcedBudget: under a deadline shorter than the grace, Orphan
// still ends in a confirmed forced stop before the deadline, and so does
// Shutdown.StopAll, whose default Stopper is Orphan.
func TestOrphanForcedBudget(t *testing.T) {
	t.Run("orphan", func(t *testing.T) {
		f := newFixture(t, processtest.Behavior{IgnoreInterrupt: true}, processtest.Behavior{})
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		begin := time.Now()
		o := stop.Orphan{Graceful: stop.Graceful{Processes: &f.table, Timeout: time.Minute}, ForcedBudget: 200 * time.Millisecond}
		res, err := o.Stop(ctx, f.inst)
		took := time.Since(begin)
		require.NoError(t, err)
		assert.Equal(t, stop.StoppedForcibly, res.Outcome)
		assert.ErrorIs(t, res.Escalation, context.DeadlineExceeded)
		assert.Less(t, took, 500*time.Millisecond)
		t.Logf("deadline 500ms, budget 200ms: forced stop confirmed after %s", took.Round(time.Millisecond))
	})
	t.Run("cancelled", func(t *testing.T) {
		f := newFixture(t, processtest.Behavior{IgnoreInterrupt: true}, processtest.Behavior{})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		res, err := stop.Orphan{Graceful: stop.Graceful{Processes: &f.table, Timeout: time.Minute}}.Stop(ctx, f.inst)
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, stop.NotStopped, res.Outcome)
		assert.Empty(t, f.signalled(driverPID), "a cancelled stop forced")
	})
	t.Run("stop all", func(t *testing.T) {
		a := newFixture(t, processtest.Behavior{IgnoreInterrupt: true}, processtest.Behavior{})
		b := newFixture(t, processtest.Behavior{InterruptDelay: time.Millisecond}, processtest.Behavior{}).haEndsDriver()
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		s := stop.Shutdown{Stopper: stop.Orphan{Graceful: stop.Graceful{Processes: &a.table}, ForcedBudget: 200 * time.Millisecond}}
		results, err := s.StopAll(ctx, []*stop.Instance{a.inst})
		require.NoError(t, err)
		assert.Equal(t, stop.StoppedForcibly, results[0].Outcome)
		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		results, err = stop.Shutdown{Stopper: stop.Orphan{Graceful: stop.Graceful{Processes: &b.table}}}.StopAll(ctx, []*stop.Instance{b.inst})
		require.NoError(t, err)
		assert.Equal(t, stop.StoppedGracefully, results[0].Outcome)
	})
}

// TestErrorPhases: every failure is an *Error naming the instance and the
// phase, and errors.Is still reaches the cause.
func TestErrorPhases(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(f *fixture) stop.Stopper
		phase stop.Phase
		cause error
	}{
		{"start", func(f *fixture) stop.Stopper {
			f.inst.Dir += "-missing"
			return stop.Forcible{Processes: &f.table}
		}, stop.PhaseStart, os.ErrNotExist},
		{"find", func(f *fixture) stop.Stopper {
			f.ha.Exit()
			f.table.Add(haPID, processtest.Behavior{CommandLine: stranger})
			return stop.Forcible{Processes: &f.table}
		}, stop.PhaseFind, stop.ErrIdentityUnknown},
		{"graceful", func(f *fixture) stop.Stopper {
			return stop.Graceful{Processes: &f.table, Timeout: 10 * time.Millisecond}
		}, stop.PhaseGraceful, context.DeadlineExceeded},
		{"kill", func(f *fixture) stop.Stopper {
			f.table.Add(driverPID, processtest.Behavior{RefuseKill: true, CommandLine: f.drv.Behavior().CommandLine})
			return stop.Forcible{Processes: &f.table, Timeout: 10 * time.Millisecond}
		}, stop.PhaseKill, processtest.ErrKillRefused},
		{"clean-up", func(f *fixture) stop.Stopper {
			return stop.Forcible{Processes: &f.table, Disks: failingDisks{}}
		}, stop.PhaseCleanUp, os.ErrPermission},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, processtest.Behavior{IgnoreInterrupt: true}, processtest.Behavior{})
			res, err := tc.setup(f).Stop(context.Background(), f.inst)
			var se *stop.Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, "default", se.Instance)
			assert.Equal(t, tc.phase, se.Phase)
			assert.ErrorIs(t, err, tc.cause)
			assert.Equal(t, err, res.Err)
			assert.Equal(t, tc.phase == stop.PhaseCleanUp, res.Stopped())
		})
	}
}

// TestStepFields: steps carry their kind, role and PID for programs.
func TestStepFields(t *testing.T) {
	f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
	res, err := stop.Forcible{Processes: &f.table}.Stop(context.Background(), f.inst)
	require.NoError(t, err)
	var kills []stop.Step
	for _, s := range res.Steps {
		if s.Kind == stop.StepKill {
			kills = append(kills, s)
		}
	}
	require.Len(t, kills, 2)
	assert.Equal(t, stop.RoleDriver, kills[0].Role)
	assert.Equal(t, driverPID, kills[0].PID)
	assert.Equal(t, stop.RoleHostAgent, kills[1].Role)
	assert.Equal(t, haPID, kills[1].PID)
}
