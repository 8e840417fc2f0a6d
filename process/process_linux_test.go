// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/process"
)

// procStat returns the command name (field 2) and the parent PID (field 4)
// of /proc/PID/stat, parsed independently of the package.
func procStat(t *testing.T, pid int) (comm string, ppid int) {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	require.NoError(t, err)
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	require.True(t, open >= 0 && end > open, "%q", b)
	fields := strings.Fields(string(b[end+1:]))
	require.GreaterOrEqual(t, len(fields), 2, "%q", b)
	ppid, err = strconv.Atoi(fields[1])
	require.NoError(t, err)
	return string(b[open+1 : end]), ppid
}

// TestCheckPIDRefusesEveryAncestor walks the test's ancestors in /proc up to
// init and checks that CheckPID refuses each.
func TestCheckPIDRefusesEveryAncestor(t *testing.T) {
	var chain []int
	for _, pid := procStat(t, os.Getpid()); pid > 1; _, pid = procStat(t, pid) {
		chain = append(chain, pid)
	}
	t.Logf("ancestors: %v", chain)
	require.NotEmpty(t, chain, "go test runs the test binary as a child")
	for _, pid := range chain {
		assert.ErrorIs(t, process.CheckPID(pid), process.ErrUnsafePID, "ancestor %d", pid)
	}
}

// TestCommandLineZombie checks that a process that has exited but is not
// yet reaped, whose PID therefore still names it, reports ErrNotFound
// rather than an empty command line.
func TestCommandLineZombie(t *testing.T) {
	c := startChild(t)
	p := find(t, c.pid)
	killAndWait(t, p)
	state := procState(t, c.pid)
	require.Equal(t, "Z", state, "the child is not reaped yet")
	_, err := p.CommandLine()
	assert.ErrorIs(t, err, process.ErrNotFound)
	// An exited process that no one has reaped yet runs no more: Find
	// does not pin it.
	_, err = process.System().Find(c.pid)
	assert.ErrorIs(t, err, process.ErrNotFound)
}

// TestCommandLineKernelThread checks that a live process without a command
// line is an error, but not ErrNotFound.
func TestCommandLineKernelThread(t *testing.T) {
	if comm, _ := procStat(t, 2); comm != "kthreadd" {
		t.Skipf("pid 2 is %q, not kthreadd (a PID namespace?)", comm)
	}
	p, err := process.System().Find(2)
	if err != nil {
		t.Skipf("cannot pin kthreadd: %v", err)
	}
	defer p.Release()
	args, err := p.CommandLine()
	assert.Error(t, err)
	assert.NotErrorIs(t, err, process.ErrNotFound)
	assert.Nil(t, args)

	entries, err := process.SystemTable{}.List()
	require.NoError(t, err)
	for _, e := range entries {
		if e.PID == 2 {
			assert.Nil(t, e.CommandLine)
			return
		}
	}
	t.Error("kthreadd is not listed")
}

// procState returns field 3 of /proc/PID/stat.
func procState(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	require.NoError(t, err)
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	require.NotEmpty(t, fields)
	return fields[0]
}

// TestCommandLineAnyLength reads command lines on both sides of the sizes
// where the /proc reader grows its buffer, and one longer than a page.
func TestCommandLineAnyLength(t *testing.T) {
	base := len(os.Args[0]) + 1
	for _, size := range []int{511, 512, 513, 1024, 1025, 9000} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			arg := strings.Repeat("a", max(size-base-1, 1))
			c := startChildWith(t, []string{arg})
			p, err := process.System().Find(c.pid)
			require.NoError(t, err)
			defer p.Release()
			args, err := p.CommandLine()
			require.NoError(t, err)
			assert.Equal(t, []string{os.Args[0], arg}, args)
		})
	}
}
