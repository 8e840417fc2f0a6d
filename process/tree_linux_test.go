// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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

	require.NoError(t, p.Kill())
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.NoError(t, p.Wait(ctx))
	_, err = v.IsChild(c)
	assert.ErrorIs(t, err, process.ErrNotFound)
}
