// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// processArgs returns the arguments after the executable of the running
// process pid, as /proc shows them to any process, a stop policy included.
func processArgs(t *testing.T, pid int) ([]string, bool) {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	require.NoError(t, err)
	args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	return args[1:], true
}
