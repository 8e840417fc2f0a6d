//go:build !windows

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import "os"

// watchStopEvent does nothing: the Windows stop event has no Unix
// counterpart, SIGINT is the interrupt.
func watchStopEvent(chan<- struct{}) {}

// runConsoleHostChild is the console host of the Windows tests; there is
// none on Unix.
func runConsoleHostChild() { os.Exit(2) }
