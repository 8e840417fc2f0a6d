// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

// Package lima adapts github.com/lima-vm/lima v1.2.x to package stop: it
// turns a *store.Instance into a *stop.Instance, unlocks disks through
// Lima's own store and logs through logrus, as Lima does. It lives in a
// module of its own, github.com/limastop/stop/lima, so that the root
// module's graph holds no Lima: users of package stop alone, Lima among
// them, never download or compile Lima's store through this module.
package lima

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/lima-vm/lima/pkg/store"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/fsutil"
)

// Instance returns what stop needs to know about inst. The PIDs are the
// ones store.Inspect read; stop checks them against the pid files again.
func Instance(inst *store.Instance) *stop.Instance {
	disks := make([]string, 0, len(inst.AdditionalDisks))
	for _, d := range inst.AdditionalDisks {
		disks = append(disks, d.Name)
	}
	return &stop.Instance{
		Name:            inst.Name,
		Dir:             inst.Dir,
		VMType:          string(inst.VMType),
		HostAgentPID:    inst.HostAgentPID,
		DriverPID:       inst.DriverPID,
		AdditionalDisks: disks,
	}
}

// Disks is a stop.DiskUnlocker built on Lima's store.InspectDisk, so it
// finds disks where Lima does (under LIMA_HOME). Unlike Lima's Disk.Unlock it
// unlocks a disk only when the disk's lock names the instance being stopped.
type Disks struct{}

var _ stop.DiskUnlocker = Disks{}

// Unlock unlocks disk if inst holds it.
func (Disks) Unlock(_ context.Context, inst *stop.Instance, disk string) error {
	d, err := store.InspectDisk(disk)
	if err != nil {
		return fmt.Errorf("failed to inspect disk %q: %w", disk, err)
	}
	switch {
	case d.InstanceDir == "":
		return nil
	case !fsutil.SameDir(d.InstanceDir, inst.Dir):
		return fmt.Errorf("%w: disk %q is held by %q", stop.ErrDiskHeldElsewhere, disk, d.InstanceDir)
	}
	if err := d.Unlock(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("failed to unlock disk %q: %w", disk, err)
	}
	return nil
}
