// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/internal/siminst"
	"github.com/limastop/stop/internal/testutil"
)

// envCLI makes the test binary run as limastop, with its arguments, so that
// the tests drive the real command as a process without building it: the
// binary is also the simulated instances' host agent and driver.
const envCLI = "LIMASTOP_TEST_CLI"

func TestMain(m *testing.M) {
	siminst.RunIfChild()
	if _, ok := os.LookupEnv(envCLI); ok {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// cliTimeout bounds every run of the command.
const cliTimeout = time.Minute

// cli is a run of limastop as a child process.
type cli struct {
	cmd    *exec.Cmd
	stdout strings.Builder
	lines  chan string // standard error, a line at a time

	mu     sync.Mutex
	stderr strings.Builder
	done   chan struct{} // closed once standard error is read to its end
}

// startCLI starts limastop with args and LIMA_HOME set to home.
func startCLI(t *testing.T, ctx context.Context, home string, args ...string) *cli {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	c := &cli{lines: make(chan string, 1000), done: make(chan struct{})}
	c.cmd = exec.CommandContext(ctx, exe, args...)
	// A binary built with -race sleeps a second at exit by default.
	c.cmd.Env = append(os.Environ(), envCLI+"=1", "LIMA_HOME="+home, "GORACE=atexit_sleep_ms=0")
	c.cmd.Stdout = &c.stdout
	c.cmd.WaitDelay = 10 * time.Second
	stderr, err := c.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, c.cmd.Start())
	go func() {
		defer close(c.done)
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			c.mu.Lock()
			c.stderr.WriteString(s.Text() + "\n")
			c.mu.Unlock()
			select {
			case c.lines <- s.Text():
			default:
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	return c
}

func (c *cli) errText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stderr.String()
}

// wait waits for limastop to exit and returns its exit code, standard
// output and standard error.
func (c *cli) wait(t *testing.T) (code int, stdout, stderr string) {
	t.Helper()
	<-c.done // before Wait, which closes the pipe
	err := c.cmd.Wait()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("limastop: %v", err)
	}
	stdout, stderr = c.stdout.String(), c.errText()
	t.Logf("limastop %s: exit code %d\nstdout:\n%s\nstderr:\n%s", strings.Join(c.cmd.Args[1:], " "), code, stdout, stderr)
	return code, stdout, stderr
}

// limastop runs limastop with args and LIMA_HOME set to home.
func limastop(t *testing.T, home string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cliTimeout)
	defer cancel()
	return startCLI(t, ctx, home, args...).wait(t)
}

// requireStore skips the test where Lima's store cannot see a simulated
// instance run: store.Inspect asks the host agent over its AF_UNIX socket,
// which Wine, where the Windows tests run, does not have.
func requireStore(t *testing.T) {
	t.Helper()
	l, err := net.Listen("unix", filepath.Join(testutil.TempDir(t, "sock"), "s"))
	if err != nil {
		t.Skipf("no AF_UNIX sockets here (%v), as under Wine: Lima's store.Inspect needs the host agent's socket", err)
	}
	_ = l.Close()
}

// startSim starts a simulated instance in home.
func startSim(t *testing.T, home string, opts siminst.Options) *siminst.Instance {
	t.Helper()
	opts.LimaHome = home
	opts.Lifetime = 2 * time.Minute
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	sim, err := siminst.Start(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, sim.Close()) })
	return sim
}

// hostAgentRunning checks that the first instance's host agent has not
// exited.
func hostAgentRunning(t *testing.T, sims []*siminst.Instance) {
	t.Helper()
	select {
	case <-sims[0].HostAgentDone():
		t.Error("the host agent was stopped")
	default:
	}
}

// exitOf waits for the host agent of sim to exit.
func exitOf(t *testing.T, sim *siminst.Instance) siminst.Exit {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	exit, err := sim.WaitHostAgent(ctx)
	require.NoError(t, err, "the host agent of %s still runs", sim.Name())
	return exit
}

// TestCLI runs limastop as a process on simulated instances in a LIMA_HOME
// of their own and checks its exit code and output.
func TestCLI(t *testing.T) {
	tests := []struct {
		name string
		sims []siminst.Options
		// setup, if set, prepares home after the simulated instances
		// have started.
		setup func(t *testing.T, home string, sims []*siminst.Instance)
		// before are the arguments of a run before the one checked.
		before []string
		args   []string
		code   int
		stdout []string // each a substring
		stderr []string
		// check checks the simulated instances afterwards.
		check func(t *testing.T, sims []*siminst.Instance)
	}{
		{
			name:   "graceful stop of default",
			sims:   []siminst.Options{{Name: "default", ShutdownDelay: 100 * time.Millisecond}},
			stdout: []string{"default: stopped gracefully"},
			check: func(t *testing.T, sims []*siminst.Instance) {
				assert.False(t, exitOf(t, sims[0]).Killed)
			},
		},
		{
			name:   "graceful stop by name",
			sims:   []siminst.Options{{Name: "sim", ShutdownDelay: 100 * time.Millisecond}},
			args:   []string{"sim"},
			stdout: []string{"sim: stopped gracefully"},
			stderr: []string{"sim: waiting for host agent (pid "},
			check: func(t *testing.T, sims []*siminst.Instance) {
				assert.False(t, exitOf(t, sims[0]).Killed)
			},
		},
		{
			name:   "already stopped",
			sims:   []siminst.Options{{Name: "sim"}},
			before: []string{"sim"},
			args:   []string{"sim"},
			stdout: []string{"sim: already stopped"},
		},
		{
			name:   "unknown name",
			sims:   []siminst.Options{{Name: "sim"}},
			args:   []string{"nosuch"},
			code:   exitFailed,
			stderr: []string{"nosuch: no such instance: ", filepath.Join("nosuch", "lima.yaml") + " does not exist (LIMA_HOME=", "are sim; or set LIMA_HOME"},
		},
		{
			name: "Lima cannot read lima.yaml",
			setup: func(t *testing.T, home string, _ []*siminst.Instance) {
				require.NoError(t, os.Mkdir(filepath.Join(home, "bad"), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(home, "bad", "lima.yaml"), []byte("vmType: bogus\n"), 0o644))
			},
			args:   []string{"bad"},
			code:   exitFailed,
			stderr: []string{"bad: cannot load lima.yaml: ", "bogus", "next: fix "},
		},
		{
			name: "broken: the host agent was killed, the driver runs",
			sims: []siminst.Options{{Name: "sim"}},
			setup: func(t *testing.T, _ string, sims []*siminst.Instance) {
				require.NoError(t, sims[0].KillHostAgent())
				exitOf(t, sims[0])
			},
			args:   []string{"sim"},
			code:   exitFailed,
			stdout: []string{"sim: not stopped"},
			stderr: []string{
				"sim: Lima reports: qemu driver is running but host agent is not",
				"only a forced stop can end it",
				"sim: next: use -f to force it: limastop -f sim",
			},
		},
		{
			name: "bad pid file",
			sims: []siminst.Options{{Name: "sim"}},
			setup: func(t *testing.T, _ string, sims []*siminst.Instance) {
				require.NoError(t, sims[0].KillHostAgent())
				exitOf(t, sims[0])
				require.NoError(t, os.WriteFile(filepath.Join(sims[0].Dir(), "ha.pid"), []byte("garbage\n"), 0o644))
			},
			args:   []string{"-f", "sim"},
			code:   exitFailed,
			stdout: []string{"sim: not stopped"},
			stderr: []string{
				"sim: Lima reports: ",
				"bad pid file",
				filepath.Join("sim", "ha.pid") + "; then run limastop -f sim again",
			},
		},
		{
			name:   "identity unknown",
			sims:   []siminst.Options{{Name: "sim", NoPIDFileArgs: true}},
			args:   []string{"sim"},
			code:   exitFailed,
			stdout: []string{"sim: not stopped"},
			stderr: []string{"may or may not be", "sim: next: check what pid "},
			check:  hostAgentRunning,
		},
		{
			name:   "unknown policy",
			args:   []string{"-policy", "brutal", "sim"},
			code:   exitUsage,
			stderr: []string{`unknown policy "brutal"`, "limastop -h"},
		},
		{
			name:   "unknown flag",
			args:   []string{"-x"},
			code:   exitUsage,
			stderr: []string{"-x"},
		},
		{
			name:   "invalid name",
			args:   []string{"../sim"},
			code:   exitUsage,
			stderr: []string{`"../sim" is not a valid identifier`},
		},
		{
			name:   "help",
			args:   []string{"-h"},
			stdout: []string{"usage: limastop [-f]", "130  interrupted"},
		},
		{
			name:   "forced stop of a host agent that ignores interrupts",
			sims:   []siminst.Options{{Name: "sim", IgnoreInterrupt: true}},
			args:   []string{"-f", "sim"},
			stdout: []string{"sim: stopped forcibly"},
			check: func(t *testing.T, sims []*siminst.Instance) {
				assert.True(t, exitOf(t, sims[0]).Killed)
			},
		},
		{
			name:   "flags after the name",
			sims:   []siminst.Options{{Name: "sim", IgnoreInterrupt: true}},
			args:   []string{"sim", "-f"},
			stdout: []string{"sim: stopped forcibly"},
		},
		{
			name:   "graceful stop that times out",
			sims:   []siminst.Options{{Name: "sim", IgnoreInterrupt: true}},
			args:   []string{"-timeout", "1s", "sim"},
			code:   exitFailed,
			stdout: []string{"sim: not stopped"},
			stderr: []string{"deadline exceeded", "sim: next: use -f to force it: limastop -f sim"},
			check:  hostAgentRunning,
		},
		{
			name: "orphan policy escalates",
			sims: []siminst.Options{{Name: "sim", IgnoreInterrupt: true}},
			// The graceful part ends 5s (the forced budget) before the
			// deadline.
			args:   []string{"-policy", "orphan", "-timeout", "6s", "sim"},
			stdout: []string{"sim: stopped forcibly"},
			stderr: []string{"sim: escalating to a forced stop: "},
		},
		{
			name: "two instances in parallel",
			sims: []siminst.Options{
				{Name: "a", ShutdownDelay: 2 * time.Second},
				{Name: "b", ShutdownDelay: 2 * time.Second},
			},
			args:   []string{"a", "b"},
			stdout: []string{"a: stopped gracefully", "b: stopped gracefully"},
			check: func(t *testing.T, sims []*siminst.Instance) {
				// One after the other, the host agents would have
				// exited at least a ShutdownDelay apart.
				a, b := exitOf(t, sims[0]), exitOf(t, sims[1])
				assert.Less(t, a.Time.Sub(b.Time).Abs(), time.Second)
			},
		},
		{
			name:   "one known, one unknown",
			sims:   []siminst.Options{{Name: "sim"}},
			args:   []string{"sim", "nosuch"},
			code:   exitFailed,
			stdout: []string{"sim: stopped gracefully"},
			stderr: []string{"nosuch: no such instance"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if len(tt.sims) > 0 {
				requireStore(t)
			}
			home := testutil.TempDir(t, "lima")
			var sims []*siminst.Instance
			for _, opts := range tt.sims {
				sims = append(sims, startSim(t, home, opts))
			}
			if tt.setup != nil {
				tt.setup(t, home, sims)
			}
			if tt.before != nil {
				code, _, _ := limastop(t, home, tt.before...)
				require.Equal(t, exitStopped, code)
			}
			code, stdout, stderr := limastop(t, home, tt.args...)
			assert.Equal(t, tt.code, code)
			for _, s := range tt.stdout {
				assert.Contains(t, stdout, s)
			}
			for _, s := range tt.stderr {
				assert.Contains(t, stderr, s)
			}
			if tt.check != nil {
				tt.check(t, sims)
			}
		})
	}
}
