//go:build !windows

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stopsignal

import "os"

// notifyEvent does nothing where stop requests are signals.
func notifyEvent(chan<- os.Signal, string) (stop func(), err error) {
	return func() {}, nil
}
