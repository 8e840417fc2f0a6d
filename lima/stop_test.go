//go:build !windows

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package lima_test

import (
	"testing"

	"github.com/lima-vm/lima/pkg/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/siminst"
	"github.com/limastop/stop/internal/testutil"
	"github.com/limastop/stop/lima"
)

// TestForcibleThenInspect checks, with Lima's own store, that a forced stop
// leaves a simulated instance Stopped with its disk unlocked.
func TestForcibleThenInspect(t *testing.T) {
	sim := startSim(t, testutil.TempDir(t, "lima[1]"), siminst.Options{AdditionalDisks: []string{"data"}})
	li := inspect(t, sim)
	require.Equal(t, store.StatusRunning, li.Status)

	res, err := stop.Forcible{Disks: lima.Disks{}}.Stop(t.Context(), lima.Instance(li))
	require.NoError(t, err)
	assert.Equal(t, stop.StoppedForcibly, res.Outcome)

	li = inspect(t, sim)
	assert.Equal(t, store.StatusStopped, li.Status)
	assert.Empty(t, li.Errors)
	disk, err := store.InspectDisk("data")
	require.NoError(t, err)
	assert.Empty(t, disk.Instance, "disk still locked")
}
