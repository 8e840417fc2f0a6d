// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/process"
	"github.com/limastop/stop/process/processtest"
)

// fakeStartedAt returns a fake process that started at start.
func fakeStartedAt(t *testing.T, start time.Time) process.Process {
	t.Helper()
	var table processtest.Table
	table.Add(4000002, processtest.Behavior{StartTime: start})
	p, err := table.Find(4000002)
	require.NoError(t, err)
	return p
}

// TestVerifyPIDFileSlack: the slack absorbs clock granularity only. A
// process that started seconds after its pid file was written holds a
// recycled PID: a PID is reused within seconds on a busy host, so a slack
// of a minute would let such a process pass as the file's writer.
func TestVerifyPIDFileSlack(t *testing.T) {
	written := time.Now().Add(-time.Hour).Round(0)
	for _, tc := range []struct {
		name    string
		started time.Duration // after written
		ours    bool
	}{
		{name: "long before", started: -time.Hour, ours: true},
		{name: "just before", started: -time.Millisecond, ours: true},
		{name: "same instant", ours: true},
		{name: "within a tick", started: 10 * time.Millisecond, ours: true},
		{name: "whole-second mtime", started: 999 * time.Millisecond, ours: true},
		{name: "two seconds after", started: 2 * time.Second},
		{name: "ten seconds after", started: 10 * time.Second},
		{name: "half a minute after", started: 30 * time.Second},
		{name: "an hour after", started: time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := process.VerifyPIDFile(fakeStartedAt(t, written.Add(tc.started)), written)
			if tc.ours {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, process.ErrNotOurProcess)
		})
	}
}

// TestVerifyStartTime: a recorded start time matches only the process that
// started then, whether the recorded time is earlier or later than the
// real one.
func TestVerifyStartTime(t *testing.T) {
	started := time.Now().Add(-time.Minute).Round(0)
	p := fakeStartedAt(t, started)
	assert.NoError(t, process.VerifyStartTime(p, started))
	for _, d := range []time.Duration{time.Second, time.Minute, time.Hour} {
		assert.ErrorIs(t, process.VerifyStartTime(p, started.Add(d)), process.ErrNotOurProcess, "recorded %s later", d)
		assert.ErrorIs(t, process.VerifyStartTime(p, started.Add(-d)), process.ErrNotOurProcess, "recorded %s earlier", d)
	}
}
