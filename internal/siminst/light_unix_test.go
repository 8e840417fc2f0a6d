//go:build !windows

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

// TestLightHelpers: with Options.LightHelpers the chain is a shell and the
// sleep it started, in the host agent's process group, ancestry as with
// the Go helpers.
func TestLightHelpers(t *testing.T) {
	t.Parallel()
	inst := start(t, siminst.Options{Descendants: 2, LightHelpers: true, Lifetime: time.Minute})
	helpers := inst.HelperPIDs()
	require.Len(t, helpers, 2)
	requireChild(t, find(t, inst.HostAgentPID()), helpers[0])
	requireChild(t, find(t, helpers[0]), helpers[1])
	for i, pid := range helpers {
		requireAlive(t, find(t, pid), 100*time.Millisecond)
		pgid, _ := processGroup(t, pid)
		assert.Equal(t, inst.HostAgentPID(), pgid, "process group of helper %d", i+1)
	}
	if args, ok := processArgs(t, helpers[0]); ok {
		assert.Equal(t, "-c", args[0], "the shell's arguments")
	}
	if args, ok := processArgs(t, helpers[1]); ok {
		assert.Equal(t, []string{strconv.Itoa(60)}, args, "the sleep's arguments")
	}
}

// TestLightHelpersInterrupt: a host agent that shuts down stops its light
// helpers too, whether it has one or two; they record nothing.
func TestLightHelpersInterrupt(t *testing.T) {
	t.Parallel()
	eachLightChain(t, func(t *testing.T, n int, inst *siminst.Instance, helpers []process.Process) {
		require.Len(t, helpers, n)
		require.NoError(t, find(t, inst.HostAgentPID()).Interrupt())
		assert.False(t, waitHostAgent(t, inst).Killed)
		for _, h := range helpers {
			waitExit(t, h)
		}
		assert.Empty(t, helperRecords(t, inst))
	})
}

// TestLightHelpersOutliveKilledHostAgent: like the Go helpers, and like
// ssh, the light helpers run on when the host agent is killed, the shell
// whether or not it has a sleep below it, and Close ends them.
func TestLightHelpersOutliveKilledHostAgent(t *testing.T) {
	t.Parallel()
	eachLightChain(t, func(t *testing.T, _ int, inst *siminst.Instance, helpers []process.Process) {
		require.NoError(t, inst.KillHostAgent())
		assert.True(t, waitHostAgent(t, inst).Killed)
		for _, h := range helpers {
			requireAlive(t, h, 300*time.Millisecond)
		}
		require.NoError(t, inst.Close())
		for _, h := range helpers {
			waitExit(t, h)
		}
	})
}

// eachLightChain runs f in parallel subtests: on an instance whose host
// agent heads one light helper (the shell alone), and on one whose host
// agent heads two (the shell and its sleep), with n the chain's length and
// the helpers pinned.
func eachLightChain(t *testing.T, f func(t *testing.T, n int, inst *siminst.Instance, helpers []process.Process)) {
	t.Helper()
	for _, n := range []int{1, 2} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			t.Parallel()
			inst := start(t, siminst.Options{Descendants: n, LightHelpers: true})
			f(t, n, inst, pinHelpers(t, inst))
		})
	}
}

// TestLightHelpersBound: three light helpers are refused up front, by
// name, rather than started and then misread.
func TestLightHelpersBound(t *testing.T) {
	t.Parallel()
	_, err := siminst.Start(t.Context(), siminst.Options{LimaHome: testutil.TempDir(t, "siminst"), Descendants: 3, LightHelpers: true})
	require.ErrorContains(t, err, "Options.LightHelpers allows at most 2 helpers")
}
