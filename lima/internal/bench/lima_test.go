//go:build linux

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/lima-vm/lima/pkg/instance"
	"github.com/lima-vm/lima/pkg/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/internal/siminst"
)

// TestLimaStopGracefully checks the benchmarks' premise: Lima v1.2.2's own
// graceful stop works on a simulated instance. It interrupts the host
// agent, waits for the "exiting" event in ha.stdout.log and polls
// store.Inspect until the instance is Stopped.
func TestLimaStopGracefully(t *testing.T) {
	home := limaHome(t)
	s := startSim(t, home, "graceful", siminst.Options{ShutdownDelay: 50 * time.Millisecond})
	li := s.inspect(t)

	ctx, cancel := context.WithTimeout(t.Context(), waitBound)
	defer cancel()
	require.NoError(t, instance.StopGracefully(ctx, li, false))

	s.gone(t)
	s.lastExit(t) // both recorded a graceful exit
	after, err := store.Inspect(s.Name())
	require.NoError(t, err)
	assert.Equal(t, store.StatusStopped, after.Status)
	assert.Empty(t, after.Errors)
}

// TestLimaStopForcibly checks that Lima's forced stop kills both simulated
// processes and leaves the instance Stopped once they are gone.
func TestLimaStopForcibly(t *testing.T) {
	home := limaHome(t)
	s := startSim(t, home, "forcible", siminst.Options{AdditionalDisks: []string{"data"}})
	li := s.inspect(t)

	instance.StopForcibly(li)

	s.gone(t)
	recs, err := s.Records()
	require.NoError(t, err)
	assert.Empty(t, recs, "a killed process records nothing")
	after, err := store.Inspect(s.Name())
	require.NoError(t, err)
	assert.Equal(t, store.StatusStopped, after.Status)
	disk, err := store.InspectDisk(s.Name() + "-data")
	require.NoError(t, err)
	assert.Empty(t, disk.Instance, "disk still locked")
}
