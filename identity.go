// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/limastop/stop/internal/fsutil"
	"github.com/limastop/stop/process"
)

// Role names a process of an instance.
type Role string

// The processes of an instance.
const (
	// RoleHostAgent is Lima's host agent, limactl hostagent, which writes
	// ha.pid.
	RoleHostAgent Role = "host agent"
	// RoleDriver is the VM's process, which writes <VMType>.pid: QEMU for
	// qemu; for vz, the host agent itself.
	RoleDriver Role = "driver"
	// RoleExternalDriver is one of Lima master's external driver servers,
	// started as "<driver> --inst-dir <Dir>" with a <name>.drv.pid that
	// its parent writes.
	RoleExternalDriver Role = "external driver"
)

// Identity is the verdict on whether a process that an instance's pid file
// (or the caller) names is the instance's. The package doc has the table
// the policies decide it by.
type Identity int

const (
	// IdentityUnknown means the facts do not settle it: nothing is
	// signalled, removed or unlocked, and the stop fails with an error
	// wrapping ErrIdentityUnknown.
	IdentityUnknown Identity = iota
	// Ours means there is positive evidence that the process is the
	// instance's: it may be signalled.
	Ours
	// NotOurs means the process is proven a stranger: it is never
	// signalled, and the claim naming it is stale.
	NotOurs
)

func (id Identity) String() string {
	switch id {
	case IdentityUnknown:
		return "unknown"
	case Ours:
		return "ours"
	case NotOurs:
		return "not ours"
	}
	return fmt.Sprintf("Identity(%d)", int(id))
}

// Verifier lets a caller that launches host agents or drivers its own way
// (not with Lima's --pidfile command lines) vouch for or against a process
// that inst's pid file for role names. It returns IdentityUnknown when it
// has no opinion. p is pinned: its StartTime and CommandLine are facts.
type Verifier func(inst *Instance, role Role, p process.Process) Identity

// verdict is the identity of one process with the reason, for errors and
// logs.
type verdict struct {
	id  Identity
	why string
}

// claim is what a target's pid file (or the caller) says: a PID, and when
// the file was written, zero if there is no file.
type claim struct {
	pid     int
	written time.Time
}

// identify decides, from facts about the pinned process p, whether it is
// the instance's process that t's claim names. It reads p's command line
// and applies the table in the package doc: positive evidence makes it
// ours, negative evidence a stranger, both or neither unknown.
func (r *run) identify(t *target, c claim, p process.Process) verdict {
	var pro, con []string
	if t.pid == c.pid && !t.started.IsZero() {
		if err := process.VerifyStartTime(p, t.started); err == nil {
			pro = append(pro, "its start time is the one recorded at launch")
		} else {
			con = append(con, "its start time is not the one recorded at launch")
		}
	}
	if r.verify != nil {
		switch r.verify(r.inst, t.role, p) {
		case Ours:
			pro = append(pro, "the caller's verifier vouches for it")
		case NotOurs:
			con = append(con, "the caller's verifier disowns it")
		}
	}
	args, argErr := p.CommandLine()
	switch named := r.namedPIDFile(args); {
	case argErr != nil:
		// No fact either way.
	case named != "":
		pro = append(pro, "its command line names "+named)
	case r.namesInstDir(args):
		// Lima master's external drivers; with vz among them, vz.pid
		// names such a server too.
		pro = append(pro, "its command line names the instance directory with --inst-dir")
	case !c.written.IsZero() && p.StartTime().After(c.written.Add(process.PIDFileSlack)):
		con = append(con, fmt.Sprintf("its command line names no pid file of the instance and it started at %s, after its pid file was written at %s",
			p.StartTime().Format(time.RFC3339Nano), c.written.Format(time.RFC3339Nano)))
	case c.written.IsZero() && t.started.IsZero():
		// A PID the caller knows, with no pid file to have been
		// written after and no recorded start: the command line is
		// the only fact.
		con = append(con, "its command line names no pid file of the instance, and there is no pid file")
	}
	switch {
	case len(pro) > 0 && len(con) > 0:
		return verdict{IdentityUnknown, "the facts disagree: " + strings.Join(pro, ", ") + "; but " + strings.Join(con, ", ")}
	case len(pro) > 0:
		if !c.written.IsZero() && p.StartTime().After(c.written.Add(process.PIDFileSlack)) {
			r.log.Warn("process started after its pid file was written; trusting its command line",
				"instance", r.inst.Name, "role", string(t.role), "pid", p.PID(),
				"started", p.StartTime(), "written", c.written)
		}
		return verdict{Ours, strings.Join(pro, ", ")}
	case len(con) > 0:
		return verdict{NotOurs, strings.Join(con, ", ")}
	case argErr != nil:
		return verdict{IdentityUnknown, fmt.Sprintf("its command line cannot be read (%v) and its start time does not rule it out", argErr)}
	}
	return verdict{IdentityUnknown, "its command line names no pid file of the instance, but it started before its pid file was written"}
}

// namedPIDFile returns the pid file of the instance that args name, as an
// argument of its own or as the value of a --flag=path argument, or "".
// Paths are compared as files, so a LIMA_HOME reached through a symlink
// matches.
func (r *run) namedPIDFile(args []string) string {
	for _, a := range args {
		for _, cand := range []string{a, afterEquals(a)} {
			if cand == "" || !filepath.IsAbs(cand) {
				continue
			}
			for _, f := range r.pidFiles {
				if filepath.Base(cand) == filepath.Base(f) && fsutil.SameDir(filepath.Dir(cand), filepath.Dir(f)) {
					return f
				}
			}
		}
	}
	return ""
}

// namesInstDir reports whether args hold --inst-dir with the instance
// directory, as one argument or two.
func (r *run) namesInstDir(args []string) bool {
	for i, a := range args {
		var dir string
		switch {
		case strings.HasPrefix(a, "--inst-dir="):
			dir = afterEquals(a)
		case a == "--inst-dir" && i+1 < len(args):
			dir = args[i+1]
		default:
			continue
		}
		if filepath.IsAbs(dir) && fsutil.SameDir(dir, r.inst.Dir) {
			return true
		}
	}
	return false
}

func afterEquals(arg string) string {
	if _, v, ok := strings.Cut(arg, "="); ok {
		return v
	}
	return ""
}

// executable returns the program of p, for messages.
func executable(p process.Process) string {
	args, err := p.CommandLine()
	if err != nil || len(args) == 0 {
		return "an unknown program"
	}
	return args[0]
}
