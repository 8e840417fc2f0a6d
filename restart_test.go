// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop"
	"github.com/limastop/stop/process/processtest"
	"github.com/limastop/stop/wsl"
)

// restartingWSL restarts the WSL2 instance while wsl.exe --terminate runs,
// as a limactl start that does not take the instance's lock could once the
// host agent is dead: a new host agent, a new ha.pid, the disk locked again.
type restartingWSL struct {
	t     *testing.T
	table *processtest.Table
	inst  *stop.Instance
	lock  string
}

func (r restartingWSL) Run(_ context.Context, args ...string) (string, error) {
	if len(args) > 0 && args[0] == "--terminate" {
		dir := r.inst.Dir
		r.table.Add(haPID+10, processtest.Behavior{CommandLine: []string{"limactl", "hostagent", "--pidfile", filepath.Join(dir, "ha.pid"), "default"}})
		writeFile(r.t, filepath.Join(dir, "ha.pid"), strconv.Itoa(haPID+10)+"\n")
		writeFile(r.t, filepath.Join(dir, "ha.sock"), "")
		_ = os.Remove(r.lock)
		require.True(r.t, lockDisk(r.t, r.lock, dir))
	}
	return "", nil
}

var _ wsl.Executor = restartingWSL{}

// TestRestartDuringTerminateKeepsDiskLock: a WSL2 instance restarted while
// a forced stop terminates its distro (which takes seconds) keeps its pid
// file, socket and disk lock: the stop fails with ErrInstanceRunning and
// touches nothing of the new run. TestSoak found this case.
func TestRestartDuringTerminateKeepsDiskLock(t *testing.T) {
	var table processtest.Table
	inst := newWSL2Instance(t, &table, "default", haPID, processtest.Behavior{})
	home := filepath.Dir(inst.Dir)
	lock := filepath.Join(home, "_disks", "data", "in_use_by")
	require.NoError(t, os.MkdirAll(filepath.Dir(lock), 0o755))
	if !lockDisk(t, lock, inst.Dir) {
		t.Skip("symlinks unavailable")
	}
	inst.AdditionalDisks = []string{"data"}

	res, err := stop.Forcible{Processes: &table, WSL: restartingWSL{t, &table, inst, lock}, Timeout: time.Second}.Stop(context.Background(), inst)
	require.ErrorIs(t, err, stop.ErrInstanceRunning)
	assert.Equal(t, stop.NotStopped, res.Outcome)
	holder, err := os.Readlink(lock)
	require.NoError(t, err, "the new run's disk lock is gone")
	assert.Equal(t, inst.Dir, holder)
	assert.ElementsMatch(t, []string{"lima.yaml", "ha.pid", "ha.sock"}, dirNames(t, inst.Dir))
	assert.Empty(t, func() []string {
		var ops []string
		for _, c := range table.Calls() {
			if c.PID == haPID+10 && (c.Op == "kill" || c.Op == "interrupt") {
				ops = append(ops, c.Op)
			}
		}
		return ops
	}())
}

// TestRestartDuringCheckKeepsSocket: an instance without disks restarted
// while a forced stop checks that its pid files are stale (after its
// processes crashed) keeps the new run's socket: the pid files changed, so
// nothing of the instance is removed. TestSoak found this case.
func TestRestartDuringCheckKeepsSocket(t *testing.T) {
	f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
	f.inst.AdditionalDisks = nil
	f.ha.Exit()
	f.drv.Exit()
	restarted, finds := false, 0
	table := hookTable{&f.table, func(pid int) {
		// Once the find has found nothing running, the check asks
		// again whether the crashed driver's PID runs, after it read
		// ha.pid: the instance restarts just then.
		if pid == driverPID {
			finds++
		}
		if finds != 2 || restarted {
			return
		}
		restarted = true
		f.table.Add(haPID+10, processtest.Behavior{CommandLine: f.ha.Behavior().CommandLine})
		f.table.Add(driverPID+10, processtest.Behavior{CommandLine: f.drv.Behavior().CommandLine})
		writeFile(t, f.haPIDFile, strconv.Itoa(haPID+10)+"\n")
		writeFile(t, filepath.Join(f.inst.Dir, "qemu.pid"), strconv.Itoa(driverPID+10)+"\n")
	}}
	res, err := stop.Forcible{Processes: table, Timeout: time.Second}.Stop(context.Background(), f.inst)
	require.True(t, restarted)
	require.ErrorIs(t, err, stop.ErrInstanceRunning)
	assert.Equal(t, stop.NotStopped, res.Outcome)
	assert.ElementsMatch(t, []string{"lima.yaml", "ha.pid", "qemu.pid", "ha.sock"}, f.files(t), "the new run's files")
}
