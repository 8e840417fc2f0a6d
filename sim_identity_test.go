// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/siminst"
)

// The tests in this file check the identity rules (see the package doc) on
// simulated instances whose processes carry Lima's command lines.

// stopped returns a simulated instance whose processes were killed, as a
// crash would, leaving its pid files, socket and disk lock behind.
func stopped(t *testing.T, opts siminst.Options) (*siminst.Instance, *stop.Instance) {
	t.Helper()
	sim, inst := simulate(t, opts)
	require.NoError(t, sim.Close())
	return sim, inst
}

// claim writes pid into the instance's pid file name, last modified at
// written.
func claim(t *testing.T, inst *stop.Instance, name string, pid int, written time.Time) {
	t.Helper()
	path := filepath.Join(inst.Dir, name)
	writeFile(t, path, strconv.Itoa(pid)+"\n")
	require.NoError(t, os.Chtimes(path, written, written))
}

// TestSimulatedRecycledPID: the pid files of a crashed instance name the
// processes of another instance, which started after the files were
// written: they are strangers, never signalled, and the stale files go.
func TestSimulatedRecycledPID(t *testing.T) {
	for _, s := range []stop.Stopper{stop.Forcible{Timeout: 10 * time.Second}, bounded(stop.Orphan{})} {
		_, inst := stopped(t, siminst.Options{})
		old := time.Now().Add(-time.Hour)
		other, _ := simulate(t, siminst.Options{Name: "other"})
		ha, driver := pin(t, other.HostAgentPID()), pin(t, other.DriverPID())
		claim(t, inst, "ha.pid", other.HostAgentPID(), old)
		claim(t, inst, "qemu.pid", other.DriverPID(), old)

		res, err := s.Stop(t.Context(), inst)
		require.NoError(t, err)
		assert.Equal(t, stop.AlreadyStopped, res.Outcome)
		requireRunning(t, ha)
		requireRunning(t, driver)
		assert.Empty(t, hostAgentRecords(t, other), "the other host agent was interrupted")
		if _, ok := s.(stop.Forcible); ok {
			assert.Equal(t, []string{"lima.yaml"}, limaFiles(t, inst.Dir))
		}
	}
}

// TestSimulatedStrangerUnknown: a live process of another instance that
// started before the pid file naming it was written is neither proven ours
// nor a stranger: every policy fails with ErrIdentityUnknown, nothing is
// signalled and nothing is removed.
func TestSimulatedStrangerUnknown(t *testing.T) {
	other, _ := simulate(t, siminst.Options{Name: "other"})
	ha := pin(t, other.HostAgentPID())
	_, inst := stopped(t, siminst.Options{})
	claim(t, inst, "ha.pid", other.HostAgentPID(), time.Now())
	before := dirNames(t, inst.Dir)

	for _, s := range []stop.Stopper{stop.Graceful{Timeout: 10 * time.Second}, stop.Forcible{Timeout: 10 * time.Second}, bounded(stop.Orphan{})} {
		res, err := s.Stop(t.Context(), inst)
		require.ErrorIs(t, err, stop.ErrIdentityUnknown)
		assert.ErrorContains(t, err, strconv.Itoa(other.HostAgentPID()))
		assert.Equal(t, stop.NotStopped, res.Outcome)
	}
	requireRunning(t, ha)
	assert.Empty(t, hostAgentRecords(t, other), "the other host agent was interrupted")
	assert.Equal(t, before, dirNames(t, inst.Dir))
}

// TestSimulatedTouchedPIDFiles: a running instance whose pid files look
// older than its processes (a restored LIMA_HOME, touch -d, a clock step)
// is still recognised by its command lines: Forcible kills both processes
// and cleans up, Graceful stops it gracefully.
func TestSimulatedTouchedPIDFiles(t *testing.T) {
	touch := func(inst *stop.Instance) {
		old := time.Now().Add(-time.Hour)
		for _, name := range []string{"ha.pid", "qemu.pid"} {
			require.NoError(t, os.Chtimes(filepath.Join(inst.Dir, name), old, old))
		}
	}
	t.Run("forcible", func(t *testing.T) {
		sim, inst := simulate(t, siminst.Options{AdditionalDisks: disksIfSupported()})
		ha, driver := pin(t, sim.HostAgentPID()), pin(t, sim.DriverPID())
		touch(inst)
		inst.AdditionalDisks = disksIfSupported()
		res, err := stop.Forcible{Timeout: 10 * time.Second}.Stop(t.Context(), inst)
		require.NoError(t, err)
		assert.Equal(t, stop.StoppedForcibly, res.Outcome)
		requireExited(t, ha)
		requireExited(t, driver)
		assert.Equal(t, []string{"lima.yaml"}, limaFiles(t, inst.Dir))
	})
	t.Run("graceful", func(t *testing.T) {
		sim, inst := simulate(t, siminst.Options{})
		touch(inst)
		res, err := stop.Graceful{Timeout: 20 * time.Second}.Stop(t.Context(), inst)
		require.NoError(t, err)
		assert.Equal(t, stop.StoppedGracefully, res.Outcome)
		assert.Equal(t, []siminst.Reason{siminst.ReasonInterrupted}, hostAgentRecords(t, sim))
	})
}

// TestSimulatedEmptyHostAgentPIDFile: an empty or garbage ha.pid behind a
// live host agent, as a crash while writing it leaves, does not block a
// stop: the host agent is found by its command line.
func TestSimulatedEmptyHostAgentPIDFile(t *testing.T) {
	for _, s := range []stop.Stopper{stop.Graceful{Timeout: 20 * time.Second}, stop.Forcible{Timeout: 10 * time.Second}, bounded(stop.Orphan{})} {
		for _, content := range []string{"", "4294967295\n"} {
			sim, inst := simulate(t, siminst.Options{})
			ha, driver := pin(t, sim.HostAgentPID()), pin(t, sim.DriverPID())
			writeFile(t, filepath.Join(inst.Dir, "ha.pid"), content)
			res, err := s.Stop(t.Context(), inst)
			require.NoError(t, err, "%T, %q", s, content)
			assert.NotEqual(t, stop.NotStopped, res.Outcome)
			requireExited(t, ha)
			requireExited(t, driver)
		}
	}
}

// TestSimulatedAncestorInPIDFile: a crashed instance whose ha.pid names the
// test's parent (the go command, or a shell): every policy refuses it with
// ErrUnsafePID, and nothing is removed.
func TestSimulatedAncestorInPIDFile(t *testing.T) {
	if os.Getppid() <= 1 {
		t.Skip("no parent that may be signalled")
	}
	_, inst := stopped(t, siminst.Options{})
	claim(t, inst, "ha.pid", os.Getppid(), time.Now())
	before := dirNames(t, inst.Dir)
	for _, s := range []stop.Stopper{stop.Graceful{Timeout: 10 * time.Second}, stop.Forcible{Timeout: 10 * time.Second}, bounded(stop.Orphan{})} {
		res, err := s.Stop(t.Context(), inst)
		require.ErrorIs(t, err, stop.ErrUnsafePID)
		assert.ErrorContains(t, err, "remove that file")
		assert.Equal(t, stop.NotStopped, res.Outcome)
	}
	assert.Equal(t, before, dirNames(t, inst.Dir))
}

// TestSimulatedVZ: with vz, the host agent is the driver and writes vz.pid
// too: every policy stops the one process.
func TestSimulatedVZ(t *testing.T) {
	for _, s := range []stop.Stopper{stop.Graceful{Timeout: 20 * time.Second}, stop.Forcible{Timeout: 10 * time.Second}, bounded(stop.Orphan{})} {
		sim, inst := simulate(t, siminst.Options{VMType: "vz"})
		ha := pin(t, sim.HostAgentPID())
		res, err := s.Stop(t.Context(), inst)
		require.NoError(t, err, "%T", s)
		assert.NotEqual(t, stop.NotStopped, res.Outcome)
		requireExited(t, ha)
		assert.Equal(t, []string{"lima.yaml"}, limaFiles(t, inst.Dir))
	}
}

// limaFiles returns the names in dir that a stop may remove or that Lima
// created, leaving out the simulation's logs.
func limaFiles(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	for _, n := range dirNames(t, dir) {
		if filepath.Ext(n) != ".log" {
			names = append(names, n)
		}
	}
	return names
}

// disksIfSupported returns a disk to lock where symlinks work.
func disksIfSupported() []string {
	dir, err := os.MkdirTemp("", "symlink")
	if err != nil {
		return nil
	}
	defer func() { _ = os.Remove(filepath.Join(dir, "l")); _ = os.Remove(dir) }()
	if os.Symlink(dir, filepath.Join(dir, "l")) != nil {
		return nil
	}
	if _, err := os.Readlink(filepath.Join(dir, "l")); err != nil {
		return nil
	}
	return []string{"data"}
}

// bounded gives o's phases short bounds, so that a regression fails a test
// in seconds rather than hanging it for the defaults' minutes.
func bounded(o stop.Orphan) stop.Orphan {
	o.Graceful.Timeout, o.Forcible.Timeout = 5*time.Second, 10*time.Second
	return o
}
