// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/siminst"
	"github.com/limastop/stop/process"
)

// daemonPrefix names stop events as the Rancher Desktop daemon does,
// Local\rdd-<suffix>-interrupt-hostagent-<instance>-<pid>, for instance
// "sim".
const daemonPrefix = `Local\rdd-test-interrupt-hostagent-sim-`

// daemonEventName is the stopper's half of daemonPrefix.
func daemonEventName(pid int) string { return daemonPrefix + strconv.Itoa(pid) }

// TestSimulatedStopEvent stops a host agent that opted into the stop event
// (stopsignal.Notify), by the default name and by the daemon's, from a
// caller without a console (the tests under Wine, a Windows service): the
// table that names the event as the host agent did interrupts it, and it
// shuts down by itself. CTRL_BREAK is not enabled, so only the event can
// have reached it.
func TestSimulatedStopEvent(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  siminst.Options
		table process.SystemTable
	}{
		{name: "default name"},
		{name: "custom name", opts: siminst.Options{StopEventPrefix: daemonPrefix},
			table: process.SystemTable{EventName: daemonEventName}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.ShutdownDelay = 20 * time.Millisecond
			sim, inst := simulate(t, tc.opts)
			driver := pin(t, sim.DriverPID())

			res, err := stop.Graceful{Processes: tc.table, Timeout: 10 * time.Second}.Stop(t.Context(), inst)
			require.NoError(t, err)
			t.Log("\n" + res.String())
			assert.Equal(t, stop.StoppedGracefully, res.Outcome)
			assert.False(t, hostAgentExit(t, sim).Killed)
			requireExited(t, driver)
			assert.Equal(t, []siminst.Reason{siminst.ReasonInterrupted}, hostAgentRecords(t, sim))
		})
	}
}

// TestSimulatedHeadless stops, from a caller without a console (a Windows
// service; the tests under Wine), host agents that cannot be interrupted:
// one that, like Lima v1.2.2's, has no stop event, and one whose event has
// a name the stopper does not know (the Rancher Desktop daemon's, to a
// table with the default name). No graceful request can be delivered,
// nothing is signalled, and Orphan escalates at once, saying why.
func TestSimulatedHeadless(t *testing.T) {
	for _, ha := range []struct {
		name string
		opts siminst.Options
	}{
		{name: "no stop event", opts: siminst.Options{NoStopEvent: true}},
		{name: "unknown event name", opts: siminst.Options{StopEventPrefix: daemonPrefix}},
	} {
		for _, stopper := range []struct {
			name  string
			table process.SystemTable
		}{
			{name: "default"},
			{name: "console break", table: process.SystemTable{ConsoleBreak: true}},
		} {
			table := stopper.table
			t.Run(ha.name+"/"+stopper.name, func(t *testing.T) {
				sim, inst := simulate(t, ha.opts)
				haProc := pin(t, sim.HostAgentPID())

				_, err := stop.Graceful{Processes: table, Timeout: 10 * time.Second}.Stop(t.Context(), inst)
				require.ErrorIs(t, err, process.ErrInterruptUnavailable)
				requireRunning(t, haProc)

				res, err := stop.Orphan{Graceful: stop.Graceful{Processes: table, Timeout: 10 * time.Second}, Forcible: stop.Forcible{Processes: table, Timeout: 10 * time.Second}}.Stop(t.Context(), inst)
				require.NoError(t, err)
				t.Log("\n" + res.String())
				assert.Equal(t, stop.StoppedForcibly, res.Outcome)
				assert.ErrorIs(t, res.Escalation, process.ErrInterruptUnavailable)
				assert.NotContains(t, actions(res), "wait", "escalated only after waiting")
				assert.True(t, hostAgentExit(t, sim).Killed)
				assert.Empty(t, hostAgentRecords(t, sim))
			})
		}
	}
}
