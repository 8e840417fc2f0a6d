// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/windows"

	"github.com/limastop/stop/internal/testutil"
	"github.com/limastop/stop/process"
)

// The CTRL_BREAK path of Interrupt needs a console, which the test process
// lacks under Wine (and may lack elsewhere, as a service does). So the
// checks run in a child of the test, the console host, started with a new
// console of its own or with none, and report what they saw in a file.
// The host interrupts waiters that it starts on its own console, on none
// (DETACHED_PROCESS) and on another console (CREATE_NEW_CONSOLE), each
// leading its own process group as Lima's host agent does.

// consoleOutEnv names the file the console host writes its reports to.
const consoleOutEnv = "PROCESS_TEST_CONSOLE_OUT"

// consoleReport is what the console host saw for one waiter.
type consoleReport struct {
	Waiter      string // "own console", "no console", "other console"
	HostConsole bool   // the host had a console
	Err         string // Interrupt's error, "" for none
	Unavailable bool   // the error wraps process.ErrInterruptUnavailable
	Exit        int    // the waiter's exit code
}

// The waiters the console host starts, by their creation flags.
var consoleWaiters = []struct {
	name  string
	flags uint32
}{
	{"own console", windows.CREATE_NEW_PROCESS_GROUP},
	{"no console", windows.CREATE_NEW_PROCESS_GROUP | windows.DETACHED_PROCESS},
	{"other console", windows.CREATE_NEW_PROCESS_GROUP | windows.CREATE_NEW_CONSOLE},
}

// TestConsoleBreakGuards runs the guards around CTRL_BREAK for real: a
// waiter is sent CTRL_BREAK only if it shares the caller's console, and a
// caller without a console says so. Where the guards let CTRL_BREAK
// through, Windows delivers it; Wine 8 refuses it, which the test accepts
// as long as it was GenerateConsoleCtrlEvent, not a guard, that refused.
func TestConsoleBreakGuards(t *testing.T) {
	for _, host := range []struct {
		name  string
		flags uint32
	}{
		{"host with a console", windows.CREATE_NEW_CONSOLE},
		{"host without a console", windows.DETACHED_PROCESS},
	} {
		t.Run(host.name, func(t *testing.T) {
			reports := runConsoleHost(t, host.flags)
			require.Len(t, reports, len(consoleWaiters), "%+v", reports)
			for _, r := range reports {
				t.Logf("%+v", r)
				signalled := r.Err == ""
				switch {
				case !r.HostConsole:
					assert.True(t, r.Unavailable, "%s: %+v", r.Waiter, r)
					assert.Contains(t, r.Err, "no console", r.Waiter)
				case r.Waiter == "own console":
					// The guards let it through.
					assert.False(t, r.Unavailable, "%+v", r)
					if !signalled {
						assert.Contains(t, r.Err, "CTRL_BREAK", "%+v", r)
					}
				default:
					assert.True(t, r.Unavailable, "%s: %+v", r.Waiter, r)
					assert.Contains(t, r.Err, "share", r.Waiter)
				}
				if signalled {
					assert.Equal(t, exitInterrupted, r.Exit, "%s: delivered, yet the waiter was not interrupted", r.Waiter)
				} else {
					assert.Equal(t, exitStdinClosed, r.Exit, "%s: refused, yet the waiter was signalled", r.Waiter)
				}
			}
		})
	}
}

// runConsoleHost runs the console host with the given creation flags and
// returns its reports.
func runConsoleHost(t *testing.T, flags uint32) []consoleReport {
	t.Helper()
	out := filepath.Join(testutil.TempDir(t, "console"), "reports.jsonl")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=consolehost", consoleOutEnv+"="+out)
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: flags, HideWindow: true}
	cmd.WaitDelay = time.Second
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "console host: %s", b)
	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	var reports []consoleReport
	s := bufio.NewScanner(f)
	for s.Scan() {
		var r consoleReport
		require.NoError(t, json.Unmarshal(s.Bytes(), &r))
		reports = append(reports, r)
	}
	require.NoError(t, s.Err())
	return reports
}

// runConsoleHostChild is the console host: it interrupts each kind of waiter
// through SystemTable{ConsoleBreak: true} and reports the outcome. Every
// waiter ends: interrupted, or by its stdin closing, or by its own timer.
func runConsoleHostChild() {
	f, err := os.Create(os.Getenv(consoleOutEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer f.Close()
	enc := json.NewEncoder(f)
	for _, w := range consoleWaiters {
		r, err := interruptWaiter(w.flags)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", w.name, err)
			os.Exit(2)
		}
		r.Waiter = w.name
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	os.Exit(0)
}

// interruptWaiter starts a waiter with the given creation flags, interrupts
// it with CTRL_BREAK allowed and reports how it ended.
func interruptWaiter(flags uint32) (consoleReport, error) {
	var r consoleReport
	r.HostConsole = hasConsole()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: flags, HideWindow: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return r, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return r, err
	}
	if err := cmd.Start(); err != nil {
		return r, err
	}
	defer func() { _ = cmd.Process.Kill() }()
	out := bufio.NewReader(stdout)
	if line, err := out.ReadString('\n'); err != nil || strings.TrimSpace(line) != "ready" {
		return r, fmt.Errorf("waiter printed %q: %v", line, err)
	}
	p, err := process.SystemTable{ConsoleBreak: true}.Find(cmd.Process.Pid)
	if err != nil {
		return r, err
	}
	defer p.Release()
	if err := p.Interrupt(); err != nil {
		r.Err, r.Unavailable = err.Error(), errors.Is(err, process.ErrInterruptUnavailable)
		// Give a signal that was sent regardless the time to arrive
		// before the waiter is told to exit by itself.
		time.Sleep(200 * time.Millisecond)
		_ = stdin.Close()
	}
	_, _ = out.ReadString('\n') // "exit ..."
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		return r, errors.New("the waiter did not exit")
	}
	r.Exit = cmd.ProcessState.ExitCode()
	return r, nil
}
