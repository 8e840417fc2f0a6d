// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/limastop/stop/process"
)

// The test binary doubles as the processes the tests act on, selected by
// this environment variable, as os/exec's tests do.
const childEnv = "PROCESS_TEST_CHILD"

const (
	exitStdinClosed = 0
	exitInterrupted = 3
	exitLifetime    = 4
)

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		goleak.VerifyTestMain(m)
	case "wait":
		runWaiter()
	case "spawn":
		runSpawner()
	case "exit":
		os.Exit(0)
	case "spawncheck":
		runCheckSpawner()
	case "check":
		runChecker()
	case "parent":
		runParent()
	case "threadparent":
		runThreadParent()
	case "consolehost":
		runConsoleHostChild()
	default:
		fmt.Fprintf(os.Stderr, "unknown child mode %q\n", os.Getenv(childEnv))
		os.Exit(2)
	}
}

// holdEnv, if set, makes a waiter hold that many MiB of memory, written to
// so that it is resident, before it is ready.
const holdEnv = "PROCESS_TEST_HOLD_MIB"

// runWaiter prints "ready", then exits when its stdin closes, when it is
// interrupted, or after a minute so that a failing test cannot hang. Just
// before exiting it prints "exit <unix nanoseconds>".
func runWaiter() {
	var held []byte
	if mib, err := strconv.Atoi(os.Getenv(holdEnv)); err == nil && mib > 0 {
		held = make([]byte, mib<<20)
		for i := 0; i < len(held); i += os.Getpagesize() {
			held[i] = 1
		}
	}
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt)
	stopEvent := make(chan struct{})
	watchStopEvent(stopEvent)
	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	fmt.Println("ready")
	code := exitLifetime
	select {
	case <-stdinClosed:
		code = exitStdinClosed
	case <-interrupted:
		code = exitInterrupted
	case <-stopEvent:
		code = exitInterrupted
	case <-time.After(time.Minute):
	}
	runtime.KeepAlive(held)
	fmt.Printf("exit %d\n", time.Now().UnixNano())
	os.Exit(code)
}

// runSpawner starts a waiter that inherits its stdio, prints the waiter's
// PID and exits, leaving a process that is not the test's child.
func runSpawner() {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=wait")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Printf("pid %d\n", cmd.Process.Pid)
	os.Exit(0)
}

// runParent starts a waiter that shares its stdio, prints "child <PID>",
// and then waits itself: a process with a child.
func runParent() {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=wait")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Printf("child %d\n", cmd.Process.Pid)
	go func() { _ = cmd.Wait() }() // reap it, as a host agent does
	runWaiter()
}

// checkPIDsEnv lists, separated by blanks, the PIDs that a "check" child
// passes to process.CheckPID besides its own and its parent's.
const checkPIDsEnv = "PROCESS_TEST_CHECK_PIDS"

// runCheckSpawner runs a "check" child on its own stdout, so that the test
// process becomes that child's grandparent, and exits with its exit code.
func runCheckSpawner() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=check")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Exit(0)
}

// runChecker prints a line "<pid> refused", "<pid> accepted" or
// "<pid> error: <text>" for its own PID, its parent's and those of
// checkPIDsEnv, as process.CheckPID decides.
func runChecker() {
	pids := []int{os.Getpid(), os.Getppid()}
	for _, f := range strings.Fields(os.Getenv(checkPIDsEnv)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		pids = append(pids, pid)
	}
	for _, pid := range pids {
		verdict := "accepted"
		if err := process.CheckPID(pid); errors.Is(err, process.ErrUnsafePID) {
			verdict = "refused"
		} else if err != nil {
			verdict = "error: " + err.Error()
		}
		fmt.Printf("%d %s\n", pid, verdict)
	}
	os.Exit(0)
}

// child is a waiter process started by a test.
type child struct {
	pid   int
	cmd   *exec.Cmd // nil when the waiter is not the test's child
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startChild starts a waiter as a child of the test and waits until it is
// ready.
func startChild(t testing.TB, env ...string) *child {
	t.Helper()
	return startChildWith(t, nil, env...)
}

// startChildWith is startChild with arguments, which the waiter ignores.
func startChildWith(t testing.TB, args []string, env ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], args...)}
	c.cmd.Env = append(os.Environ(), append(env, childEnv+"=wait")...)
	c.start(t)
	c.pid = c.cmd.Process.Pid
	c.expect(t, "ready")
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
		_ = c.stdin.Close()
	})
	return c
}

// startNonChild starts a waiter through an intermediate process that exits
// at once, so the waiter is not the test's child.
func startNonChild(t testing.TB) *child {
	t.Helper()
	spawner := &child{cmd: exec.Command(os.Args[0])}
	spawner.cmd.Env = append(os.Environ(), childEnv+"=spawn")
	spawner.start(t)
	line := spawner.expect(t, "pid ")
	pid, err := strconv.Atoi(strings.TrimPrefix(line, "pid "))
	require.NoError(t, err)
	require.NoError(t, spawner.cmd.Wait())
	spawner.expect(t, "ready")
	c := &child{pid: pid, stdin: spawner.stdin, out: spawner.out}
	t.Cleanup(func() {
		if p, err := os.FindProcess(pid); err == nil {
			_ = p.Kill()
		}
		_ = c.stdin.Close()
	})
	return c
}

func (c *child) start(t testing.TB) {
	t.Helper()
	// Plain pipes rather than StdinPipe and StdoutPipe, which Cmd.Wait
	// closes: a spawner's pipes live on in the waiter it leaves behind.
	stdinR, stdinW, err := os.Pipe()
	require.NoError(t, err)
	stdoutR, stdoutW, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { _ = stdoutR.Close() })
	c.cmd.Stdin, c.cmd.Stdout, c.cmd.Stderr = stdinR, stdoutW, os.Stderr
	err = c.cmd.Start()
	_ = stdinR.Close()
	_ = stdoutW.Close()
	require.NoError(t, err)
	c.stdin, c.out = stdinW, bufio.NewReader(stdoutR)
}

// expect reads the child's next line and checks its prefix.
func (c *child) expect(t testing.TB, prefix string) string {
	t.Helper()
	line, err := c.out.ReadString('\n')
	require.NoError(t, err)
	line = strings.TrimSpace(line)
	require.True(t, strings.HasPrefix(line, prefix), "child printed %q, want %q...", line, prefix)
	return line
}

// exitTime reads the exit time the waiter printed just before it exited.
func (c *child) exitTime(t testing.TB) time.Time {
	t.Helper()
	ns, err := strconv.ParseInt(strings.TrimPrefix(c.expect(t, "exit "), "exit "), 10, 64)
	require.NoError(t, err)
	return time.Unix(0, ns)
}

// exitCode waits for the test's child and returns its exit code, -1 if a
// signal killed it.
func (c *child) exitCode(t testing.TB) int {
	t.Helper()
	err := c.cmd.Wait()
	if err != nil {
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
	}
	return c.cmd.ProcessState.ExitCode()
}
