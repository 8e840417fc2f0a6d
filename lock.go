// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop

import (
	"context"
	"path/filepath"
	"sync"
)

// instanceLocks serialises the stops of each instance directory within this
// process. It is the package's only global: a lock must be shared by every
// Stopper value, whoever constructed it.
var instanceLocks = struct {
	sync.Mutex
	m map[string]*instanceLock
}{m: make(map[string]*instanceLock)}

type instanceLock struct {
	held chan struct{} // a one-slot semaphore
	refs int
}

// lockInstance waits until no other stop of dir runs, or until ctx ends.
func lockInstance(ctx context.Context, dir string) (unlock func(), err error) {
	key := filepath.Clean(dir)
	instanceLocks.Lock()
	l := instanceLocks.m[key]
	if l == nil {
		l = &instanceLock{held: make(chan struct{}, 1)}
		instanceLocks.m[key] = l
	}
	l.refs++
	instanceLocks.Unlock()

	drop := func() {
		instanceLocks.Lock()
		if l.refs--; l.refs == 0 {
			delete(instanceLocks.m, key)
		}
		instanceLocks.Unlock()
	}
	select {
	case l.held <- struct{}{}:
		return func() { <-l.held; drop() }, nil
	case <-ctx.Done():
		drop()
		return nil, ctx.Err()
	}
}
