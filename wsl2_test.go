// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/testutil"
	"github.com/limastop/stop/process/processtest"
	"github.com/limastop/stop/wsl"
	"github.com/limastop/stop/wsl/wsltest"
)

// newWSL2Instance writes the directory of a WSL2 instance whose fake host
// agent has the given PID. Lima's WSL2 driver writes no pid file: the
// distro is the VM.
func newWSL2Instance(t *testing.T, table *processtest.Table, name string, pid int, ha processtest.Behavior) *stop.Instance {
	t.Helper()
	dir := filepath.Join(testutil.TempDir(t, dirPattern), name)
	require.NoError(t, os.Mkdir(dir, 0o755))
	table.Add(pid, withArgs(ha, "limactl", "hostagent", "--pidfile", filepath.Join(dir, "ha.pid"), name))
	writeFile(t, filepath.Join(dir, "ha.pid"), strconv.Itoa(pid)+"\n")
	writeFile(t, filepath.Join(dir, "ha.sock"), "")
	writeFile(t, filepath.Join(dir, "lima.yaml"), "vmType: wsl2\n")
	return &stop.Instance{Name: name, Dir: dir, VMType: "wsl2"}
}

func listing(state wsl.State) wsltest.Response {
	return wsltest.Response{Raw: wsltest.UTF16(wsltest.ListOutput(
		wsl.Distro{Name: "Ubuntu", State: wsl.Stopped, Version: 2, Default: true},
		wsl.Distro{Name: "lima-default", State: state, Version: 2},
	))}
}

func actions(res *stop.Result) []string {
	var as []string
	for _, s := range res.Steps {
		as = append(as, strings.Fields(s.Action)[0])
	}
	return as
}

func TestForcibleWSL2(t *testing.T) {
	var table processtest.Table
	inst := newWSL2Instance(t, &table, "default", haPID, processtest.Behavior{})
	var ex wsltest.Fake
	ex.On("--terminate lima-default", wsltest.Response{})

	res, err := stop.Forcible{Processes: &table, WSL: &ex}.Stop(context.Background(), inst)
	require.NoError(t, err)
	assert.Equal(t, stop.StoppedForcibly, res.Outcome)
	// A WSL2 driver writes no pid file, so there is one process to find.
	assert.Equal(t, []string{"find", "find", "kill", "confirm", "check", "terminate", "remove"}, actions(res))
	assert.Equal(t, [][]string{{"--terminate", "lima-default"}}, ex.Calls())
	assert.Equal(t, []string{"lima.yaml"}, dirNames(t, inst.Dir))
}

// TestForcibleWSL2Hung checks that a wsl.exe that hangs is cut at the
// timeout and that the instance then keeps its files: the distro may run.
func TestForcibleWSL2Hung(t *testing.T) {
	var table processtest.Table
	inst := newWSL2Instance(t, &table, "default", haPID, processtest.Behavior{})
	var ex wsltest.Fake
	ex.On("--terminate lima-default", wsltest.Response{Hang: true})

	res, err := stop.Forcible{Processes: &table, WSL: &ex, Timeout: 50 * time.Millisecond}.Stop(context.Background(), inst)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, `terminating WSL2 distro "lima-default"`)
	assert.Equal(t, stop.NotStopped, res.Outcome)
	assert.ElementsMatch(t, []string{"ha.pid", "ha.sock", "lima.yaml"}, dirNames(t, inst.Dir))
}

func TestGracefulWSL2(t *testing.T) {
	for _, tc := range []struct {
		name    string
		states  []wsl.State
		wantErr error
	}{
		{name: "distro stops", states: []wsl.State{wsl.Running, wsl.Stopped}},
		{name: "distro is gone", states: []wsl.State{wsl.Running, wsl.NotFound}},
		{name: "distro never stops", states: []wsl.State{wsl.Running}, wantErr: context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var table processtest.Table
			inst := newWSL2Instance(t, &table, "default", haPID, processtest.Behavior{})
			var ex wsltest.Fake
			for _, s := range tc.states {
				if s == wsl.NotFound {
					ex.On("--list --verbose", wsltest.Response{Stdout: wsltest.ListOutput(wsl.Distro{Name: "Ubuntu", State: wsl.Stopped, Version: 2})})
					continue
				}
				ex.On("--list --verbose", listing(s))
			}

			res, err := stop.Graceful{Processes: &table, WSL: &ex, Timeout: 300 * time.Millisecond}.Stop(context.Background(), inst)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.ErrorContains(t, err, `WSL2 distro "lima-default"`)
				assert.Equal(t, stop.NotStopped, res.Outcome)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, stop.StoppedGracefully, res.Outcome)
			assert.Len(t, ex.Calls(), len(tc.states))
		})
	}
}

// TestGracefulWSL2DistroOutlivesHostAgent: with the host agent gone and the
// distro running, a graceful stop cannot help and says so.
func TestGracefulWSL2DistroOutlivesHostAgent(t *testing.T) {
	var table processtest.Table
	inst := newWSL2Instance(t, &table, "default", haPID, processtest.Behavior{})
	require.NoError(t, os.Remove(filepath.Join(inst.Dir, "ha.pid")))
	ha, err := table.Find(haPID)
	require.NoError(t, err)
	require.NoError(t, ha.Kill())
	var ex wsltest.Fake
	ex.On("--list --verbose", listing(wsl.Running))

	res, err := stop.Graceful{Processes: &table, WSL: &ex, Timeout: 10 * time.Second}.Stop(context.Background(), inst)
	require.ErrorContains(t, err, "only a forced stop can end it")
	assert.Equal(t, stop.NotStopped, res.Outcome)

	ex.On("--terminate lima-default", wsltest.Response{})
	res, err = stop.Orphan{Graceful: stop.Graceful{Processes: &table, WSL: &ex, Timeout: 10 * time.Second}}.Stop(context.Background(), inst)
	require.NoError(t, err)
	assert.Contains(t, actions(res), "terminate")
}

// TestShutdownAll stops a QEMU instance that shuts down and a WSL2 instance
// whose host agent ignores interrupts: the WSL2 stop times out, and its
// distro is terminated all the same.
func TestShutdownAll(t *testing.T) {
	var table processtest.Table
	qemu := newWSL2Instance(t, &table, "qemu", haPID, processtest.Behavior{InterruptDelay: 5 * time.Millisecond})
	qemu.VMType = "qemu"
	stuck := newWSL2Instance(t, &table, "stuck", haPID+2, processtest.Behavior{IgnoreInterrupt: true})
	var ex wsltest.Fake
	ex.On("--terminate lima-stuck", wsltest.Response{})

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	s := stop.Shutdown{Stopper: stop.Graceful{Processes: &table, WSL: &ex}, WSL: &ex}
	results, err := s.StopAll(ctx, []*stop.Instance{qemu, stuck})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, `instance "stuck"`)
	require.Len(t, results, 2)
	assert.Equal(t, stop.StoppedGracefully, results[0].Outcome)
	assert.Equal(t, stop.NotStopped, results[1].Outcome)
	last := results[1].Steps[len(results[1].Steps)-1]
	assert.Equal(t, "terminate WSL2 distro lima-stuck (last resort)", last.Action)
	assert.NoError(t, last.Err)
	assert.Equal(t, [][]string{{"--terminate", "lima-stuck"}}, ex.Calls())
}
