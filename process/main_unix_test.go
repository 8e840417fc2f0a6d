//go:build !windows

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

// watchStopEvent does nothing: the Windows stop event has no Unix
// counterpart, SIGINT is the interrupt.
func watchStopEvent(chan<- struct{}) {}
