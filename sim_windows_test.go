// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/siminst"
	"github.com/limastop/stop/process"
)

// TestSimulatedHeadless stops a host agent that, like Lima v1.2.2's, has no
// stop event, from a caller without a console (a Windows service; the tests
// under Wine): no graceful request can be delivered, nothing is signalled,
// and Orphan escalates at once, saying why.
func TestSimulatedHeadless(t *testing.T) {
	for _, table := range []process.SystemTable{{}, {ConsoleBreak: true}} {
		t.Run(fmt.Sprintf("%+v", table), func(t *testing.T) {
			sim, inst := simulate(t, siminst.Options{NoStopEvent: true})
			ha := pin(t, sim.HostAgentPID())

			_, err := stop.Graceful{Processes: table}.Stop(t.Context(), inst)
			require.ErrorIs(t, err, process.ErrInterruptUnavailable)
			requireRunning(t, ha)

			res, err := stop.Orphan{Graceful: stop.Graceful{Processes: table}, Forcible: stop.Forcible{Processes: table}}.Stop(t.Context(), inst)
			require.NoError(t, err)
			t.Log("\n" + res.String())
			assert.Equal(t, stop.StoppedForcibly, res.Outcome)
			assert.ErrorIs(t, res.Escalation, process.ErrInterruptUnavailable)
			assert.NotContains(t, actions(res), "wait", "escalated only after waiting")
			assert.True(t, hostAgentExit(t, sim).Killed)
		})
	}
}
