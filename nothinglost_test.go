// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/siminst"
	"github.com/limastop/stop/internal/testutil"
	"github.com/limastop/stop/process"
	"github.com/limastop/stop/process/processtest"
)

// The tests in this file check that a stop removes and unlocks only what
// is proven stale, and that stops of one instance never overlap.

// TestWrongVMTypeKeepsRunningInstance: told vz, a forced stop of a running
// qemu instance that spares descendants kills the host agent it identified,
// but QEMU's pid file names a process it did not end: nothing is unlocked
// or removed, and the instance does not look stopped. By default QEMU, the
// host agent's child, dies with it, and then all is stale.
func TestWrongVMTypeKeepsRunningInstance(t *testing.T) {
	sim, inst := simulate(t, siminst.Options{AdditionalDisks: disksIfSupported()})
	driver := pin(t, sim.DriverPID())
	inst.VMType, inst.AdditionalDisks = "vz", disksIfSupported()
	before := limaFiles(t, inst.Dir)

	res, err := stop.Forcible{KeepDescendants: true}.Stop(t.Context(), inst)
	require.ErrorIs(t, err, stop.ErrInstanceRunning)
	assert.ErrorContains(t, err, "qemu.pid")
	assert.Equal(t, stop.NotStopped, res.Outcome)
	requireRunning(t, driver)
	assert.Subset(t, limaFiles(t, inst.Dir), []string{"qemu.pid", "ha.pid"})
	assert.Len(t, limaFiles(t, inst.Dir), len(before))
	assertDisksLocked(t, sim, inst.AdditionalDisks)

	sim, inst = simulate(t, siminst.Options{})
	driver = pin(t, sim.DriverPID())
	inst.VMType = "vz"
	res, err = stop.Forcible{Timeout: 10 * time.Second}.Stop(t.Context(), inst)
	require.NoError(t, err)
	assert.Equal(t, stop.StoppedForcibly, res.Outcome)
	requireExited(t, driver)
	assert.Equal(t, []string{"lima.yaml"}, limaFiles(t, inst.Dir))
}

// assertDisksLocked checks that each disk's lock still names the instance.
func assertDisksLocked(t *testing.T, sim *siminst.Instance, disks []string) {
	t.Helper()
	for _, d := range disks {
		holder, err := os.Readlink(filepath.Join(sim.LimaHome(), "_disks", d, "in_use_by"))
		require.NoError(t, err, "disk %q unlocked", d)
		assert.Equal(t, sim.Dir(), holder)
	}
}

// TestNotAnInstanceDir: a directory without lima.yaml, or none at all, is
// refused by every policy before anything in it is touched.
func TestNotAnInstanceDir(t *testing.T) {
	dir := testutil.TempDir(t, dirPattern)
	bait := []string{"ha.pid", "qemu.pid", "keep.sock", "keep.tmp"}
	for _, name := range bait {
		writeFile(t, filepath.Join(dir, name), "99999\n")
	}
	for _, s := range policies() {
		var table processtest.Table
		res, err := s.new(&table).Stop(context.Background(), &stop.Instance{Name: "x", Dir: dir, VMType: "qemu"})
		require.ErrorIs(t, err, stop.ErrNotInstanceDir, s.name)
		assert.Equal(t, stop.NotStopped, res.Outcome)
		assert.Empty(t, table.Calls())

		_, err = s.new(&table).Stop(context.Background(), &stop.Instance{Name: "x", Dir: filepath.Join(dir, "missing"), VMType: "qemu"})
		require.ErrorIs(t, err, os.ErrNotExist, s.name)
	}
	assert.ElementsMatch(t, bait, dirNames(t, dir))
}

// restartingDisks restarts the instance while the forced stop unlocks its
// disks, between the confirmed deaths and the removal of the files: the new
// run's pid files name new processes.
type restartingDisks struct {
	f *fixture
}

func (d restartingDisks) Unlock(ctx context.Context, inst *stop.Instance, disk string) error {
	if err := (stop.LimaDisks{}).Unlock(ctx, inst, disk); err != nil {
		return err
	}
	f := d.f
	f.table.Add(haPID+10, processtest.Behavior{CommandLine: f.ha.Behavior().CommandLine})
	f.table.Add(driverPID+10, processtest.Behavior{CommandLine: f.drv.Behavior().CommandLine})
	if err := os.Remove(f.haPIDFile); err != nil {
		return err
	}
	for name, pid := range map[string]int{"ha.pid": haPID + 10, "qemu.pid": driverPID + 10} {
		if err := os.WriteFile(filepath.Join(inst.Dir, name), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// TestRestartDuringCleanUp: the new run's pid files and socket survive a
// clean-up that it slipped into.
func TestRestartDuringCleanUp(t *testing.T) {
	f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
	res, err := stop.Forcible{Processes: &f.table, Disks: restartingDisks{f}, Timeout: time.Second}.Stop(context.Background(), f.inst)
	require.ErrorIs(t, err, stop.ErrInstanceRunning)
	assert.Equal(t, stop.NotStopped, res.Outcome)
	assert.ElementsMatch(t, []string{"lima.yaml", "ha.pid", "qemu.pid", "ha.sock"}, f.files(t))
	for name, pid := range map[string]int{"ha.pid": haPID + 10, "qemu.pid": driverPID + 10} {
		b, err := os.ReadFile(filepath.Join(f.inst.Dir, name))
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(pid)+"\n", string(b))
	}
	assert.Empty(t, f.signalled(haPID+10))
	assert.Empty(t, f.signalled(driverPID+10))
}

// creatingDisks creates a file with a stale suffix while the forced stop
// unlocks the disks, after the pid files were checked.
type creatingDisks struct{ name string }

func (d creatingDisks) Unlock(ctx context.Context, inst *stop.Instance, disk string) error {
	if err := (stop.LimaDisks{}).Unlock(ctx, inst, disk); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(inst.Dir, d.name), nil, 0o644)
}

// TestFileAfterCheckKept: the clean-up removes what the check found; a
// socket that appeared since then, which nothing says is stale, stays.
func TestFileAfterCheckKept(t *testing.T) {
	f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
	res, err := stop.Forcible{Processes: &f.table, Disks: creatingDisks{"late.sock"}, Timeout: time.Second}.Stop(context.Background(), f.inst)
	require.NoError(t, err)
	assert.Equal(t, stop.StoppedForcibly, res.Outcome)
	assert.ElementsMatch(t, []string{"lima.yaml", "late.sock"}, f.files(t))
}

// TestPreCancelledStopsTouchNothing: 100 forced and orphan stops whose
// context has ended before they start signal nothing and remove nothing.
func TestPreCancelledStopsTouchNothing(t *testing.T) {
	f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 100 {
		s := policies()[1+i%2].new(&f.table)
		res, err := s.Stop(ctx, f.inst)
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, stop.NotStopped, res.Outcome)
	}
	assert.Empty(t, f.signalled(haPID))
	assert.Empty(t, f.signalled(driverPID))
	assert.ElementsMatch(t, []string{"lima.yaml", "ha.pid", "qemu.pid", "ha.sock"}, f.files(t))
	f.assertDiskLocked(t, true)
}

// TestOrphanKeepsPinnedHostAgent: a host agent that removes its pid file
// when interrupted but does not exit is still killed by the forced
// fallback, which acts on what the graceful stop pinned.
func TestOrphanKeepsPinnedHostAgent(t *testing.T) {
	var f *fixture
	f = newFixture(t, processtest.Behavior{IgnoreInterrupt: true, OnInterrupt: func() { _ = os.Remove(f.haPIDFile) }}, processtest.Behavior{})
	o := stop.Orphan{Graceful: stop.Graceful{Processes: &f.table, Timeout: 50 * time.Millisecond}}
	res, err := o.Stop(context.Background(), f.inst)
	require.NoError(t, err)
	assert.Equal(t, stop.StoppedForcibly, res.Outcome)
	assert.Equal(t, []string{"interrupt", "kill"}, f.signalled(haPID))
	assert.True(t, f.ha.Exited())
}

// TestTwoPathsOneInstance: the same instance reached through a symlink and
// through its own path is stopped once.
func TestTwoPathsOneInstance(t *testing.T) {
	for range 20 {
		f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
		link := f.inst.Dir + "-link"
		if err := os.Symlink(f.inst.Dir, link); err != nil {
			t.Skipf("symlinks unavailable: %v", err)
		}
		if _, err := os.Stat(link); err != nil {
			t.Skipf("symlinks unavailable: %v", err)
		}
		t.Cleanup(func() { _ = os.Remove(link) })
		viaLink := *f.inst
		viaLink.Dir = link
		outcomes := make([]stop.Outcome, 2)
		var wg sync.WaitGroup
		for i, inst := range []*stop.Instance{f.inst, &viaLink} {
			wg.Go(func() {
				res, err := stop.Forcible{Processes: &f.table, Timeout: time.Second}.Stop(context.Background(), inst)
				assert.NoError(t, err)
				outcomes[i] = res.Outcome
			})
		}
		wg.Wait()
		assert.ElementsMatch(t, []stop.Outcome{stop.StoppedForcibly, stop.AlreadyStopped}, outcomes)
		assert.Equal(t, []string{"kill"}, f.signalled(haPID))
	}
}

// TestTwoProcessesOneInstance: two OS processes stopping one simulated
// instance at once, 100 times: one reports the stop, the other finds it
// stopped.
func TestTwoProcessesOneInstance(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	n := 100
	if testing.Short() || raceEnabled {
		n = 10
	}
	for i := range n {
		sim, inst := simulate(t, siminst.Options{})
		policies := []string{"forcible", []string{"graceful", "forcible"}[i%2]}
		outs := make([]string, 2)
		var wg sync.WaitGroup
		for j, policy := range policies {
			wg.Go(func() {
				cmd := exec.Command(exe, inst.Name, inst.Dir)
				cmd.Env = append(os.Environ(), stopperEnv+"="+policy)
				out, err := cmd.Output()
				assert.NoError(t, err, "%s: %s", policy, out)
				outs[j] = strings.TrimSpace(string(out))
			})
		}
		wg.Wait()
		stopped := 0
		for _, o := range outs {
			if o != stop.AlreadyStopped.String() {
				stopped++
			}
		}
		require.Equal(t, 1, stopped, "round %d: %q", i, outs)
		require.NoError(t, sim.Close())
	}
}

// TestCancelledDuringFindSignalsNothing: a context that ends while the
// processes are being identified (here, from the caller's Verifier) ends
// the stop before its first signal, for every policy.
func TestCancelledDuringFindSignalsNothing(t *testing.T) {
	for _, s := range policies() {
		t.Run(s.name, func(t *testing.T) {
			f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cancelling := func(*stop.Instance, stop.Role, process.Process) stop.Identity {
				cancel()
				return stop.IdentityUnknown
			}
			var st stop.Stopper
			switch p := s.new(&f.table).(type) {
			case stop.Graceful:
				p.Verify = cancelling
				st = p
			case stop.Forcible:
				p.Verify = cancelling
				st = p
			case stop.Orphan:
				p.Graceful.Verify = cancelling
				st = p
			}
			res, err := st.Stop(ctx, f.inst)
			require.ErrorIs(t, err, context.Canceled)
			assert.Equal(t, stop.NotStopped, res.Outcome)
			assert.Empty(t, f.signalled(haPID))
			assert.Empty(t, f.signalled(driverPID))
			assert.ElementsMatch(t, []string{"lima.yaml", "ha.pid", "qemu.pid", "ha.sock"}, f.files(t))
		})
	}
}

// TestPreCancelledStopTakesNoLock: a stop whose context has already ended
// does not even look at the processes.
func TestPreCancelledStopTakesNoLock(t *testing.T) {
	f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, s := range policies() {
		_, err := s.new(&f.table).Stop(ctx, f.inst)
		require.ErrorIs(t, err, context.Canceled)
	}
	assert.Empty(t, f.table.Calls())
}
