// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process

import "errors"

// ErrNotDying means a process's memory was not reaped because the process
// is not exiting: it was not killed, or it shares its memory with a
// process that was not.
var ErrNotDying = errors.New("process is not exiting")

// MemoryReaper is implemented on Linux by processes whose memory the caller
// can free once they have been killed.
type MemoryReaper interface {
	// ReapMemory frees the memory of the killed process from the calling
	// thread (Linux's process_mrelease). A killed process frees its
	// memory itself, as the last of its threads exits: for a VM with
	// gigabytes of memory, that is most of the time its death takes
	// (BenchmarkReapMemory). Reaping changes nothing else: the process
	// still exits, and only Wait confirms that it has. It returns an
	// error wrapping ErrNotFound if the process has exited (nothing is
	// left to reap then, whether or not its parent has reaped the
	// process itself), ErrNotDying if it has not been killed, and
	// errors.ErrUnsupported if the kernel cannot reap (before 5.15).
	ReapMemory() error
}
