//go:build !linux

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import "os"

// runThreadParent is a Linux child: elsewhere a process's children are not
// listed per thread.
func runThreadParent() { os.Exit(2) }
