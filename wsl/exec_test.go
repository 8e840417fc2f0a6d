// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package wsl_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/limastop/stop/internal/testutil"
	"github.com/limastop/stop/process"
	"github.com/limastop/stop/wsl"
	"github.com/limastop/stop/wsl/wsltest"
)

// The test binary is also the fake wsl.exe: run with fakeEnv set, it
// behaves as that mode says instead of running the tests.
const (
	fakeEnv     = "LIMASTOP_FAKE_WSL"      // mode: wsl, exit, env, hang, escape, orphan, child
	fakeCodeEnv = "LIMASTOP_FAKE_WSL_CODE" // exit mode: the exit code
	fakePIDsEnv = "LIMASTOP_FAKE_WSL_PIDS" // hang, escape, orphan: file for "PID CHILDPID"
	fakeEchoEnv = "LIMASTOP_FAKE_WSL_ECHO" // env mode: printed
)

// selfDestruct ends a fake that nobody killed, so a failing test cannot
// leave processes behind for long or hang CI.
const selfDestruct = 60 * time.Second

// escapeeLifetime is how long the child of the escape mode lives: long
// enough that a Run waiting for it is caught, short enough that a failing
// test ends soon.
const escapeeLifetime = 10 * time.Second

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeEnv); mode != "" {
		fakeWSL(mode, os.Args[1:])
		return
	}
	goleak.VerifyTestMain(m)
}

// fakeWSL plays wsl.exe. Its output is UTF-16LE, like wsl.exe's.
func fakeWSL(mode string, args []string) {
	time.AfterFunc(selfDestruct, func() { os.Exit(3) })
	write := func(b []byte) { _, _ = os.Stdout.Write(b) }
	switch mode {
	case "wsl": // the distros of testdata/list.txt
		switch {
		case slices.Equal(args, []string{"--list", "--verbose"}):
			write(readTestdata("list.txt"))
		case len(args) == 2 && args[0] == "--terminate" && strings.HasPrefix(args[1], "lima-gone"):
			write(readTestdata("terminate-not-found.txt"))
			os.Exit(-1)
		case len(args) == 2 && args[0] == "--terminate":
		default:
			write(wsltest.UTF16("unexpected arguments\r\n"))
			os.Exit(2)
		}
	case "exit":
		write(wsltest.UTF16(strings.Join(args, " ")))
		_, _ = os.Stderr.Write(wsltest.UTF16(" on stderr"))
		code, _ := strconv.Atoi(os.Getenv(fakeCodeEnv))
		os.Exit(code)
	case "env":
		write([]byte(os.Getenv(fakeEchoEnv)))
	case "hang":
		// A wedged wsl.exe: deaf to polite signals, and with a child
		// that holds its output pipes open.
		signal.Ignore(os.Interrupt, syscall.SIGTERM)
		startFakeChild("child", true, nil)
		time.Sleep(selfDestruct)
	case "escape":
		// A wedged wsl.exe whose child left its process group (on
		// Unix; a job object keeps it on Windows) and holds its output
		// pipes open.
		signal.Ignore(os.Interrupt, syscall.SIGTERM)
		startFakeChild("escapee", true, escapeAttr())
		time.Sleep(selfDestruct)
	case "orphan":
		// A wsl.exe that succeeds at once but leaves a child running,
		// which holds none of its pipes.
		startFakeChild("child", false, isolatedAttr())
	case "child":
		signal.Ignore(os.Interrupt, syscall.SIGTERM)
		time.Sleep(selfDestruct)
	case "escapee":
		signal.Ignore(os.Interrupt, syscall.SIGTERM)
		time.Sleep(escapeeLifetime)
	}
	os.Exit(0)
}

// startFakeChild starts the test binary in the given fake mode, with the
// fake's stdout and stderr if inherit is set, and writes "PID CHILDPID" to
// the file that fakePIDsEnv names.
func startFakeChild(mode string, inherit bool, attr *syscall.SysProcAttr) {
	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), fakeEnv+"="+mode)
	if inherit {
		child.Stdout, child.Stderr = os.Stdout, os.Stderr
	}
	child.SysProcAttr = attr
	if err := child.Start(); err != nil {
		os.Exit(4)
	}
	if path := os.Getenv(fakePIDsEnv); path != "" {
		pids := fmt.Sprintf("%d %d\n", os.Getpid(), child.Process.Pid)
		_ = os.WriteFile(path, []byte(pids), 0o644)
	}
}

func readTestdata(name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		panic(err)
	}
	return b
}

// fakeExec returns an Exec that runs the test binary as the fake wsl.exe.
func fakeExec(t testing.TB, mode string, env ...string) wsl.Exec {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	// Without the race detector's default 1 s sleep at exit.
	env = append([]string{fakeEnv + "=" + mode, "GORACE=atexit_sleep_ms=0"}, env...)
	return wsl.Exec{Path: exe, Env: env}
}

func TestExecRun(t *testing.T) {
	tests := []struct {
		name     string
		mode     string
		env      []string
		args     []string
		want     string
		wantCode int // 0: success
		wantErr  string
	}{
		{
			name: "UTF-16LE output",
			mode: "wsl",
			args: []string{"--list", "--verbose"},
			want: wsl.Decode(readTestdata("list.txt")),
		},
		{
			name: "UTF-8 output and extra environment",
			mode: "env",
			env:  []string{fakeEchoEnv + "=Wird ausgeführt"},
			want: "Wird ausgeführt",
		},
		{
			name:     "exit code",
			mode:     "exit",
			env:      []string{fakeCodeEnv + "=3"},
			args:     []string{"--terminate", "lima-a"},
			wantCode: 3,
			wantErr:  `failed to run [wsl.exe --terminate lima-a]: exit status 3 (out="--terminate lima-a on stderr")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fakeExec(t, tt.mode, tt.env...).Run(context.Background(), tt.args...)
			if tt.wantCode == 0 {
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
				return
			}
			var werr *wsl.Error
			require.ErrorAs(t, err, &werr)
			assert.Equal(t, tt.wantCode, werr.ExitCode)
			assert.EqualError(t, err, tt.wantErr)
		})
	}
}

func TestExecMissingProgram(t *testing.T) {
	ex := wsl.Exec{Path: filepath.Join(testutil.TempDir(t, "wsl"), "wsl.exe")}
	_, err := ex.Run(context.Background(), "--list")
	var werr *wsl.Error
	require.ErrorAs(t, err, &werr)
	assert.Equal(t, -1, werr.ExitCode)
}

func TestExecTerminate(t *testing.T) {
	tests := []struct {
		name   string
		distro string
	}{
		{name: "running", distro: "lima-k8s"},
		{name: "missing", distro: "lima-gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, wsl.Terminate(context.Background(), fakeExec(t, "wsl"), tt.distro))
		})
	}
}

func TestExecHung(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration // Exec.Timeout
		ctx     time.Duration // the caller's deadline; 0: none
		wantMsg string
	}{
		{name: "Exec.Timeout", timeout: 3 * time.Second, wantMsg: "killed after its 3s timeout"},
		{name: "caller's deadline", ctx: 3 * time.Second, wantMsg: "cut short by its context"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pidFile := filepath.Join(testutil.TempDir(t, "wsl"), "pids")
			ex := fakeExec(t, "hang", fakePIDsEnv+"="+pidFile)
			ex.Timeout = tt.timeout
			ctx := context.Background()
			if tt.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctx)
				defer cancel()
			}

			start := time.Now()
			_, err := ex.Run(ctx, "--terminate", "lima-a")
			elapsed := time.Since(start)

			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.ErrorContains(t, err, tt.wantMsg)
			var werr *wsl.Error
			require.ErrorAs(t, err, &werr)
			assert.Equal(t, -1, werr.ExitCode)
			assert.Less(t, elapsed, 3*time.Second+5*time.Second, "Run must return soon after the timeout")

			pids := readPIDs(t, pidFile)
			assertGone(t, pids[0], "the hung wsl.exe")
			assertGone(t, pids[1], "the child holding its pipes")
		})
	}
}

// TestExecHungEscapedChild: a child of wsl.exe that the kill cannot reach
// (on Unix, one that left the process group) and that holds wsl.exe's
// output pipes does not hold up Run: Run stops waiting for the pipes half
// a second after the kill, rather than when that child exits.
func TestExecHungEscapedChild(t *testing.T) {
	pidFile := filepath.Join(testutil.TempDir(t, "wsl"), "pids")
	ex := fakeExec(t, "escape", fakePIDsEnv+"="+pidFile)
	ex.Timeout = time.Second

	start := time.Now()
	_, err := ex.Run(context.Background(), "--terminate", "lima-a")
	elapsed := time.Since(start)

	require.ErrorIs(t, err, context.DeadlineExceeded)
	pids := readPIDs(t, pidFile)
	t.Cleanup(func() { killPID(pids[1]) })
	assert.Less(t, elapsed, ex.Timeout+3*time.Second, "Run waited for the escaped child, which lives %s", escapeeLifetime)
	assertGone(t, pids[0], "the hung wsl.exe")
}

// TestExecHungDefaultBound: with neither Exec.Timeout nor a deadline, a hung
// wsl.exe is killed after DefaultTimeout. It takes that long, so it runs
// in parallel, and not with -short.
func TestExecHungDefaultBound(t *testing.T) {
	if testing.Short() {
		t.Skipf("takes DefaultTimeout (%s)", wsl.DefaultTimeout)
	}
	t.Parallel()
	pidFile := filepath.Join(testutil.TempDir(t, "wsl"), "pids")
	ex := fakeExec(t, "hang", fakePIDsEnv+"="+pidFile)
	// The test's own bound: the fake destroys itself after a minute.
	ctx, cancel := context.WithTimeout(context.Background(), wsl.DefaultTimeout+15*time.Second)
	defer cancel()
	ctx = withoutDeadline{ctx}

	start := time.Now()
	_, err := ex.Run(ctx, "--terminate", "lima-a")
	elapsed := time.Since(start)

	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "killed after its "+wsl.DefaultTimeout.String()+" timeout")
	assert.Less(t, elapsed, wsl.DefaultTimeout+5*time.Second)
	pids := readPIDs(t, pidFile)
	assertGone(t, pids[0], "the hung wsl.exe")
	assertGone(t, pids[1], "the child holding its pipes")
}

// withoutDeadline hides its context's deadline, so that Exec applies its
// default bound, while the context still ends the run as a last resort.
type withoutDeadline struct{ context.Context }

func (withoutDeadline) Deadline() (time.Time, bool) { return time.Time{}, false }

// killPID kills pid if it still runs.
func killPID(pid int) {
	if p, err := process.System().Find(pid); err == nil {
		_ = p.Kill()
		_ = p.Release()
	}
}

// readPIDs reads the PIDs the hung fake wrote: its own and its child's.
func readPIDs(t *testing.T, path string) [2]int {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err, "the fake did not get to write its PIDs before it was killed")
	var pids [2]int
	_, err = fmt.Sscan(string(b), &pids[0], &pids[1])
	require.NoError(t, err)
	return pids
}

// assertGone checks that pid exits within a few seconds, if it has not.
func assertGone(t *testing.T, pid int, what string) {
	t.Helper()
	p, err := process.System().Find(pid)
	if errors.Is(err, process.ErrNotFound) {
		return
	}
	require.NoError(t, err)
	defer p.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	assert.NoError(t, p.Wait(ctx), "%s (pid %d) is still running", what, pid)
}

// BenchmarkTerminateHung measures how long Terminate takes to return when
// wsl.exe hangs, with a 1 s timeout: the median and the maximum over b.N
// runs, in milliseconds.
func BenchmarkTerminateHung(b *testing.B) {
	ex := fakeExec(b, "hang")
	ex.Timeout = time.Second
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		err := wsl.Terminate(context.Background(), ex, "lima-a")
		took = append(took, time.Since(start))
		require.ErrorIs(b, err, context.DeadlineExceeded)
	}
	slices.Sort(took)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(took[len(took)/2]), "p50-ms")
	b.ReportMetric(ms(took[len(took)-1]), "max-ms")
	b.ReportMetric(0, "ns/op")
}
