// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/limastop/stop/internal/siminst"
	"github.com/limastop/stop/internal/testutil"
	"github.com/limastop/stop/process"
)

func TestMain(m *testing.M) {
	siminst.RunIfChild()
	goleak.VerifyTestMain(m)
}

// testLifetime keeps the simulated processes of a failing test from
// outliving the test binary by much.
const testLifetime = time.Minute

// start starts a simulated instance in a fresh Lima home unless opts names
// one, and closes it at cleanup.
func start(t *testing.T, opts siminst.Options) *siminst.Instance {
	t.Helper()
	if opts.LimaHome == "" {
		opts.LimaHome = testutil.TempDir(t, "siminst")
	}
	if opts.Lifetime == 0 {
		opts.Lifetime = testLifetime
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	inst, err := siminst.Start(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, inst.Close()) })
	return inst
}

// find pins pid and releases it at cleanup.
func find(t *testing.T, pid int) process.Process {
	t.Helper()
	p, err := process.System().Find(pid)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Release() })
	return p
}

// pinHelpers pins every helper of inst.
func pinHelpers(t *testing.T, inst *siminst.Instance) []process.Process {
	t.Helper()
	var helpers []process.Process
	for _, pid := range inst.HelperPIDs() {
		helpers = append(helpers, find(t, pid))
	}
	return helpers
}

// waitExit waits, bounded, for p to exit.
func waitExit(t *testing.T, p process.Process) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	require.NoError(t, p.Wait(ctx), "pid %d did not exit", p.PID())
}

// waitHostAgent waits, bounded, for the host agent to exit and returns how.
func waitHostAgent(t *testing.T, inst *siminst.Instance) siminst.Exit {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	exit, err := inst.WaitHostAgent(ctx)
	require.NoError(t, err, "host agent pid %d did not exit", inst.HostAgentPID())
	return exit
}

// requireAlive checks that p is still running after a while.
func requireAlive(t *testing.T, p process.Process, after time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), after)
	defer cancel()
	require.ErrorIs(t, p.Wait(ctx), context.DeadlineExceeded, "pid %d exited", p.PID())
}

// requireGone checks that nothing runs as pid any more.
func requireGone(t *testing.T, pid int) {
	t.Helper()
	p, err := process.System().Find(pid)
	if errors.Is(err, process.ErrNotFound) {
		return
	}
	require.NoError(t, err)
	defer p.Release()
	waitExit(t, p) // an exited process that its parent has not reaped yet
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(string(b), "\n"), "pid file %q holds %q", path, b)
	pid, err := strconv.Atoi(strings.TrimSuffix(string(b), "\n"))
	require.NoError(t, err)
	return pid
}

func requireNoFile(t *testing.T, path string) {
	t.Helper()
	_, err := os.Lstat(path)
	require.ErrorIs(t, err, fs.ErrNotExist, "%q still exists", path)
}

// hostAgentEvent is an event in ha.stdout.log.
type hostAgentEvent struct {
	Time   time.Time      `json:"time"`
	Status map[string]any `json:"status"`
}

// events returns the events in ha.stdout.log.
func events(t *testing.T, inst *siminst.Instance) []hostAgentEvent {
	t.Helper()
	f, err := os.Open(filepath.Join(inst.Dir(), "ha.stdout.log"))
	require.NoError(t, err)
	defer f.Close()
	var evs []hostAgentEvent
	s := bufio.NewScanner(f)
	for s.Scan() {
		var ev hostAgentEvent
		require.NoError(t, json.Unmarshal(s.Bytes(), &ev), "event %q", s.Text())
		require.False(t, ev.Time.IsZero(), "event %q has no time", s.Text())
		evs = append(evs, ev)
	}
	require.NoError(t, s.Err())
	return evs
}

// statuses returns the status objects of the events in ha.stdout.log.
func statuses(t *testing.T, inst *siminst.Instance) []map[string]any {
	t.Helper()
	var sts []map[string]any
	for _, ev := range events(t, inst) {
		sts = append(sts, ev.Status)
	}
	return sts
}

// recordsByRole returns the records but the helpers' (see helperRecords),
// checking that each role wrote at most one and that the PIDs match the
// instance's.
func recordsByRole(t *testing.T, inst *siminst.Instance) map[siminst.Role]siminst.Record {
	t.Helper()
	recs, err := inst.Records()
	require.NoError(t, err)
	byRole := map[siminst.Role]siminst.Record{}
	for _, r := range recs {
		if r.Role == siminst.RoleHelper {
			continue
		}
		require.NotContains(t, byRole, r.Role, "two records for %s", r.Role)
		byRole[r.Role] = r
	}
	for role, pid := range map[siminst.Role]int{
		siminst.RoleHostAgent:      inst.HostAgentPID(),
		siminst.RoleDriver:         inst.DriverPID(),
		siminst.RoleExternalDriver: inst.ExternalDriverPID(),
	} {
		if r, ok := byRole[role]; ok {
			assert.Equal(t, pid, r.PID, "%s", role)
		}
	}
	return byRole
}

// helperRecords returns the helpers' records by PID, checking that each
// helper wrote at most one and no other process wrote one as a helper.
func helperRecords(t *testing.T, inst *siminst.Instance) map[int]siminst.Record {
	t.Helper()
	recs, err := inst.Records()
	require.NoError(t, err)
	byPID := map[int]siminst.Record{}
	for _, r := range recs {
		if r.Role != siminst.RoleHelper {
			continue
		}
		require.Contains(t, inst.HelperPIDs(), r.PID, "a record of a helper that is none")
		require.NotContains(t, byPID, r.PID, "two records for helper %d", r.PID)
		byPID[r.PID] = r
	}
	return byPID
}

func TestStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		vmType            string
		driverPIDFile     string
		driverIsHostAgent bool
	}{
		{name: "default", driverPIDFile: "qemu.pid"},
		{name: "vz runs its driver in the host agent", vmType: "vz", driverPIDFile: "vz.pid", driverIsHostAgent: true},
		{name: "wsl2 has no driver pid file", vmType: "wsl2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inst := start(t, siminst.Options{VMType: tt.vmType})
			assert.Equal(t, siminst.DefaultName, inst.Name())
			assert.Equal(t, filepath.Join(inst.LimaHome(), inst.Name()), inst.Dir())
			assert.FileExists(t, filepath.Join(inst.Dir(), "lima.yaml"))

			assert.Equal(t, inst.HostAgentPID(), readPID(t, filepath.Join(inst.Dir(), "ha.pid")))
			if tt.driverPIDFile == "" {
				assert.Empty(t, inst.DriverPIDFile())
				entries, err := os.ReadDir(inst.Dir())
				require.NoError(t, err)
				for _, e := range entries {
					assert.False(t, e.Name() != "ha.pid" && strings.HasSuffix(e.Name(), ".pid"), "unexpected pid file %q", e.Name())
				}
			} else {
				assert.Equal(t, filepath.Join(inst.Dir(), tt.driverPIDFile), inst.DriverPIDFile())
				assert.Equal(t, inst.DriverPID(), readPID(t, inst.DriverPIDFile()))
			}
			find(t, inst.HostAgentPID())
			find(t, inst.DriverPID())
			if tt.driverIsHostAgent {
				assert.Equal(t, inst.HostAgentPID(), inst.DriverPID())
				assert.Equal(t, inst.HostAgentArgs(), inst.DriverArgs())
			} else {
				assert.NotEqual(t, inst.HostAgentPID(), inst.DriverPID())
			}

			sts := statuses(t, inst)
			require.Len(t, sts, 1)
			assert.Equal(t, map[string]any{"running": true, "sshLocalPort": float64(siminst.SSHLocalPort)}, sts[0])
			recs, err := inst.Records()
			require.NoError(t, err)
			assert.Empty(t, recs)
		})
	}
}

func TestInfo(t *testing.T) {
	t.Parallel()
	inst := start(t, siminst.Options{})
	sock := filepath.Join(inst.Dir(), "ha.sock")
	if _, err := os.Stat(sock); err != nil && socketBestEffort {
		t.Skipf("the host agent serves no API socket on this system: %v", err)
	}
	c := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	defer c.CloseIdleConnections()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://lima-hostagent/v1/info", http.NoBody)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var info map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&info))
	assert.Equal(t, map[string]any{"sshLocalPort": float64(siminst.SSHLocalPort)}, info)
}

func TestInterrupt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		metaHome      bool
		vmType        string
		shutdownDelay time.Duration
	}{
		{name: "at once"},
		{name: "with shutdown delay", shutdownDelay: 200 * time.Millisecond},
		{name: "glob metacharacters in the path", metaHome: true},
		{name: "wsl2", vmType: "wsl2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := siminst.Options{VMType: tt.vmType, ShutdownDelay: tt.shutdownDelay}
			if tt.metaHome {
				opts.LimaHome = filepath.Join(testutil.TempDir(t, "siminst"), metaName)
				require.NoError(t, os.Mkdir(opts.LimaHome, 0o755))
			}
			inst := start(t, opts)
			ha := find(t, inst.HostAgentPID())
			driver := find(t, inst.DriverPID())

			interrupted := time.Now()
			require.NoError(t, ha.Interrupt())
			exit := waitHostAgent(t, inst)
			assert.Equal(t, siminst.Exit{Time: exit.Time, Code: 0, Killed: false}, exit)
			waitExit(t, driver)

			for _, name := range []string{"ha.pid", "ha.sock", inst.VMType() + ".pid"} {
				requireNoFile(t, filepath.Join(inst.Dir(), name))
			}
			recs := recordsByRole(t, inst)
			require.Len(t, recs, 2)
			haRec, drvRec := recs[siminst.RoleHostAgent], recs[siminst.RoleDriver]
			assert.Equal(t, siminst.ReasonInterrupted, haRec.Reason)
			assert.Equal(t, siminst.ReasonStdinClosed, drvRec.Reason)
			// The host agent waits out its delay, then for its driver.
			assert.False(t, drvRec.Time.Before(interrupted.Add(tt.shutdownDelay)), "driver stopped %s after the interrupt", drvRec.Time.Sub(interrupted))
			assert.False(t, haRec.Time.Before(drvRec.Time), "host agent exited before its driver")
			assert.False(t, exit.Time.Before(haRec.Time), "host agent exit seen before it happened")

			evs := events(t, inst)
			require.Len(t, evs, 2)
			assert.Equal(t, map[string]any{"exiting": true}, evs[1].Status)
			// Like Lima's, once the driver has stopped.
			assert.False(t, evs[1].Time.Before(drvRec.Time), "exiting event written before the driver stopped")
		})
	}
}

// TestCommandLines checks the arguments the simulated processes get, as
// they saw them (their records) and, where the OS shows them, as a stop
// policy reading the process table does.
func TestCommandLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		opts          siminst.Options
		wantHostAgent func(dir, name string) []string
		wantDriver    func(dir, name string) []string // nil: no driver process
	}{
		{
			name: "qemu",
			wantHostAgent: func(dir, name string) []string {
				return []string{"hostagent", "--pidfile", filepath.Join(dir, "ha.pid"), "--socket", filepath.Join(dir, "ha.sock"), name}
			},
			wantDriver: func(dir, name string) []string {
				return []string{"-name", "lima-" + name, "-pidfile", filepath.Join(dir, "qemu.pid")}
			},
		},
		{
			name: "vz",
			opts: siminst.Options{VMType: "vz", Name: "vm1"},
			wantHostAgent: func(dir, name string) []string {
				return []string{"hostagent", "--pidfile", filepath.Join(dir, "ha.pid"), "--socket", filepath.Join(dir, "ha.sock"), name}
			},
		},
		{
			name: "wsl2 driver names the instance only",
			opts: siminst.Options{VMType: "wsl2"},
			wantHostAgent: func(dir, name string) []string {
				return []string{"hostagent", "--pidfile", filepath.Join(dir, "ha.pid"), "--socket", filepath.Join(dir, "ha.sock"), name}
			},
			wantDriver: func(_, name string) []string { return []string{"-name", "lima-" + name} },
		},
		{
			name:          "no pid file arguments",
			opts:          siminst.Options{NoPIDFileArgs: true},
			wantHostAgent: func(_, name string) []string { return []string{"hostagent", name} },
			wantDriver:    func(_, name string) []string { return []string{"-name", "lima-" + name} },
		},
		{
			name: "glob metacharacters in the path",
			opts: siminst.Options{LimaHome: metaName},
			wantHostAgent: func(dir, name string) []string {
				return []string{"hostagent", "--pidfile", filepath.Join(dir, "ha.pid"), "--socket", filepath.Join(dir, "ha.sock"), name}
			},
			wantDriver: func(dir, name string) []string {
				return []string{"-name", "lima-" + name, "-pidfile", filepath.Join(dir, "qemu.pid")}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := tt.opts
			if opts.LimaHome != "" {
				opts.LimaHome = filepath.Join(testutil.TempDir(t, "siminst"), opts.LimaHome)
				require.NoError(t, os.Mkdir(opts.LimaHome, 0o755))
			}
			inst := start(t, opts)
			wantHA := tt.wantHostAgent(inst.Dir(), inst.Name())
			wantDriver := wantHA
			if tt.wantDriver != nil {
				wantDriver = tt.wantDriver(inst.Dir(), inst.Name())
			}
			assert.Equal(t, wantHA, inst.HostAgentArgs())
			assert.Equal(t, wantDriver, inst.DriverArgs())
			if args, ok := processArgs(t, inst.HostAgentPID()); ok {
				assert.Equal(t, wantHA, args, "host agent's command line")
			}
			if args, ok := processArgs(t, inst.DriverPID()); ok {
				assert.Equal(t, wantDriver, args, "driver's command line")
			}

			driver := find(t, inst.DriverPID())
			require.NoError(t, find(t, inst.HostAgentPID()).Interrupt())
			waitExit(t, driver)
			waitHostAgent(t, inst)
			recs := recordsByRole(t, inst)
			assert.Equal(t, wantHA, recs[siminst.RoleHostAgent].Args)
			if tt.wantDriver != nil {
				assert.Equal(t, wantDriver, recs[siminst.RoleDriver].Args)
			} else {
				assert.NotContains(t, recs, siminst.RoleDriver)
			}
		})
	}
}

// TestVZ checks that, as in Lima, the host agent of a vz instance is its
// driver: it writes vz.pid with its own PID and removes it, with ha.pid, when
// it shuts down.
func TestVZ(t *testing.T) {
	t.Parallel()
	inst := start(t, siminst.Options{VMType: "vz"})
	haPID := readPID(t, filepath.Join(inst.Dir(), "ha.pid"))
	assert.Equal(t, inst.HostAgentPID(), haPID)
	assert.Equal(t, haPID, readPID(t, filepath.Join(inst.Dir(), "vz.pid")))
	assert.Equal(t, filepath.Join(inst.Dir(), "vz.pid"), inst.DriverPIDFile())
	assert.Equal(t, haPID, inst.DriverPID())

	require.NoError(t, find(t, inst.HostAgentPID()).Interrupt())
	exit := waitHostAgent(t, inst)
	assert.Equal(t, siminst.Exit{Time: exit.Time, Code: 0, Killed: false}, exit)
	for _, name := range []string{"ha.pid", "ha.sock", "vz.pid"} {
		requireNoFile(t, filepath.Join(inst.Dir(), name))
	}
	recs := recordsByRole(t, inst)
	require.Len(t, recs, 1)
	assert.Equal(t, siminst.ReasonInterrupted, recs[siminst.RoleHostAgent].Reason)
	require.NoError(t, inst.Close())
}

func TestIgnoreInterrupt(t *testing.T) {
	t.Parallel()
	inst := start(t, siminst.Options{IgnoreInterrupt: true})
	ha := find(t, inst.HostAgentPID())
	driver := find(t, inst.DriverPID())

	require.NoError(t, ha.Interrupt())
	requireAlive(t, ha, 500*time.Millisecond)
	stderr, err := os.ReadFile(filepath.Join(inst.Dir(), "ha.stderr.log"))
	require.NoError(t, err)
	assert.Contains(t, string(stderr), "ignoring interrupt")

	require.NoError(t, inst.KillHostAgent())
	exit := waitHostAgent(t, inst)
	assert.True(t, exit.Killed, "exit %+v", exit)
	assert.NotEqual(t, 0, exit.Code)

	// Like QEMU, the driver outlives its killed host agent, and the pid
	// files stay behind.
	requireAlive(t, driver, 100*time.Millisecond)
	assert.FileExists(t, filepath.Join(inst.Dir(), "ha.pid"))
	assert.FileExists(t, inst.DriverPIDFile())
	assert.Empty(t, recordsByRole(t, inst))

	require.NoError(t, inst.Close())
	waitExit(t, driver)
	assert.Empty(t, recordsByRole(t, inst))
}

func TestLifetime(t *testing.T) {
	t.Parallel()
	inst := start(t, siminst.Options{Lifetime: 300 * time.Millisecond})
	driver := find(t, inst.DriverPID())
	exit := waitHostAgent(t, inst)
	assert.False(t, exit.Killed)
	assert.NotEqual(t, 0, exit.Code)
	waitExit(t, driver)
	recs := recordsByRole(t, inst)
	require.Len(t, recs, 2)
	assert.Equal(t, siminst.ReasonLifetime, recs[siminst.RoleHostAgent].Reason)
	assert.Equal(t, siminst.ReasonLifetime, recs[siminst.RoleDriver].Reason)
}

func TestAdditionalDisks(t *testing.T) {
	t.Parallel()
	opts := siminst.Options{LimaHome: testutil.TempDir(t, "siminst"), AdditionalDisks: []string{"data", "logs"}}
	inst, err := siminst.Start(t.Context(), opts)
	if errors.Is(err, errors.ErrUnsupported) && symlinkBestEffort {
		t.Skipf("no disk locks without symlinks: %v", err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, inst.Close()) })
	for _, disk := range []string{"data", "logs"} {
		dir := filepath.Join(inst.LimaHome(), "_disks", disk)
		assert.FileExists(t, filepath.Join(dir, "datadisk"))
		target, err := os.Readlink(filepath.Join(dir, "in_use_by"))
		require.NoError(t, err)
		assert.Equal(t, inst.Dir(), target)
	}
	b, err := os.ReadFile(filepath.Join(inst.Dir(), "lima.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(b), `- name: "logs"`)
}

func TestClose(t *testing.T) {
	t.Parallel()
	killHostAgent := func(t *testing.T, inst *siminst.Instance) {
		require.NoError(t, inst.KillHostAgent())
		waitHostAgent(t, inst)
	}
	interrupt := func(t *testing.T, inst *siminst.Instance) {
		require.NoError(t, find(t, inst.HostAgentPID()).Interrupt())
		waitHostAgent(t, inst)
	}
	tree := siminst.Options{Descendants: 2, ExternalDriver: "krunkit"}
	tests := []struct {
		name   string
		opts   siminst.Options
		before func(t *testing.T, inst *siminst.Instance)
	}{
		{name: "both running"},
		{name: "host agent already killed", before: killHostAgent},
		{name: "after a graceful stop", before: interrupt},
		// The vz driver is the host agent: one process to kill, once.
		{name: "vz running", opts: siminst.Options{VMType: "vz"}},
		{name: "vz host agent already killed", opts: siminst.Options{VMType: "vz"}, before: killHostAgent},
		{name: "vz after a graceful stop", opts: siminst.Options{VMType: "vz"}, before: interrupt},
		// Helpers and the server outlive a killed host agent.
		{name: "tree running", opts: tree},
		{name: "tree, host agent already killed", opts: tree, before: killHostAgent},
		{name: "tree after a graceful stop", opts: tree, before: interrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inst := start(t, tt.opts)
			if tt.before != nil {
				tt.before(t, inst)
			}
			require.NoError(t, inst.Close())
			require.NoError(t, inst.Close(), "a second Close")
			require.Len(t, inst.HelperPIDs(), tt.opts.Descendants)
			pids := append([]int{inst.DriverPID(), inst.HostAgentPID()}, inst.HelperPIDs()...)
			if tt.opts.ExternalDriver != "" {
				require.NotZero(t, inst.ExternalDriverPID())
				pids = append(pids, inst.ExternalDriverPID())
			}
			for _, pid := range pids {
				requireGone(t, pid)
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	home := testutil.TempDir(t, "siminst")
	tests := []struct {
		name string
		opts siminst.Options
	}{
		{name: "no Lima home", opts: siminst.Options{}},
		{name: "name with a separator", opts: siminst.Options{LimaHome: home, Name: "a/b"}},
		{name: "reserved name", opts: siminst.Options{LimaHome: home, Name: "_disks"}},
		{name: "negative descendants", opts: siminst.Options{LimaHome: home, Descendants: -1}},
		{name: "too many descendants", opts: siminst.Options{LimaHome: home, Descendants: 17}},
		{name: "too many light helpers", opts: siminst.Options{LimaHome: home, Descendants: 3, LightHelpers: true}},
		{name: "external driver with a separator", opts: siminst.Options{LimaHome: home, ExternalDriver: "a/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := siminst.Start(t.Context(), tt.opts)
			require.Error(t, err)
		})
	}

	// The host agent fails rather than run without the stop event it was
	// asked to create; the name is checked on every OS.
	t.Run("bad stop event name", func(t *testing.T) {
		_, err := siminst.Start(t.Context(), siminst.Options{LimaHome: home, Name: "badevent", StopEventPrefix: "a\x00b"})
		require.ErrorContains(t, err, "failed to opt into stop requests")
	})

	t.Run("instance already running", func(t *testing.T) {
		inst := start(t, siminst.Options{})
		_, err := siminst.Start(t.Context(), siminst.Options{LimaHome: inst.LimaHome()})
		require.ErrorContains(t, err, "seems running")
	})
}
