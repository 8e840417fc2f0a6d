// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process

import "errors"

// ErrNotGroupLeader means a process does not lead its own process group, so
// its group was not signalled: a group that a process does not lead may be
// anyone's, the caller's included.
var ErrNotGroupLeader = errors.New("process does not lead its process group")

// Parent is implemented by processes whose children can be listed.
type Parent interface {
	// Children returns the PIDs of the process's children. They are
	// claims: pin each with Find, then call Children again and keep only
	// the pinned processes still listed, since the parent is pinned and
	// its children list is then a fact about the pinned child (or ask
	// ChildVerifier, where the process implements it). It returns an
	// error wrapping ErrNotFound if the process has exited.
	Children() ([]int, error)
}

// ChildVerifier is implemented by processes that can confirm that a
// process pinned after them is their child without listing their children
// again, which costs a read per thread on Linux.
type ChildVerifier interface {
	// IsChild reports whether c was this process's child when c was
	// pinned: c's parent PID, read through c's pin, is this process's
	// PID, and this process, pinned before c and alive after that read,
	// held the PID all along. It reports false for a c pinned before this
	// process or by another table, and returns an error wrapping
	// ErrNotFound if this process has exited.
	IsChild(c Process) (bool, error)
}

// GroupKiller is implemented on Unix by processes whose process group can
// be killed at once, members that left the process tree included.
type GroupKiller interface {
	// KillGroup sends SIGKILL to the process group that the process
	// leads: its group ID is its PID. A group is signalled only while its
	// leader is alive and pinned, since a live leader's PID cannot name
	// another group. It returns an error wrapping ErrNotGroupLeader, and
	// signals nothing, if the process does not lead its group, and one
	// wrapping ErrNotFound if it has exited.
	KillGroup() error
}
