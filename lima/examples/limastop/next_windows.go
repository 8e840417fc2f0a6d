// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package main

import "fmt"

// inspectCommand is a command that shows what process pid is and when it
// started.
func inspectCommand(pid int) string {
	return fmt.Sprintf(`powershell "Get-CimInstance Win32_Process -Filter ProcessId=%d | Format-List ProcessId,CreationDate,CommandLine"`, pid)
}
