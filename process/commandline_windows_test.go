// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/windows"
)

// TestPEBCommandLine runs the PEB route on every Windows, not only where the
// kernel lacks ProcessCommandLineInformation (Wine 8), by reading the test
// process's own command line through it.
func TestPEBCommandLine(t *testing.T) {
	got, err := pebCommandLine(windows.CurrentProcess())
	require.NoError(t, err)
	assert.Equal(t, windows.UTF16PtrToString(windows.GetCommandLine()), got)
}
