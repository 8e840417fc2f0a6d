//go:build !windows

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package lima_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lima-vm/lima/pkg/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/internal/siminst"
	"github.com/limastop/stop/internal/testutil"
	"github.com/limastop/stop/process"
)

func TestMain(m *testing.M) {
	siminst.RunIfChild()
	os.Exit(m.Run())
}

// startSim starts a simulated instance in limaHome, which becomes
// LIMA_HOME for the test.
func startSim(t *testing.T, limaHome string, opts siminst.Options) *siminst.Instance {
	t.Helper()
	t.Setenv("LIMA_HOME", limaHome)
	opts.LimaHome = limaHome
	opts.Lifetime = time.Minute
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	inst, err := siminst.Start(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, inst.Close()) })
	return inst
}

// inspect runs Lima's store.Inspect on inst.
func inspect(t *testing.T, inst *siminst.Instance) *store.Instance {
	t.Helper()
	li, err := store.Inspect(inst.Name())
	require.NoError(t, err)
	assert.Equal(t, inst.Dir(), li.Dir)
	assert.Equal(t, inst.VMType(), li.VMType)
	return li
}

// TestStoreInspect checks that Lima's own store sees a simulated instance
// as Running while it runs and as Stopped after a graceful stop. This file
// is for Unix only: on Windows, Lima's store needs the host agent's AF_UNIX
// socket and, for disks, symlinks, which Wine, where the Windows tests run,
// does not have.
func TestStoreInspect(t *testing.T) {
	tests := []struct {
		name     string
		metaHome bool
		opts     siminst.Options
	}{
		{name: "qemu"},
		{name: "vz with disks", opts: siminst.Options{VMType: "vz", Name: "vm1", AdditionalDisks: []string{"data"}}},
		{name: "glob metacharacters in LIMA_HOME", metaHome: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := testutil.TempDir(t, "lima")
			if tt.metaHome {
				home = filepath.Join(home, "a[b]*?c")
				require.NoError(t, os.Mkdir(home, 0o755))
			}
			inst := startSim(t, home, tt.opts)

			li := inspect(t, inst)
			require.Empty(t, li.Errors)
			assert.Equal(t, store.StatusRunning, li.Status)
			assert.Equal(t, inst.HostAgentPID(), li.HostAgentPID)
			assert.Equal(t, inst.DriverPID(), li.DriverPID)
			assert.Equal(t, siminst.SSHLocalPort, li.SSHLocalPort)
			require.Len(t, li.AdditionalDisks, len(tt.opts.AdditionalDisks))
			for i, name := range tt.opts.AdditionalDisks {
				assert.Equal(t, name, li.AdditionalDisks[i].Name)
				disk, err := store.InspectDisk(name)
				require.NoError(t, err)
				assert.Equal(t, inst.Name(), disk.Instance)
				assert.Equal(t, inst.Dir(), disk.InstanceDir)
			}

			driver, err := process.System().Find(inst.DriverPID())
			require.NoError(t, err)
			defer driver.Release()
			ha, err := process.System().Find(inst.HostAgentPID())
			require.NoError(t, err)
			defer ha.Release()
			require.NoError(t, ha.Interrupt())
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			exit, err := inst.WaitHostAgent(ctx)
			require.NoError(t, err)
			require.Equal(t, 0, exit.Code)
			require.NoError(t, driver.Wait(ctx))

			li = inspect(t, inst)
			require.Empty(t, li.Errors)
			assert.Equal(t, store.StatusStopped, li.Status)
			assert.Zero(t, li.HostAgentPID)
			assert.Zero(t, li.DriverPID)
		})
	}
}

// TestStoreInspectOrphanDriver checks what Lima's store makes of a killed
// host agent whose driver runs on: Broken, not Stopped.
func TestStoreInspectOrphanDriver(t *testing.T) {
	inst := startSim(t, testutil.TempDir(t, "lima"), siminst.Options{})
	require.NoError(t, inst.KillHostAgent())
	<-inst.HostAgentDone()

	li := inspect(t, inst)
	assert.Equal(t, store.StatusBroken, li.Status)
	assert.Zero(t, li.HostAgentPID)
	assert.Equal(t, inst.DriverPID(), li.DriverPID)
}
