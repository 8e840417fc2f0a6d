// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/internal/siminst"
	"github.com/limastop/stop/internal/testutil"
	"github.com/limastop/stop/process"
)

// metaName is a directory name made of the glob metacharacters that
// Windows allows in file names: not * or ?.
const metaName = "a[b]c"

// socketBestEffort: where AF_UNIX sockets are missing (Wine), the host
// agent runs without its API socket.
const socketBestEffort = true

// symlinkBestEffort: symlinks need a privilege on Windows, and Wine
// pretends to create them.
const symlinkBestEffort = true

// processGroup reports that Windows has no process groups to compare: a
// console process group is not a property that can be read back.
func processGroup(*testing.T, int) (int, bool) { return 0, false }

// TestStopEventPrefix checks that a host agent whose stop event has a
// custom name is interrupted by a table that names it alike, and by no
// other.
func TestStopEventPrefix(t *testing.T) {
	t.Parallel()
	const prefix = `Local\rdd-test-interrupt-hostagent-sim-`
	inst := start(t, siminst.Options{StopEventPrefix: prefix})

	ha := find(t, inst.HostAgentPID())
	require.ErrorIs(t, ha.Interrupt(), process.ErrInterruptUnavailable)
	requireAlive(t, ha, 100*time.Millisecond)

	table := process.SystemTable{EventName: func(pid int) string { return prefix + strconv.Itoa(pid) }}
	ha, err := table.Find(inst.HostAgentPID())
	require.NoError(t, err)
	defer ha.Release()
	require.NoError(t, ha.Interrupt())
	exit := waitHostAgent(t, inst)
	assert.False(t, exit.Killed, "exit %+v", exit)
	assert.Equal(t, siminst.ReasonInterrupted, recordsByRole(t, inst)[siminst.RoleHostAgent].Reason)
}

// TestLightHelpersRefused: Windows has no shell or sleep to make light
// helpers of.
func TestLightHelpersRefused(t *testing.T) {
	t.Parallel()
	_, err := siminst.Start(t.Context(), siminst.Options{LimaHome: testutil.TempDir(t, "siminst"), Descendants: 1, LightHelpers: true})
	require.ErrorContains(t, err, "none on Windows")
}
