// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package processtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/process"
	"github.com/limastop/stop/process/processtest"
)

func TestScriptedBehaviour(t *testing.T) {
	for _, tc := range []struct {
		name       string
		behavior   processtest.Behavior
		act        func(p process.Process) error
		wantErr    error
		wantExited bool
	}{
		{name: "exits on interrupt", act: process.Process.Interrupt, wantExited: true},
		{name: "ignores interrupt", behavior: processtest.Behavior{IgnoreInterrupt: true}, act: process.Process.Interrupt},
		{name: "interrupt undeliverable", behavior: processtest.Behavior{InterruptErr: process.ErrInterruptUnavailable},
			act: process.Process.Interrupt, wantErr: process.ErrInterruptUnavailable},
		{name: "killed", act: process.Process.Kill, wantExited: true},
		{name: "refuses kill", behavior: processtest.Behavior{RefuseKill: true},
			act: process.Process.Kill, wantErr: processtest.ErrKillRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var table processtest.Table
			fake := table.Add(42, tc.behavior)
			p, err := table.Find(42)
			require.NoError(t, err)
			assert.ErrorIs(t, tc.act(p), tc.wantErr)

			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			err = p.Wait(ctx)
			if tc.wantExited {
				assert.NoError(t, err)
				assert.True(t, fake.Exited())
				_, err := table.Find(42)
				assert.ErrorIs(t, err, process.ErrNotFound)
				return
			}
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.False(t, fake.Exited())
		})
	}
}

func TestRecordsCalls(t *testing.T) {
	var table processtest.Table
	table.Add(42, processtest.Behavior{})
	_, err := table.Find(1)
	assert.ErrorIs(t, err, process.ErrUnsafePID)
	_, err = table.Find(43)
	assert.ErrorIs(t, err, process.ErrNotFound)
	p, err := table.Find(42)
	require.NoError(t, err)
	require.NoError(t, p.Kill())
	require.NoError(t, p.Wait(context.Background()))
	assert.ErrorIs(t, p.Kill(), process.ErrNotFound)
	require.NoError(t, p.Release())
	assert.Equal(t, []processtest.Call{
		{Op: "find", PID: 1}, {Op: "find", PID: 43}, {Op: "find", PID: 42},
		{Op: "kill", PID: 42}, {Op: "wait", PID: 42}, {Op: "kill", PID: 42}, {Op: "release", PID: 42},
	}, table.Calls())
}
