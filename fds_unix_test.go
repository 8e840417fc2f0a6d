//go:build !windows

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"os"
	"testing"
)

// openDescriptors returns how many file descriptors the process has open,
// or -1 if they cannot be counted.
func openDescriptors(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/dev/fd")
	if err != nil {
		t.Logf("cannot count descriptors: %v", err)
		return -1
	}
	return len(entries)
}
