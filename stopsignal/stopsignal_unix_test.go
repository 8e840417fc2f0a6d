//go:build !windows

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stopsignal_test

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSignals checks that both signals that ask a Unix daemon to stop
// arrive, whatever the event name, which Unix ignores.
func TestSignals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mode   string
		prefix string
		sig    syscall.Signal
		want   string
	}{
		{name: "SIGINT", mode: "notify", sig: syscall.SIGINT, want: "stopped interrupt"},
		{name: "SIGTERM", mode: "notify", sig: syscall.SIGTERM, want: "stopped terminated"},
		{name: "SIGTERM, custom name", mode: "notify", prefix: testPrefix, sig: syscall.SIGTERM, want: "stopped terminated"},
		{name: "context, SIGTERM", mode: "context", sig: syscall.SIGTERM, want: "stopped terminated signal received"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ha := startHostAgent(t, tc.mode, tc.prefix, false)
			require.NoError(t, ha.cmd.Process.Signal(tc.sig))
			assert.Equal(t, tc.want, ha.line(t))
			assert.Equal(t, exitStopped, ha.exitCode(t))
		})
	}
}
