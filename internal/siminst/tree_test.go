// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst_test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/internal/siminst"
	"github.com/limastop/stop/process"
)

// The tests in this file check the processes that the host agent starts
// besides its driver: a chain of helpers (Options.Descendants) and an
// external driver server (Options.ExternalDriver).

// requireChild checks that child is listed as a child of the pinned parent.
func requireChild(t *testing.T, parent process.Process, child int) {
	t.Helper()
	pp, ok := parent.(process.Parent)
	require.True(t, ok, "%T lists no children", parent)
	kids, err := pp.Children()
	require.NoError(t, err)
	require.Contains(t, kids, child, "pid %d is not a child of pid %d", child, parent.PID())
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	inst := start(t, siminst.Options{Descendants: 3})
	helpers := inst.HelperPIDs()
	require.Len(t, helpers, 3)
	others := []int{inst.HostAgentPID(), inst.DriverPID()}
	for i, pid := range helpers {
		assert.NotContains(t, others, pid)
		others = append(others, pid)
		requireAlive(t, find(t, pid), 100*time.Millisecond)
		parent := inst.HostAgentPID()
		if i > 0 {
			parent = helpers[i-1]
		}
		requireChild(t, find(t, parent), pid)
		// Like ssh started by Lima's host agent, and unlike the driver.
		if pgid, ok := processGroup(t, pid); ok {
			assert.Equal(t, inst.HostAgentPID(), pgid, "process group of helper %d", i+1)
		}
		if args, ok := processArgs(t, pid); ok {
			assert.Equal(t, []string{"helper"}, args)
		}
	}
	if pgid, ok := processGroup(t, inst.DriverPID()); ok {
		assert.Equal(t, inst.DriverPID(), pgid, "process group of the driver")
	}
	helpers[0] = 0
	assert.NotEqual(t, helpers, inst.HelperPIDs(), "HelperPIDs returned its own slice")
}

// TestHelpersOutliveKilledHostAgent: like ssh, the helpers run on when the
// host agent is killed, and only Close ends them.
func TestHelpersOutliveKilledHostAgent(t *testing.T) {
	t.Parallel()
	inst := start(t, siminst.Options{Descendants: 2})
	helpers := pinHelpers(t, inst)
	require.NoError(t, inst.KillHostAgent())
	assert.True(t, waitHostAgent(t, inst).Killed)
	for _, h := range helpers {
		requireAlive(t, h, 300*time.Millisecond)
	}
	assert.Empty(t, helperRecords(t, inst))

	require.NoError(t, inst.Close())
	for _, h := range helpers {
		waitExit(t, h)
	}
	assert.Empty(t, helperRecords(t, inst), "a killed helper recorded its end")
}

// TestHelpersInterrupt: a host agent that shuts down stops its helpers, and
// each helper stops the one below it before it exits.
func TestHelpersInterrupt(t *testing.T) {
	t.Parallel()
	inst := start(t, siminst.Options{Descendants: 2, ExternalDriver: "krunkit"})
	helpers := pinHelpers(t, inst)
	require.NoError(t, find(t, inst.HostAgentPID()).Interrupt())
	assert.False(t, waitHostAgent(t, inst).Killed)
	for _, h := range helpers {
		waitExit(t, h)
	}

	recs := helperRecords(t, inst)
	require.Len(t, recs, 2)
	outer, inner := recs[inst.HelperPIDs()[0]], recs[inst.HelperPIDs()[1]]
	for _, r := range []siminst.Record{outer, inner} {
		assert.Equal(t, siminst.ReasonStdinClosed, r.Reason)
		assert.Equal(t, []string{"helper"}, r.Args)
	}
	assert.False(t, outer.Time.Before(inner.Time), "a helper exited before the one below it")
	ha := recordsByRole(t, inst)[siminst.RoleHostAgent]
	assert.Equal(t, siminst.ReasonInterrupted, ha.Reason)
	assert.False(t, ha.Time.Before(outer.Time), "the host agent exited before its helpers")
}

func TestExternalDriver(t *testing.T) {
	t.Parallel()
	inst := start(t, siminst.Options{ExternalDriver: "krunkit"})
	pid := inst.ExternalDriverPID()
	require.NotZero(t, pid)
	assert.NotContains(t, []int{inst.HostAgentPID(), inst.DriverPID()}, pid)
	pidFile := filepath.Join(inst.Dir(), "krunkit.drv.pid")
	assert.Equal(t, pidFile, inst.ExternalDriverPIDFile())
	b, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(pid), string(b), "as Lima master writes it: no trailing newline")
	sock := filepath.Join(inst.Dir(), "krunkit.drv.sock")
	assert.FileExists(t, sock)

	server := find(t, pid)
	requireChild(t, find(t, inst.HostAgentPID()), pid)
	// Read as a stop policy reads it, on every OS.
	args, err := server.CommandLine()
	require.NoError(t, err)
	require.NotEmpty(t, args)
	assert.Equal(t, []string{"--inst-dir", inst.Dir()}, args[1:])
	if pgid, ok := processGroup(t, pid); ok {
		assert.Equal(t, pid, pgid, "the server leads a process group of its own")
	}

	require.NoError(t, find(t, inst.HostAgentPID()).Interrupt())
	waitHostAgent(t, inst)
	waitExit(t, server)
	requireNoFile(t, pidFile)
	requireNoFile(t, sock)
	rec := recordsByRole(t, inst)[siminst.RoleExternalDriver]
	assert.Equal(t, siminst.ReasonStdinClosed, rec.Reason)
	assert.Equal(t, []string{"--inst-dir", inst.Dir()}, rec.Args)
}

// TestExternalDriverOutlivesKilledHostAgent: like the driver, the server
// runs on when the host agent is killed, and its files stay.
func TestExternalDriverOutlivesKilledHostAgent(t *testing.T) {
	t.Parallel()
	inst := start(t, siminst.Options{ExternalDriver: "krunkit", VMType: "vz"})
	assert.Empty(t, inst.HelperPIDs())
	server := find(t, inst.ExternalDriverPID())
	require.NoError(t, inst.KillHostAgent())
	waitHostAgent(t, inst)
	requireAlive(t, server, 300*time.Millisecond)
	assert.FileExists(t, inst.ExternalDriverPIDFile())
	require.NoError(t, inst.Close())
	waitExit(t, server)
	assert.Empty(t, recordsByRole(t, inst))
}

// TestTreeLifetime: every process of the tree ends at its lifetime, and
// says so.
func TestTreeLifetime(t *testing.T) {
	t.Parallel()
	inst := start(t, siminst.Options{Lifetime: 500 * time.Millisecond, Descendants: 2, ExternalDriver: "krunkit"})
	pids := append([]int{inst.DriverPID(), inst.ExternalDriverPID()}, inst.HelperPIDs()...)
	var procs []process.Process
	for _, pid := range pids {
		procs = append(procs, find(t, pid))
	}
	waitHostAgent(t, inst)
	for _, p := range procs {
		waitExit(t, p)
	}
	recs, err := inst.Records()
	require.NoError(t, err)
	require.Len(t, recs, 5)
	for _, r := range recs {
		assert.Equal(t, siminst.ReasonLifetime, r.Reason, "%s %d", r.Role, r.PID)
		assert.True(t, r.PID == inst.HostAgentPID() || slices.Contains(pids, r.PID), "%s %d", r.Role, r.PID)
	}
}
