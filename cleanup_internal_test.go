// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRemovalOrder: ha.pid is removed after every other pid file, whatever
// their names: until it is gone, Lima's host agent cannot start again.
func TestRemovalOrder(t *testing.T) {
	pids := map[string]int{"/i/qemu.pid": 3, "/i/ha.pid": 2, "/i/a.drv.pid": 4, "/i/zz.drv.pid": 5}
	assert.Equal(t, []string{"/i/a.drv.pid", "/i/qemu.pid", "/i/zz.drv.pid", "/i/ha.pid"}, removalOrder(pids, "/i/ha.pid"))
	assert.Equal(t, []string{"/i/qemu.pid"}, removalOrder(map[string]int{"/i/qemu.pid": 3}, "/i/ha.pid"))
}
