//go:build linux || darwin

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/process"
)

// TestKillGroup: a process leading its own group is killed with the whole
// group; one that does not lead its group gets no signal at all.
func TestKillGroup(t *testing.T) {
	t.Run("leader", func(t *testing.T) {
		cmd := exec.Command(os.Args[0])
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		parent, childPID := startParent(t, cmd)
		p, c := find(t, parent.pid), find(t, childPID)
		require.NoError(t, p.(process.GroupKiller).KillGroup())
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		require.NoError(t, c.Wait(ctx), "the group member survived")
		require.NoError(t, p.Wait(ctx))
	})
	t.Run("not a leader", func(t *testing.T) {
		parent, childPID := startParent(t, exec.Command(os.Args[0]))
		p, c := find(t, parent.pid), find(t, childPID)
		err := p.(process.GroupKiller).KillGroup()
		require.ErrorIs(t, err, process.ErrNotGroupLeader)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		assert.ErrorIs(t, c.Wait(ctx), context.DeadlineExceeded, "a member of the test's group was signalled")
		assert.ErrorIs(t, p.Wait(ctx), context.DeadlineExceeded)
	})
}
