// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop"
	"github.com/limastop/stop/process/processtest"
)

// TestSnapshotOfEarlierRun: an Instance taken before the instance
// restarted holds the earlier run's PIDs and start times, while the pid
// files name the new run's processes. A recorded start time speaks only
// for the PID it was recorded with: the new processes are judged by their
// command lines and stopped; the earlier PIDs, held by strangers now, are
// never signalled.
func TestSnapshotOfEarlierRun(t *testing.T) {
	for _, s := range policies() {
		t.Run(s.name, func(t *testing.T) {
			f := newFixture(t, processtest.Behavior{}, processtest.Behavior{}).haEndsDriver()
			earlier := time.Now().Add(-time.Hour)
			oldHA := f.table.Add(haPID+100, processtest.Behavior{StartTime: earlier.Add(time.Minute), CommandLine: stranger})
			oldDrv := f.table.Add(driverPID+100, processtest.Behavior{StartTime: earlier.Add(time.Minute), CommandLine: stranger})
			f.inst.HostAgentPID, f.inst.HostAgentStart = haPID+100, earlier
			f.inst.DriverPID, f.inst.DriverStart = driverPID+100, earlier

			res, err := s.new(&f.table).Stop(context.Background(), f.inst)
			require.NoError(t, err)
			assert.Contains(t, []stop.Outcome{stop.StoppedGracefully, stop.StoppedForcibly}, res.Outcome)
			assert.True(t, f.ha.Exited())
			assert.True(t, f.drv.Exited())
			assert.Empty(t, f.signalled(haPID+100))
			assert.Empty(t, f.signalled(driverPID+100))
			assert.False(t, oldHA.Exited())
			assert.False(t, oldDrv.Exited())
		})
	}
}
