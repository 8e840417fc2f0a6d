// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/testutil"
	"github.com/limastop/stop/process"
	"github.com/limastop/stop/process/processtest"
)

// PIDs of the fake processes: large, so that they are never the test's own
// or its parent's, which process.CheckPID refuses.
const (
	haPID     = 4000002
	driverPID = 4000003
)

// killDriverAction is the Action of the step that kills the fixture's
// driver.
var killDriverAction = "kill driver (pid " + strconv.Itoa(driverPID) + ")"

// fixture is an instance directory with real pid files, sockets and a
// locked disk, whose processes are fakes.
type fixture struct {
	table     processtest.Table
	ha, drv   *processtest.Process
	inst      *stop.Instance
	diskLock  string
	disks     bool // whether diskLock could be created
	haPIDFile string
	cleanedUp chan struct{} // closed at the test's cleanup
}

// newFixture starts a fake host agent and driver.
func newFixture(t *testing.T, ha, drv processtest.Behavior) *fixture {
	t.Helper()
	home := testutil.TempDir(t, dirPattern)
	dir := filepath.Join(home, "default")
	require.NoError(t, os.Mkdir(dir, 0o755))
	f := &fixture{
		inst:      &stop.Instance{Name: "default", Dir: dir, VMType: "qemu", AdditionalDisks: []string{"data"}},
		diskLock:  filepath.Join(home, "_disks", "data", "in_use_by"),
		haPIDFile: filepath.Join(dir, "ha.pid"),
		cleanedUp: make(chan struct{}),
	}
	t.Cleanup(func() { close(f.cleanedUp) })
	f.drv = f.table.Add(driverPID, withArgs(drv, "qemu-system-x86_64", "-name", "lima-default", "-pidfile", filepath.Join(dir, "qemu.pid")))
	f.ha = f.table.Add(haPID, withArgs(ha, "limactl", "hostagent", "--pidfile", filepath.Join(dir, "ha.pid"), "--socket", filepath.Join(dir, "ha.sock"), "default"))
	writeFile(t, filepath.Join(dir, "qemu.pid"), strconv.Itoa(driverPID)+"\n")
	writeFile(t, f.haPIDFile, strconv.Itoa(haPID)+"\n")
	writeFile(t, filepath.Join(dir, "ha.sock"), "")
	writeFile(t, filepath.Join(dir, "lima.yaml"), "vmType: qemu\n")
	require.NoError(t, os.MkdirAll(filepath.Dir(f.diskLock), 0o755))
	f.disks = lockDisk(t, f.diskLock, dir)
	return f
}

// withArgs gives b the command line args unless it has one (or an error
// for it) already.
func withArgs(b processtest.Behavior, args ...string) processtest.Behavior {
	if b.CommandLine == nil && b.CommandLineErr == nil {
		b.CommandLine = args
	}
	return b
}

// stranger is the command line of a process that is not the instance's.
var stranger = []string{"/usr/bin/vim", "notes.txt"}

// dirPattern names the instance's LIMA_HOME with glob metacharacters, which
// Windows allows only some of.
var dirPattern = map[bool]string{true: "home[1]*", false: "home[1]*?"}[runtime.GOOS == "windows"]

// haEndsDriver makes the fake host agent end its driver when it exits, as
// Lima's does when it shuts down.
func (f *fixture) haEndsDriver() *fixture {
	go func() {
		select {
		case <-f.ha.Done():
			f.drv.Exit()
		case <-f.cleanedUp:
		}
	}()
	return f
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

// lockDisk locks a disk the way Lima does, with a symlink, and reports
// whether it could: symlinks do not work everywhere (Windows without the
// privilege, Wine).
func lockDisk(t *testing.T, link, holder string) bool {
	t.Helper()
	err := os.Symlink(holder, link)
	if err == nil {
		_, err = os.Readlink(link)
	}
	if err != nil {
		t.Logf("symlinks unavailable, disk locks not checked: %v", err)
		_ = os.Remove(link)
		return false
	}
	return true
}

func (f *fixture) files(t *testing.T) []string {
	t.Helper()
	return dirNames(t, f.inst.Dir)
}

// assertDiskLocked checks the disk lock, where there is one.
func (f *fixture) assertDiskLocked(t *testing.T, want bool) {
	t.Helper()
	if f.disks {
		_, err := os.Lstat(f.diskLock)
		assert.Equal(t, want, err == nil, "disk locked")
	}
}

// signalled returns the operations the stop applied to pid.
func (f *fixture) signalled(pid int) []string {
	var ops []string
	for _, c := range f.table.Calls() {
		if c.PID == pid && (c.Op == "interrupt" || c.Op == "kill") {
			ops = append(ops, c.Op)
		}
	}
	return ops
}

func TestGraceful(t *testing.T) {
	f := newFixture(t, processtest.Behavior{InterruptDelay: 10 * time.Millisecond}, processtest.Behavior{}).haEndsDriver()
	res, err := stop.Graceful{Processes: &f.table, Timeout: 10 * time.Second}.Stop(context.Background(), f.inst)
	require.NoError(t, err)
	assert.Equal(t, stop.StoppedGracefully, res.Outcome)
	assert.Equal(t, []string{"interrupt"}, f.signalled(haPID))
	assert.Empty(t, f.signalled(driverPID))
	assert.True(t, f.ha.Exited())
	assert.True(t, f.drv.Exited())
	t.Log("\n" + res.String())
}

func TestGracefulTimeout(t *testing.T) {
	f := newFixture(t, processtest.Behavior{IgnoreInterrupt: true}, processtest.Behavior{})
	res, err := stop.Graceful{Processes: &f.table, Timeout: 20 * time.Millisecond}.Stop(context.Background(), f.inst)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "waiting for the host agent")
	assert.Equal(t, stop.NotStopped, res.Outcome)
	assert.Equal(t, []string{"interrupt"}, f.signalled(haPID), "graceful must not escalate")
	assert.False(t, f.ha.Exited())
}

func TestGracefulCancelled(t *testing.T) {
	f := newFixture(t, processtest.Behavior{IgnoreInterrupt: true}, processtest.Behavior{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err := stop.Graceful{Processes: &f.table, Timeout: 10 * time.Second}.Stop(ctx, f.inst)
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, f.files(t), "ha.pid")
}

func TestGracefulInterruptUnavailable(t *testing.T) {
	f := newFixture(t, processtest.Behavior{InterruptErr: process.ErrInterruptUnavailable}, processtest.Behavior{})
	res, err := stop.Graceful{Processes: &f.table, Timeout: 10 * time.Second}.Stop(context.Background(), f.inst)
	require.ErrorIs(t, err, process.ErrInterruptUnavailable)
	assert.Equal(t, stop.NotStopped, res.Outcome)
}

func TestForcible(t *testing.T) {
	f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
	res, err := stop.Forcible{Processes: &f.table, Timeout: 10 * time.Second}.Stop(context.Background(), f.inst)
	require.NoError(t, err)
	assert.Equal(t, stop.StoppedForcibly, res.Outcome)
	assert.Equal(t, []string{"kill"}, f.signalled(driverPID))
	assert.Equal(t, []string{"kill"}, f.signalled(haPID))
	assert.Equal(t, []string{"lima.yaml"}, f.files(t))
	f.assertDiskLocked(t, false)

	// Idempotent.
	res, err = stop.Forcible{Processes: &f.table, Timeout: 10 * time.Second}.Stop(context.Background(), f.inst)
	require.NoError(t, err)
	assert.Equal(t, stop.AlreadyStopped, res.Outcome)
}

func TestForcibleSurvivorKeepsFiles(t *testing.T) {
	f := newFixture(t, processtest.Behavior{}, processtest.Behavior{RefuseKill: true})
	res, err := stop.Forcible{Processes: &f.table, Timeout: 10 * time.Second}.Stop(context.Background(), f.inst)
	require.Error(t, err)
	assert.ErrorIs(t, err, processtest.ErrKillRefused)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "driver (pid 4000003) survived")
	assert.Equal(t, stop.NotStopped, res.Outcome)
	assert.ElementsMatch(t, []string{"lima.yaml", "ha.pid", "qemu.pid", "ha.sock"}, f.files(t))
	f.assertDiskLocked(t, true)
}

func TestRecycledPIDNeverSignalled(t *testing.T) {
	f := newFixture(t, processtest.Behavior{StartTime: time.Now().Add(time.Hour), CommandLine: stranger}, processtest.Behavior{})
	for _, s := range []stop.Stopper{stop.Graceful{Processes: &f.table, Timeout: 10 * time.Second}, stop.Forcible{Processes: &f.table, Timeout: 10 * time.Second}} {
		res, _ := s.Stop(context.Background(), f.inst)
		assert.Empty(t, f.signalled(haPID))
		require.NotEmpty(t, res.Steps)
		assert.ErrorIs(t, res.Steps[1].Err, stop.ErrNotOurProcess)
	}
}

// TestGarbagePIDFile: a pid file that is no usable claim does not block a
// stop when the process whose command line names it runs: that process is
// found by a scan of the process table and stopped.
func TestGarbagePIDFile(t *testing.T) {
	for _, content := range []string{"", "garbage\n", "4294967295\n", "-1\n", "+4000002\n", "1\n"} {
		t.Run(strconv.Quote(content), func(t *testing.T) {
			for _, s := range policies() {
				t.Run(s.name, func(t *testing.T) {
					f := newFixture(t, processtest.Behavior{}, processtest.Behavior{}).haEndsDriver()
					writeFile(t, f.haPIDFile, content)
					res, err := s.new(&f.table).Stop(context.Background(), f.inst)
					require.NoError(t, err)
					assert.Contains(t, []stop.Outcome{stop.StoppedGracefully, stop.StoppedForcibly}, res.Outcome)
					assert.True(t, f.ha.Exited())
					assert.True(t, f.drv.Exited())
				})
			}
		})
	}
}

// TestGarbagePIDFileNothingFound: if no process names the unusable pid
// file, every policy fails with ErrBadPIDFile (or ErrUnsafePID) naming the
// file to remove, and keeps it; Forcible still kills the driver it
// identified, but unlocks and removes nothing.
func TestGarbagePIDFileNothingFound(t *testing.T) {
	for _, tc := range []struct {
		content string
		want    error
	}{
		{"", stop.ErrBadPIDFile}, {"garbage\n", stop.ErrBadPIDFile}, {"4294967295\n", stop.ErrUnsafePID}, {"1\n", stop.ErrUnsafePID},
	} {
		t.Run(strconv.Quote(tc.content), func(t *testing.T) {
			for _, s := range policies() {
				t.Run(s.name, func(t *testing.T) {
					f := newFixture(t, processtest.Behavior{CommandLine: stranger}, processtest.Behavior{})
					writeFile(t, f.haPIDFile, tc.content)
					res, err := s.new(&f.table).Stop(context.Background(), f.inst)
					require.ErrorIs(t, err, tc.want)
					assert.ErrorContains(t, err, "remove that file")
					assert.ErrorContains(t, err, f.haPIDFile)
					assert.Equal(t, stop.NotStopped, res.Outcome)
					assert.Empty(t, f.signalled(haPID))
					if s.name == "graceful" {
						assert.Empty(t, f.signalled(driverPID))
					} else {
						assert.Equal(t, []string{"kill"}, f.signalled(driverPID), "the identified driver is killed")
					}
					assert.ElementsMatch(t, []string{"lima.yaml", "ha.pid", "qemu.pid", "ha.sock"}, f.files(t))
					f.assertDiskLocked(t, true)
				})
			}
		})
	}
}

type policy struct {
	name string
	new  func(process.Table) stop.Stopper
}

// policies returns the three policies with short timeouts, each using the
// given table.
func policies() []policy {
	return []policy{
		{"graceful", func(t process.Table) stop.Stopper {
			return stop.Graceful{Processes: t, Timeout: time.Second}
		}},
		{"forcible", func(t process.Table) stop.Stopper {
			return stop.Forcible{Processes: t, Timeout: time.Second}
		}},
		{"orphan", func(t process.Table) stop.Stopper {
			return stop.Orphan{Graceful: stop.Graceful{Processes: t, Timeout: 100 * time.Millisecond}, Forcible: stop.Forcible{Timeout: time.Second}}
		}},
	}
}

func TestDiskHeldElsewhereStaysLocked(t *testing.T) {
	f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
	if !f.disks {
		t.Skip("symlinks unavailable")
	}
	require.NoError(t, os.Remove(f.diskLock))
	other := filepath.Join(filepath.Dir(f.inst.Dir), "other")
	require.True(t, lockDisk(t, f.diskLock, other))
	res, err := stop.Forcible{Processes: &f.table, Timeout: 10 * time.Second}.Stop(context.Background(), f.inst)
	require.NoError(t, err)
	assert.Equal(t, stop.StoppedForcibly, res.Outcome)
	target, err := os.Readlink(f.diskLock)
	require.NoError(t, err)
	assert.Equal(t, other, target)
}

func TestOrphan(t *testing.T) {
	for _, tc := range []struct {
		name           string
		ha             processtest.Behavior
		wantOutcome    stop.Outcome
		wantEscalation error
	}{
		{name: "exits on interrupt", ha: processtest.Behavior{InterruptDelay: 10 * time.Millisecond}, wantOutcome: stop.StoppedGracefully},
		{name: "ignores interrupt", ha: processtest.Behavior{IgnoreInterrupt: true},
			wantOutcome: stop.StoppedForcibly, wantEscalation: context.DeadlineExceeded},
		{name: "no console", ha: processtest.Behavior{InterruptErr: process.ErrInterruptUnavailable},
			wantOutcome: stop.StoppedForcibly, wantEscalation: process.ErrInterruptUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.ha, processtest.Behavior{}).haEndsDriver()
			o := stop.Orphan{
				Graceful: stop.Graceful{Processes: &f.table, Timeout: 50 * time.Millisecond},
				Forcible: stop.Forcible{Processes: &f.table, Timeout: 10 * time.Second},
			}
			res, err := o.Stop(context.Background(), f.inst)
			require.NoError(t, err)
			assert.Equal(t, tc.wantOutcome, res.Outcome)
			if tc.wantEscalation == nil {
				assert.NoError(t, res.Escalation)
				assert.Contains(t, f.files(t), "ha.pid", "a graceful stop leaves clean-up to the host agent")
				return
			}
			assert.ErrorIs(t, res.Escalation, tc.wantEscalation)
			assert.Equal(t, []string{"lima.yaml"}, f.files(t))
		})
	}
}

func TestConcurrentStops(t *testing.T) {
	f := newFixture(t, processtest.Behavior{InterruptDelay: 5 * time.Millisecond}, processtest.Behavior{}).haEndsDriver()
	stoppers := []stop.Stopper{
		stop.Graceful{Processes: &f.table, Timeout: 10 * time.Second}, stop.Forcible{Processes: &f.table, Timeout: 10 * time.Second}, stop.Orphan{
			Graceful: stop.Graceful{Processes: &f.table, Timeout: 10 * time.Second}, Forcible: stop.Forcible{Processes: &f.table, Timeout: 10 * time.Second},
		},
	}
	var wg sync.WaitGroup
	outcomes := make([]stop.Outcome, 3*len(stoppers))
	for i := range outcomes {
		wg.Go(func() {
			res, err := stoppers[i%len(stoppers)].Stop(context.Background(), f.inst)
			assert.NoError(t, err)
			outcomes[i] = res.Outcome
		})
	}
	wg.Wait()
	stopped := 0
	for _, o := range outcomes {
		if o != stop.AlreadyStopped {
			stopped++
		}
	}
	assert.Equal(t, 1, stopped, "outcomes: %v", outcomes)
}

func TestInvalidInstance(t *testing.T) {
	for _, inst := range []*stop.Instance{nil, {Name: "x"}, {Name: "x", Dir: "d"}, {Name: "x", Dir: "d", VMType: "../qemu"}} {
		res, err := stop.Forcible{Timeout: 10 * time.Second}.Stop(context.Background(), inst)
		assert.Error(t, err)
		assert.Equal(t, stop.NotStopped, res.Outcome)
	}
}

type failingDisks struct{}

func (failingDisks) Unlock(context.Context, *stop.Instance, string) error {
	return os.ErrPermission
}

// TestForcibleCleanUpFails: once every process is dead, the instance is
// stopped even if its clean-up fails, and the error says so.
func TestForcibleCleanUpFails(t *testing.T) {
	f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
	res, err := stop.Forcible{Processes: &f.table, Disks: failingDisks{}}.Stop(context.Background(), f.inst)
	require.ErrorIs(t, err, os.ErrPermission)
	assert.ErrorContains(t, err, "the instance is stopped, but its clean-up failed")
	assert.Equal(t, stop.StoppedForcibly, res.Outcome)
	assert.Equal(t, []string{"lima.yaml"}, f.files(t), "the other clean-up steps ran")
}

// TestStepLogs: with a Logger, each step is a record, Info when it is done
// (marked gone for a process that had already exited) and Warn when it
// failed, after a Debug record of its start; a Logger that keeps only
// warnings gets only the failures.
func TestStepLogs(t *testing.T) {
	run := func(level slog.Level) (*stop.Result, []map[string]any) {
		f := newFixture(t, processtest.Behavior{}, processtest.Behavior{RefuseKill: true})
		var buf bytes.Buffer
		log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level}))
		res, err := stop.Forcible{Processes: &f.table, Logger: log, Timeout: 100 * time.Millisecond}.Stop(context.Background(), f.inst)
		require.ErrorIs(t, err, processtest.ErrKillRefused)
		return res, jsonRecords(t, &buf)
	}

	res, recs := run(slog.LevelDebug)
	var started, done, failed []string
	for _, rec := range recs {
		switch rec["msg"] {
		case "step started":
			assert.Equal(t, "DEBUG", rec["level"])
			started = append(started, rec["action"].(string))
		case "step done":
			assert.Equal(t, "INFO", rec["level"])
			done = append(done, rec["action"].(string))
		case "step failed":
			assert.Equal(t, "WARN", rec["level"])
			assert.NotEmpty(t, rec["error"])
			failed = append(failed, rec["action"].(string))
			if rec["action"] == killDriverAction {
				assert.Contains(t, rec["error"], "refused")
			}
		}
		assert.Equal(t, "default", rec["instance"], "%v", rec)
	}
	var wantDone, wantFailed []string
	for _, s := range res.Steps {
		if s.Err != nil && !errors.Is(s.Err, process.ErrNotFound) {
			wantFailed = append(wantFailed, s.Action)
		} else {
			wantDone = append(wantDone, s.Action)
		}
	}
	assert.Equal(t, wantDone, done)
	assert.Equal(t, wantFailed, failed)
	assert.Contains(t, failed, killDriverAction)
	assert.Contains(t, started, killDriverAction)

	_, recs = run(slog.LevelWarn)
	require.NotEmpty(t, recs)
	for _, rec := range recs {
		assert.Equal(t, "WARN", rec["level"], "%v", rec)
	}
}

// TestStepLogsGone: a process that exits between being found and being
// killed makes its kill step an INFO record marked gone, no warning: a
// stop wants it gone.
func TestStepLogsGone(t *testing.T) {
	f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	res, err := stop.Forcible{Processes: &f.table, Logger: log, Verify: f.driverExitsBeforeKill()}.Stop(context.Background(), f.inst)
	require.NoError(t, err)
	assert.Equal(t, stop.StoppedForcibly, res.Outcome)
	var kill map[string]any
	for _, rec := range jsonRecords(t, &buf) {
		if rec["action"] == killDriverAction {
			kill = rec
		}
	}
	require.NotNil(t, kill, "no record of the driver's kill in\n%s", buf.String())
	assert.Equal(t, "step done", kill["msg"])
	assert.Equal(t, "INFO", kill["level"])
	assert.Equal(t, true, kill["gone"])
	assert.NotContains(t, kill, "error")
}

// driverExitsBeforeKill returns a Verifier that makes f's driver exit once
// the driver has been found and before anything is killed: it runs as the
// host agent is identified.
func (f *fixture) driverExitsBeforeKill() stop.Verifier {
	return func(_ *stop.Instance, role stop.Role, _ process.Process) stop.Identity {
		if role == stop.RoleHostAgent {
			f.drv.Exit()
		}
		return stop.IdentityUnknown
	}
}

// jsonRecords decodes the records that a JSON slog handler wrote to buf.
func jsonRecords(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var rec map[string]any
		require.NoError(t, json.Unmarshal(line, &rec), "%s", line)
		recs = append(recs, rec)
	}
	return recs
}

// TestReapOnlyKilled: the memory of a process is reaped only when its own
// kill reached it, not when the kill failed or found it gone already.
func TestReapOnlyKilled(t *testing.T) {
	tests := []struct {
		name string
		drv  processtest.Behavior
		gone bool // the driver exits between being found and being killed
	}{
		{name: "kill refused", drv: processtest.Behavior{RefuseKill: true}},
		{name: "gone before the kill", gone: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, processtest.Behavior{}, tt.drv)
			table := &reapingTable{Table: &f.table}
			var verify stop.Verifier
			if tt.gone {
				verify = f.driverExitsBeforeKill()
			}
			res, _ := stop.Forcible{Processes: table, Verify: verify, Timeout: 100 * time.Millisecond}.Stop(context.Background(), f.inst)
			assert.Equal(t, []int{haPID}, table.reapedPIDs(), "%s", res)
		})
	}
}

// reapingTable is a processtest.Table whose processes are MemoryReapers
// that record each reap.
type reapingTable struct {
	*processtest.Table
	mu     sync.Mutex
	reaped []int
}

func (t *reapingTable) Find(pid int) (process.Process, error) {
	p, err := t.Table.Find(pid)
	if err != nil {
		return nil, err
	}
	return reapingProcess{p.(*processtest.Process), t}, nil
}

func (t *reapingTable) reapedPIDs() []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.reaped)
}

type reapingProcess struct {
	*processtest.Process
	t *reapingTable
}

func (p reapingProcess) ReapMemory() error {
	p.t.mu.Lock()
	defer p.t.mu.Unlock()
	p.t.reaped = append(p.t.reaped, p.PID())
	return nil
}
