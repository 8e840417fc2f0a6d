//go:build !windows

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInterruptDeliversSIGINT(t *testing.T) {
	c := startChild(t)
	p := find(t, c.pid)
	require.NoError(t, p.Interrupt())
	assert.Equal(t, exitInterrupted, c.exitCode(t))
}
