// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/windows"

	"github.com/limastop/stop/internal/testutil"
	"github.com/limastop/stop/process"
)

func TestInterruptStopEvent(t *testing.T) {
	c := startChild(t, stopEventEnv)
	p := find(t, c.pid)
	require.NoError(t, p.Interrupt())
	assert.Equal(t, exitInterrupted, c.exitCode(t))
}

// TestInterruptEventName covers stop events by other names than the
// default: the stopper's table must name the event as the target did, and a
// table that names no event leaves the target alone even if it opted in.
func TestInterruptEventName(t *testing.T) {
	const prefix = `Local\rdd-test-interrupt-hostagent-sim-`
	custom := func(pid int) string { return prefix + strconv.Itoa(pid) }
	for _, tc := range []struct {
		name            string
		event           string // the waiter's stopEventVar
		table           process.SystemTable
		wantInterrupted bool
		wantInErr       func(pid int) string // a part of the error
	}{
		{name: "custom", event: prefix, table: process.SystemTable{EventName: custom}, wantInterrupted: true},
		{name: "custom, table default", event: prefix, wantInErr: process.InterruptEventName},
		{name: "default, table custom", event: "1", table: process.SystemTable{EventName: custom}, wantInErr: custom},
		{name: "table names none", event: "1", table: process.SystemTable{EventName: func(int) string { return "" }},
			wantInErr: func(int) string { return "no stop event" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startChild(t, stopEventVar+"="+tc.event)
			p, err := tc.table.Find(c.pid)
			require.NoError(t, err)
			defer p.Release()

			err = p.Interrupt()
			if tc.wantInterrupted {
				require.NoError(t, err)
				assert.Equal(t, exitInterrupted, c.exitCode(t))
				return
			}
			require.ErrorIs(t, err, process.ErrInterruptUnavailable)
			assert.Contains(t, err.Error(), tc.wantInErr(c.pid))
			t.Log(err)
			require.NoError(t, c.stdin.Close())
			assert.Equal(t, exitStdinClosed, c.exitCode(t), "the target was signalled")
		})
	}
}

// TestInterruptWithoutStopEvent covers a target that did not opt into the
// stop event. By default nothing is signalled. With ConsoleBreak, the
// target's own process group gets CTRL_BREAK if it shares the caller's
// console; without a console (a service, or the tests under Wine) no
// interrupt can be delivered.
func TestInterruptWithoutStopEvent(t *testing.T) {
	for _, tc := range []struct {
		name        string
		table       process.SystemTable
		wantCtrlBrk bool
	}{
		{name: "default", table: process.SystemTable{}},
		{name: "console break", table: process.SystemTable{ConsoleBreak: true}, wantCtrlBrk: hasConsole()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &child{cmd: exec.Command(os.Args[0])}
			c.cmd.Env = append(c.cmd.Environ(), childEnv+"=wait")
			c.cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
			c.start(t)
			c.pid = c.cmd.Process.Pid
			c.expect(t, "ready")
			t.Cleanup(func() { _ = c.cmd.Process.Kill() })
			p, err := tc.table.Find(c.pid)
			require.NoError(t, err)
			defer p.Release()

			err = p.Interrupt()
			if tc.wantCtrlBrk {
				require.NoError(t, err)
				assert.Equal(t, exitInterrupted, c.exitCode(t))
				return
			}
			require.ErrorIs(t, err, process.ErrInterruptUnavailable)
			t.Log(err)
			require.NoError(t, c.stdin.Close())
			assert.Equal(t, exitStdinClosed, c.exitCode(t), "the target was signalled")
		})
	}
}

// TestLowPIDBits checks that a PID that is not a multiple of 4 does not
// reach the process whose PID differs only in the low two bits, which
// OpenProcess would open.
func TestLowPIDBits(t *testing.T) {
	c := startChild(t)
	require.Zero(t, c.pid%4, "Windows PIDs are multiples of 4")
	for _, pid := range []int{c.pid + 1, c.pid + 2, c.pid + 3} {
		_, err := process.System().Find(pid)
		assert.ErrorIs(t, err, process.ErrNotFound, "Find(%d)", pid)
	}
}

// TestExitedWithOpenHandle checks that a process that has exited, but whose
// process object lives on because a handle is open, counts as gone.
func TestExitedWithOpenHandle(t *testing.T) {
	c := startChild(t)
	p := find(t, c.pid)
	require.NoError(t, c.stdin.Close())
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.NoError(t, p.Wait(ctx))

	// p's handle keeps the process object and its PID alive.
	_, err := process.System().Find(c.pid)
	assert.ErrorIs(t, err, process.ErrNotFound)
	assert.ErrorIs(t, p.Kill(), process.ErrNotFound)
	assert.ErrorIs(t, p.Interrupt(), process.ErrNotFound)
}

func hasConsole() bool {
	var pids [8]uint32
	r, _, _ := windows.NewLazySystemDLL("kernel32.dll").NewProc("GetConsoleProcessList").
		Call(uintptr(unsafe.Pointer(&pids[0])), uintptr(len(pids)))
	return r != 0
}

// windowsArgs are arguments that Windows command-line quoting must carry
// through unchanged; the portable tests cover the rest.
var windowsArgs = []string{
	`"quoted"`,
	`a "quote" inside`,
	`--pidfile=C:\a b\ha.pid`,
	`C:\dir with space\`,
	`back\\"slash`,
	"",
}

func TestCommandLineQuoting(t *testing.T) {
	c := startChildWith(t, windowsArgs)
	p := find(t, c.pid)
	got, err := p.CommandLine()
	require.NoError(t, err)
	assert.Equal(t, c.cmd.Args, got)

	// The pinned handle keeps the exited process's object, and its memory
	// may still be readable: it must count as gone all the same.
	killAndWait(t, p)
	_, err = p.CommandLine()
	assert.ErrorIs(t, err, process.ErrNotFound)
}

// TestReadPIDFileWindows covers what the portable TestReadPIDFile does not:
// a missing directory (ERROR_PATH_NOT_FOUND rather than
// ERROR_FILE_NOT_FOUND) and a symbolic link, which must not be followed.
func TestReadPIDFileWindows(t *testing.T) {
	dir := testutil.TempDir(t, "pidfile[x]")
	_, _, err := process.ReadPIDFile(filepath.Join(dir, "nodir", "ha.pid"))
	assert.ErrorIs(t, err, fs.ErrNotExist)

	t.Run("symlink", func(t *testing.T) {
		target := filepath.Join(dir, "ha.pid")
		require.NoError(t, os.WriteFile(target, []byte("4242\n"), 0o644))
		link := filepath.Join(dir, "link.pid")
		// A symbolic link needs a privilege or developer mode on Windows,
		// and Wine 8 makes one that does not read back.
		if err := os.Symlink(target, link); err != nil {
			t.Skipf("cannot create a symbolic link: %v", err)
		}
		if _, err := os.Readlink(link); err != nil {
			t.Skipf("the symbolic link does not read back: %v", err)
		}
		_, _, err := process.ReadPIDFile(link)
		assert.ErrorIs(t, err, process.ErrBadPIDFile)
	})
}
