// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/limastop/stop/process"
	"github.com/limastop/stop/process/processtest"
)

// TestIsChild: a process pinned after its parent is confirmed as its
// child; one pinned before the parent, one that is not its child, and one
// of another table are not; a parent that has exited confirms nothing.
func TestIsChild(t *testing.T) {
	parent, childPID := startParent(t, exec.Command(os.Args[0]))
	early := find(t, childPID) // pinned before the parent
	p := find(t, parent.pid)
	v, ok := p.(process.ChildVerifier)
	require.True(t, ok, "%T does not verify children", p)

	c := find(t, childPID)
	is, err := v.IsChild(c)
	require.NoError(t, err)
	assert.True(t, is, "the parent's child, pinned after it")

	is, err = v.IsChild(early)
	require.NoError(t, err)
	assert.False(t, is, "pinned before the parent: its parent PID may have named an earlier holder")

	stranger := find(t, startChild(t).pid)
	is, err = v.IsChild(stranger)
	require.NoError(t, err)
	assert.False(t, is, "the test's child, not the parent's")

	var table processtest.Table
	table.Add(childPID, processtest.Behavior{Parent: parent.pid})
	fake, err := table.Find(childPID)
	require.NoError(t, err)
	is, err = v.IsChild(fake)
	require.NoError(t, err)
	assert.False(t, is, "a process of another table")

	killAndWait(t, p)
	_, err = v.IsChild(c)
	assert.ErrorIs(t, err, process.ErrNotFound)
}

// TestChildrenOfOtherThreads: a child forked by a thread other than the
// main one is listed by that thread alone, and Children still finds it.
func TestChildrenOfOtherThreads(t *testing.T) {
	parent, childPID := startParentAs(t, exec.Command(os.Args[0]), "threadparent")
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", parent.pid, parent.pid))
	require.NoError(t, err)
	require.NotContains(t, strings.Fields(string(b)), strconv.Itoa(childPID), "the main thread forked the child")

	p := find(t, parent.pid)
	kids, err := p.(process.Parent).Children()
	require.NoError(t, err)
	assert.Equal(t, []int{childPID}, kids)
}

// TestChildrenSingleThreaded: the children of a process with one thread,
// a shell here, are listed.
func TestChildrenSingleThreaded(t *testing.T) {
	sh := exec.Command("/bin/sh", "-c", "sleep 60 & echo $!; wait")
	out, err := sh.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, sh.Start())
	t.Cleanup(func() {
		_ = sh.Process.Kill()
		_ = sh.Wait()
	})
	var sleepPID int
	_, err = fmt.Fscan(out, &sleepPID)
	require.NoError(t, err)
	t.Cleanup(func() { _ = unix.Kill(sleepPID, unix.SIGKILL) })

	p := find(t, sh.Process.Pid)
	kids, err := p.(process.Parent).Children()
	require.NoError(t, err)
	assert.Equal(t, []int{sleepPID}, kids)

	killAndWait(t, p)
	_, err = p.(process.Parent).Children()
	assert.ErrorIs(t, err, process.ErrNotFound)
}

// TestChildrenHeldUntilRelease: Children keeps the children file of every
// thread open until the process is released, so that the kernel frees
// those /proc entries at the close rather than as the threads exit; Release
// closes them all.
func TestChildrenHeldUntilRelease(t *testing.T) {
	c := startChild(t)
	p := find(t, c.pid)
	threads, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", c.pid))
	require.NoError(t, err)
	require.Greater(t, len(threads), 1, "the waiter has several threads")
	_, err = p.(process.Parent).Children()
	require.NoError(t, err)
	held := openChildrenFiles(t, c.pid)
	for _, th := range threads {
		// The Go runtime may start a thread meanwhile, but ends none.
		assert.Contains(t, held, fmt.Sprintf("/proc/%d/task/%s/children", c.pid, th.Name()))
	}

	require.NoError(t, p.Release())
	assert.Empty(t, openChildrenFiles(t, c.pid))
}

// openChildrenFiles returns the paths of the children files of pid's
// threads that this process has open.
func openChildrenFiles(t *testing.T, pid int) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	var paths []string
	for _, fd := range fds {
		path, err := os.Readlink("/proc/self/fd/" + fd.Name())
		if err == nil && strings.HasPrefix(path, fmt.Sprintf("/proc/%d/task/", pid)) && strings.HasSuffix(path, "/children") {
			paths = append(paths, path)
		}
	}
	return paths
}
