// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// File names of Lima's layout (Lima's pkg/store/filenames).
const (
	limaYAML    = "lima.yaml"
	haPIDFile   = "ha.pid"
	haSock      = "ha.sock"
	haStdoutLog = "ha.stdout.log"
	haStderrLog = "ha.stderr.log"
	disksDir    = "_disks"
	dataDisk    = "datadisk"
	inUseBy     = "in_use_by"
	// Suffixes of the pid file and socket of an external driver server
	// of Lima master, after the driver's name.
	externalDriverPIDSuffix  = ".drv.pid"
	externalDriverSockSuffix = ".drv.sock"
)

// vmTypeWSL2 is the vmType whose driver writes no pid file: Lima keeps a
// WSL2 distro running with a wsl.exe child of the host agent and asks
// wsl.exe, not a pid file, whether it runs.
const vmTypeWSL2 = "wsl2"

// vmTypeVZ is the vmType whose driver runs inside the host agent: Lima's
// vz driver is a library in limactl, so the host agent writes vz.pid with
// its own PID and no separate driver process exists.
const vmTypeVZ = "vz"

// driverPIDFileName returns the name of the pid file the driver of vmType
// writes, or "" if it writes none.
func driverPIDFileName(vmType string) string {
	if vmType == vmTypeWSL2 {
		return ""
	}
	return vmType + ".pid"
}

// driverInHostAgent reports whether the driver of vmType runs inside the
// host agent process rather than as its child.
func driverInHostAgent(vmType string) bool { return vmType == vmTypeVZ }

// hostAgentArgs returns the arguments, after the executable, of the host
// agent of cfg: those with which Lima v1.2.2's limactl start runs limactl
// hostagent, less the flags that only matter to a real host agent. Paths
// are cfg.Dir as the caller gave it, not resolved, as limactl passes them.
func hostAgentArgs(cfg childConfig) []string {
	name := filepath.Base(cfg.Dir)
	if cfg.NoPIDFileArgs {
		return []string{"hostagent", name}
	}
	return []string{"hostagent", "--pidfile", filepath.Join(cfg.Dir, haPIDFile), "--socket", filepath.Join(cfg.Dir, haSock), name}
}

// driverArgs returns the arguments, after the executable, of the driver
// process of cfg: the QEMU arguments that name the instance and its pid
// file. A driver without a pid file (wsl2) still names the instance.
func driverArgs(cfg childConfig) []string {
	args := []string{"-name", "lima-" + filepath.Base(cfg.Dir)}
	if name := driverPIDFileName(cfg.VMType); name != "" && !cfg.NoPIDFileArgs {
		args = append(args, "-pidfile", filepath.Join(cfg.Dir, name))
	}
	return args
}

// externalDriverArgs returns the arguments, after the executable, of the
// external driver server of cfg, as Lima master starts one.
func externalDriverArgs(cfg childConfig) []string {
	return []string{"--inst-dir", cfg.Dir}
}

// externalDriverFiles returns the pid file and socket of the external
// driver server of cfg.
func externalDriverFiles(cfg childConfig) (pidFile, sock string) {
	base := filepath.Join(cfg.Dir, cfg.ExternalDriver)
	return base + externalDriverPIDSuffix, base + externalDriverSockSuffix
}

// helperArgs returns the arguments, after the executable, of a helper. They
// name no file of the instance: a helper is found by its ancestry alone, as
// the ssh processes of Lima's host agent are.
func helperArgs() []string { return []string{"helper"} }

// createLayout creates what limactl create would have left in cfg.Dir and
// the disks locked to it, and empties the host agent's logs as limactl
// start does.
func createLayout(cfg childConfig, disks []string) error {
	if err := os.Mkdir(cfg.Dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("failed to create the instance directory: %w", err)
	}
	if _, err := os.Lstat(filepath.Join(cfg.Dir, haPIDFile)); !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("instance %q seems running: %q exists", filepath.Base(cfg.Dir), haPIDFile)
	}
	if err := os.WriteFile(filepath.Join(cfg.Dir, limaYAML), limaYAMLFor(cfg.VMType, disks), 0o644); err != nil {
		return err
	}
	for _, name := range []string{haStdoutLog, haStderrLog} {
		if err := os.WriteFile(filepath.Join(cfg.Dir, name), nil, 0o644); err != nil {
			return err
		}
	}
	limaHome := filepath.Dir(cfg.Dir)
	for _, disk := range disks {
		if err := createLockedDisk(limaHome, disk, cfg.Dir); err != nil {
			return err
		}
	}
	return nil
}

// limaYAMLFor returns the smallest lima.yaml that Lima's store loads and
// validates. The image is never downloaded; strings are written as JSON,
// which YAML reads as is.
func limaYAMLFor(vmType string, disks []string) []byte {
	var b strings.Builder
	b.WriteString("# A simulated instance: no virtual machine runs behind it.\n")
	fmt.Fprintf(&b, "vmType: %s\n", strconv.Quote(vmType))
	b.WriteString("images:\n- location: \"https://example.invalid/simulated.img\"\n")
	fmt.Fprintf(&b, "ssh:\n  localPort: %d\n", SSHLocalPort)
	b.WriteString("containerd:\n  system: false\n  user: false\n")
	if len(disks) > 0 {
		b.WriteString("additionalDisks:\n")
		for _, d := range disks {
			fmt.Fprintf(&b, "- name: %s\n", strconv.Quote(d))
		}
	}
	return []byte(b.String())
}

// createLockedDisk creates limaHome/_disks/name with an empty data disk and
// locks it to instDir with the in_use_by symlink, as Lima's Disk.Lock does.
func createLockedDisk(limaHome, name, instDir string) error {
	if err := checkName(name); err != nil {
		return fmt.Errorf("disk name: %w", err)
	}
	dir := filepath.Join(limaHome, disksDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, dataDisk), os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	lock := filepath.Join(dir, inUseBy)
	if err := os.Symlink(instDir, lock); err != nil {
		return fmt.Errorf("failed to lock disk %q: %w", name, err)
	}
	// Wine reports success and creates nothing.
	if target, err := os.Readlink(lock); err != nil || target != instDir {
		return fmt.Errorf("failed to lock disk %q: symlinks do not work here (%q, %v): %w", name, target, err, errors.ErrUnsupported)
	}
	return nil
}

// writePIDFile writes the current PID as Lima does: decimal and a newline.
// With exclusive, an existing file is an error, as for limactl hostagent.
func writePIDFile(path string, exclusive bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if exclusive {
		flags |= os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(strconv.Itoa(os.Getpid()) + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// event is one line of ha.stdout.log, in the shape of Lima's
// pkg/hostagent/events.Event.
type event struct {
	Time   time.Time   `json:"time,omitempty"`
	Status eventStatus `json:"status,omitempty"`
}

type eventStatus struct {
	Running      bool `json:"running,omitempty"`
	Exiting      bool `json:"exiting,omitempty"`
	SSHLocalPort int  `json:"sshLocalPort,omitempty"`
}

// writeEvent appends one event line to the host agent's ha.stdout.log.
func writeEvent(dir string, st eventStatus) error {
	return appendJSONLine(filepath.Join(dir, haStdoutLog), event{Time: time.Now(), Status: st})
}
