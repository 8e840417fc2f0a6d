// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

var procGetProcessHandleCount = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetProcessHandleCount")

// openDescriptors returns how many handles the process has open, or -1 if
// they cannot be counted: Wine 8's GetProcessHandleCount always says 0.
func openDescriptors(t *testing.T) int {
	t.Helper()
	var n uint32
	if r, _, err := procGetProcessHandleCount.Call(uintptr(windows.CurrentProcess()), uintptr(unsafe.Pointer(&n))); r == 0 {
		t.Logf("cannot count handles: %v", err)
		return -1
	}
	if n == 0 {
		t.Log("cannot count handles: GetProcessHandleCount says 0")
		return -1
	}
	return int(n)
}
