// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/process"
)

// startParent starts a "parent" child, which starts a waiter of its own,
// and returns both, once both are ready.
func startParent(t *testing.T, cmd *exec.Cmd) (parent *child, childPID int) {
	t.Helper()
	return startParentAs(t, cmd, "parent")
}

// startParentAs is startParent for the child mode given, "parent" or one
// that prints the same lines.
func startParentAs(t *testing.T, cmd *exec.Cmd, mode string) (parent *child, childPID int) {
	t.Helper()
	c := &child{cmd: cmd}
	c.cmd.Env = append(os.Environ(), childEnv+"="+mode)
	c.start(t)
	c.pid = c.cmd.Process.Pid
	var ready int
	for ready < 2 || childPID == 0 {
		line, err := c.out.ReadString('\n')
		require.NoError(t, err)
		switch line = strings.TrimSpace(line); {
		case line == "ready":
			ready++
		case strings.HasPrefix(line, "child "):
			childPID, err = strconv.Atoi(strings.TrimPrefix(line, "child "))
			require.NoError(t, err)
		default:
			t.Fatalf("unexpected line %q", line)
		}
	}
	t.Cleanup(func() {
		if p, err := os.FindProcess(childPID); err == nil {
			_ = p.Kill()
		}
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
		_ = c.stdin.Close()
	})
	return c, childPID
}

func TestChildren(t *testing.T) {
	parent, childPID := startParent(t, exec.Command(os.Args[0]))
	p := find(t, parent.pid)
	pp, ok := p.(process.Parent)
	require.True(t, ok, "%T does not list children", p)
	kids, err := pp.Children()
	require.NoError(t, err)
	assert.Equal(t, []int{childPID}, kids)

	c := find(t, childPID)
	killAndWait(t, c)
	// Once the parent has reaped it, the child is no longer listed.
	require.Eventually(t, func() bool {
		kids, err := pp.Children()
		return err == nil && !slices.Contains(kids, childPID)
	}, waitTimeout, 10*time.Millisecond)

	killAndWait(t, p)
	_, err = pp.Children()
	assert.ErrorIs(t, err, process.ErrNotFound)
}

// TestWaitEndedContextSeesExit: Wait with a context that has already ended
// still reports a process that has exited.
func TestWaitEndedContextSeesExit(t *testing.T) {
	c := startChild(t)
	p := find(t, c.pid)
	killAndWait(t, p)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	// The context's end reaches Wait through another goroutine, so a
	// regression shows only now and then: ask many times.
	for range 20000 {
		require.NoError(t, p.Wait(ended))
	}
}
