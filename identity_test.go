// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop"
	"github.com/limastop/stop/process"
	"github.com/limastop/stop/process/processtest"
)

// touch sets the modification time of the instance's pid files to an hour
// before its processes started, as a restored LIMA_HOME, touch -d, a skewed
// NFS server or a clock step would.
func (f *fixture) touchPIDFiles(t *testing.T) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	for _, name := range []string{"ha.pid", "qemu.pid"} {
		require.NoError(t, os.Chtimes(filepath.Join(f.inst.Dir, name), old, old))
	}
}

// TestTouchedPIDFilesLiveInstance: processes that started after their pid
// files' modification time but whose command lines name those files are
// the instance's: Forcible kills both and cleans up, Graceful stops it.
func TestTouchedPIDFilesLiveInstance(t *testing.T) {
	t.Run("forcible", func(t *testing.T) {
		f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
		f.touchPIDFiles(t)
		res, err := stop.Forcible{Processes: &f.table, Timeout: time.Second}.Stop(context.Background(), f.inst)
		require.NoError(t, err)
		assert.Equal(t, stop.StoppedForcibly, res.Outcome)
		assert.Equal(t, []string{"kill"}, f.signalled(driverPID))
		assert.Equal(t, []string{"kill"}, f.signalled(haPID))
		assert.Equal(t, []string{"lima.yaml"}, f.files(t))
		f.assertDiskLocked(t, false)
	})
	t.Run("graceful", func(t *testing.T) {
		f := newFixture(t, processtest.Behavior{}, processtest.Behavior{}).haEndsDriver()
		f.touchPIDFiles(t)
		res, err := stop.Graceful{Processes: &f.table, Timeout: time.Second}.Stop(context.Background(), f.inst)
		require.NoError(t, err)
		assert.Equal(t, stop.StoppedGracefully, res.Outcome)
		assert.Equal(t, []string{"interrupt"}, f.signalled(haPID))
	})
}

// TestIdentityUnknown: a live process the facts neither prove ours nor a
// stranger is never signalled, nothing of the instance is removed or
// unlocked, and every policy fails with ErrIdentityUnknown saying what to
// check.
func TestIdentityUnknown(t *testing.T) {
	errArgs := errors.New("permission denied")
	for _, tc := range []struct {
		name string
		ha   processtest.Behavior
		want string
	}{
		// Started before its pid file was written, so the start time
		// does not rule it out, yet it names no pid file.
		{"stranger older than its pid file", processtest.Behavior{CommandLine: stranger}, "started before its pid file was written"},
		{"command line unreadable", processtest.Behavior{CommandLineErr: errArgs}, "cannot be read"},
		{"command line unreadable, started after the pid file",
			processtest.Behavior{CommandLineErr: errArgs, StartTime: time.Now().Add(time.Hour)}, "cannot be read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range policies() {
				t.Run(s.name, func(t *testing.T) {
					f := newFixture(t, tc.ha, processtest.Behavior{})
					res, err := s.new(&f.table).Stop(context.Background(), f.inst)
					require.ErrorIs(t, err, stop.ErrIdentityUnknown)
					assert.ErrorContains(t, err, tc.want)
					assert.ErrorContains(t, err, "pid "+strconv.Itoa(haPID))
					assert.ErrorContains(t, err, "nothing was signalled or removed")
					assert.Equal(t, stop.NotStopped, res.Outcome)
					assert.Empty(t, f.signalled(haPID))
					assert.Empty(t, f.signalled(driverPID))
					assert.ElementsMatch(t, []string{"lima.yaml", "ha.pid", "qemu.pid", "ha.sock"}, f.files(t))
					f.assertDiskLocked(t, true)
				})
			}
		})
	}
}

// TestStrangerIsNotOurs: a process whose command line names no pid file of
// the instance and that started after its pid file was written holds a
// recycled PID: never signalled, its pid file is stale.
func TestStrangerIsNotOurs(t *testing.T) {
	f := newFixture(t, processtest.Behavior{CommandLine: stranger, StartTime: time.Now().Add(time.Hour)},
		processtest.Behavior{CommandLine: stranger, StartTime: time.Now().Add(time.Hour)})
	res, err := stop.Forcible{Processes: &f.table, Timeout: time.Second}.Stop(context.Background(), f.inst)
	require.NoError(t, err)
	assert.Equal(t, stop.AlreadyStopped, res.Outcome)
	assert.Empty(t, f.signalled(haPID))
	assert.Empty(t, f.signalled(driverPID))
	assert.False(t, f.ha.Exited())
	assert.Equal(t, []string{"lima.yaml"}, f.files(t), "stale pid files are removed")
}

// TestRecordedStartTime: a start time the caller recorded at launch is
// evidence for the process when it matches and against it when it does not.
func TestRecordedStartTime(t *testing.T) {
	started := time.Now().Add(-time.Minute)
	for _, tc := range []struct {
		name     string
		ha       processtest.Behavior
		recorded time.Time
		want     error
		signals  []string
	}{
		{"matches, custom launcher", processtest.Behavior{StartTime: started, CommandLine: stranger}, started, nil, []string{"kill"}},
		{"matches, Lima launcher", processtest.Behavior{StartTime: started}, started, nil, []string{"kill"}},
		// The recorded start is evidence against, the command line
		// for: the facts disagree.
		{"differs, Lima launcher", processtest.Behavior{StartTime: started}, started.Add(time.Second), stop.ErrIdentityUnknown, nil},
		{"later than the real start", processtest.Behavior{StartTime: started, CommandLine: stranger}, started.Add(time.Second), nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.ha, processtest.Behavior{})
			f.inst.HostAgentPID, f.inst.HostAgentStart = haPID, tc.recorded
			_, err := stop.Forcible{Processes: &f.table, Timeout: time.Second}.Stop(context.Background(), f.inst)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.signals, f.signalled(haPID))
		})
	}
}

// TestCallerPIDWithoutPIDFile: a PID the caller knows whose pid file is
// gone is the instance's only if the facts say so.
func TestCallerPIDWithoutPIDFile(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ha       processtest.Behavior
		recorded bool
		signals  []string
	}{
		// A host agent that removed its pid file on its way out but has
		// not exited yet.
		{"names its pid file", processtest.Behavior{}, false, []string{"kill"}},
		{"a stranger", processtest.Behavior{CommandLine: stranger}, false, nil},
		{"a stranger with the recorded start", processtest.Behavior{CommandLine: stranger}, true, []string{"kill"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.ha, processtest.Behavior{})
			require.NoError(t, os.Remove(f.haPIDFile))
			f.inst.HostAgentPID = haPID
			if tc.recorded {
				f.inst.HostAgentStart = f.ha.StartTime()
			}
			_, err := stop.Forcible{Processes: &f.table, Timeout: time.Second}.Stop(context.Background(), f.inst)
			require.NoError(t, err)
			assert.Equal(t, tc.signals, f.signalled(haPID))
		})
	}
}

// TestVerifier: a caller that launches its host agents without Lima's
// command line vouches for them; a verifier that disowns a process whose
// command line names the pid file makes the facts disagree.
func TestVerifier(t *testing.T) {
	vouch := func(id stop.Identity) stop.Verifier {
		return func(_ *stop.Instance, role stop.Role, p process.Process) stop.Identity {
			if role == stop.RoleHostAgent && p.PID() == haPID {
				return id
			}
			return stop.IdentityUnknown
		}
	}
	t.Run("vouches for a custom launcher", func(t *testing.T) {
		f := newFixture(t, processtest.Behavior{CommandLine: stranger}, processtest.Behavior{})
		res, err := stop.Forcible{Processes: &f.table, Verify: vouch(stop.Ours), Timeout: time.Second}.Stop(context.Background(), f.inst)
		require.NoError(t, err)
		assert.Equal(t, stop.StoppedForcibly, res.Outcome)
		assert.Equal(t, []string{"kill"}, f.signalled(haPID))
	})
	t.Run("disowns", func(t *testing.T) {
		f := newFixture(t, processtest.Behavior{CommandLine: stranger}, processtest.Behavior{})
		_, err := stop.Forcible{Processes: &f.table, Verify: vouch(stop.NotOurs), Timeout: time.Second}.Stop(context.Background(), f.inst)
		require.NoError(t, err)
		assert.Empty(t, f.signalled(haPID))
	})
	t.Run("disagrees with the command line", func(t *testing.T) {
		f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
		_, err := stop.Forcible{Processes: &f.table, Verify: vouch(stop.NotOurs), Timeout: time.Second}.Stop(context.Background(), f.inst)
		require.ErrorIs(t, err, stop.ErrIdentityUnknown)
		assert.ErrorContains(t, err, "the facts disagree")
		assert.Empty(t, f.signalled(haPID))
		assert.Empty(t, f.signalled(driverPID))
	})
	t.Run("orphan passes it to both phases", func(t *testing.T) {
		f := newFixture(t, processtest.Behavior{CommandLine: stranger, IgnoreInterrupt: true}, processtest.Behavior{})
		o := stop.Orphan{Graceful: stop.Graceful{Processes: &f.table, Verify: vouch(stop.Ours), Timeout: 20 * time.Millisecond}}
		res, err := o.Stop(context.Background(), f.inst)
		require.NoError(t, err)
		assert.Equal(t, stop.StoppedForcibly, res.Outcome)
		assert.Equal(t, []string{"interrupt", "kill"}, f.signalled(haPID))
	})
}

// TestVZOneProcessTwoTargets: with vz, vz.pid holds the host agent's own
// PID; that process is signalled once.
func TestVZOneProcessTwoTargets(t *testing.T) {
	for _, s := range policies() {
		t.Run(s.name, func(t *testing.T) {
			f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
			f.inst.VMType = "vz"
			require.NoError(t, os.Remove(filepath.Join(f.inst.Dir, "qemu.pid")))
			writeFile(t, filepath.Join(f.inst.Dir, "vz.pid"), strconv.Itoa(haPID)+"\n")
			res, err := s.new(&f.table).Stop(context.Background(), f.inst)
			require.NoError(t, err)
			assert.NotEqual(t, stop.NotStopped, res.Outcome)
			assert.Len(t, f.signalled(haPID), 1, "one signal: %v", f.signalled(haPID))
			assert.True(t, f.ha.Exited())
		})
	}
}

// TestDiscovery: a host agent whose pid file is missing while its driver
// runs is found by its command line; a stopped instance and a running
// instance with all its pid files never pay for the scan.
func TestDiscovery(t *testing.T) {
	listed := func(f *fixture) bool {
		for _, c := range f.table.Calls() {
			if c.Op == "list" {
				return true
			}
		}
		return false
	}
	t.Run("missing ha.pid, driver running", func(t *testing.T) {
		f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
		require.NoError(t, os.Remove(f.haPIDFile))
		res, err := stop.Forcible{Processes: &f.table, Timeout: time.Second}.Stop(context.Background(), f.inst)
		require.NoError(t, err)
		assert.Equal(t, stop.StoppedForcibly, res.Outcome)
		assert.Equal(t, []string{"kill"}, f.signalled(haPID))
		assert.True(t, listed(f))
	})
	t.Run("running instance", func(t *testing.T) {
		f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
		_, err := stop.Forcible{Processes: &f.table, Timeout: time.Second}.Stop(context.Background(), f.inst)
		require.NoError(t, err)
		assert.False(t, listed(f))
	})
	t.Run("stopped instance", func(t *testing.T) {
		f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
		for _, name := range []string{"ha.pid", "qemu.pid", "ha.sock"} {
			require.NoError(t, os.Remove(filepath.Join(f.inst.Dir, name)))
		}
		f.ha.Exit()
		f.drv.Exit()
		res, err := stop.Forcible{Processes: &f.table, Timeout: time.Second}.Stop(context.Background(), f.inst)
		require.NoError(t, err)
		assert.Equal(t, stop.AlreadyStopped, res.Outcome)
		assert.False(t, listed(f))
	})
}

// TestAncestorInPIDFile: a pid file naming the caller's parent is refused
// (ErrUnsafePID) by every policy; nothing is signalled or removed.
func TestAncestorInPIDFile(t *testing.T) {
	ppid := os.Getppid()
	if ppid <= 1 {
		t.Skip("the test process has no parent that may be signalled")
	}
	for _, s := range policies() {
		t.Run(s.name, func(t *testing.T) {
			f := newFixture(t, processtest.Behavior{CommandLine: stranger}, processtest.Behavior{})
			f.table.Add(ppid, processtest.Behavior{})
			writeFile(t, f.haPIDFile, strconv.Itoa(ppid)+"\n")
			res, err := s.new(&f.table).Stop(context.Background(), f.inst)
			require.ErrorIs(t, err, stop.ErrUnsafePID)
			assert.Equal(t, stop.NotStopped, res.Outcome)
			assert.Empty(t, f.signalled(ppid))
			assert.Empty(t, f.signalled(haPID))
			assert.ElementsMatch(t, []string{"lima.yaml", "ha.pid", "qemu.pid", "ha.sock"}, f.files(t))
			f.assertDiskLocked(t, true)
		})
	}
}
