// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// startTimeResolution is that of a FILETIME.
const startTimeResolution = 100 * time.Nanosecond

// Find opens a handle with the least rights needed to read the creation time
// and wait. While the handle is open Windows does not reuse the PID, so
// every later call reaches this exact process.
func (t SystemTable) find(pid int) (Process, error) {
	h, err := openProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION|windows.SYNCHRONIZE, pid)
	if err != nil {
		return nil, err
	}
	eventName := t.EventName
	if eventName == nil {
		eventName = InterruptEventName
	}
	p := &windowsProcess{pid: pid, h: h, consoleBreak: t.ConsoleBreak, eventName: eventName}
	if err := p.checkRunning(); err != nil {
		p.Release()
		return nil, err
	}
	if p.start, err = handleCreationTime(h, pid); err != nil {
		p.Release()
		return nil, err
	}
	return p, nil
}

// openProcess opens pid with the given rights. Windows ignores the low two
// bits of a PID, so OpenProcess(4n+1) opens process 4n: the PID of the
// opened process is compared with the one asked for.
func openProcess(access uint32, pid int) (windows.Handle, error) {
	h, err := windows.OpenProcess(access, false, uint32(pid))
	if err != nil {
		if errors.Is(err, windows.ERROR_INVALID_PARAMETER) {
			return 0, notFound(pid)
		}
		return 0, fmt.Errorf("failed to open pid %d: %w", pid, err)
	}
	got, err := windows.GetProcessId(h)
	if err != nil || got != uint32(pid) {
		windows.CloseHandle(h)
		if err != nil {
			return 0, fmt.Errorf("failed to read the PID of the process opened as %d: %w", pid, err)
		}
		return 0, fmt.Errorf("pid %d (Windows opened pid %d instead): %w", pid, got, ErrNotFound)
	}
	return h, nil
}

type windowsProcess struct {
	pid          int
	start        time.Time
	h            windows.Handle
	consoleBreak bool                 // see SystemTable.ConsoleBreak
	eventName    func(pid int) string // see SystemTable.EventName; never nil
}

func (p *windowsProcess) PID() int             { return p.pid }
func (p *windowsProcess) StartTime() time.Time { return p.start }
func (p *windowsProcess) Release() error       { return windows.CloseHandle(p.h) }

// checkRunning reports ErrNotFound for a process that has exited but whose
// process object lives on because some handle to it is still open.
func (p *windowsProcess) checkRunning() error {
	ev, err := windows.WaitForSingleObject(p.h, 0)
	switch {
	case err != nil:
		return fmt.Errorf("failed to query pid %d: %w", p.pid, err)
	case ev == windows.WAIT_OBJECT_0:
		return fmt.Errorf("pid %d has exited: %w", p.pid, ErrNotFound)
	}
	return nil
}

// Kill terminates the process through a second handle opened with
// PROCESS_TERMINATE only now, so that Find needs no more than query rights.
// The handle held since Find keeps the PID from being reused, so the second
// handle reaches the same process.
func (p *windowsProcess) Kill() error {
	if err := p.checkRunning(); err != nil {
		return err
	}
	h, err := openProcess(windows.PROCESS_TERMINATE|windows.PROCESS_QUERY_LIMITED_INFORMATION, p.pid)
	if err != nil {
		return err
	}
	defer windows.CloseHandle(h)
	if err := windows.TerminateProcess(h, 1); err != nil {
		// Terminating a process that is already exiting is refused.
		if rerr := p.checkRunning(); rerr != nil {
			return rerr
		}
		return fmt.Errorf("failed to terminate pid %d: %w", p.pid, err)
	}
	return nil
}

// Interrupt sets the process's stop event (see SystemTable.EventName) if it
// created one. Otherwise, only if SystemTable.ConsoleBreak allows it and the
// process shares the caller's console, it sends CTRL_BREAK to the process
// group whose ID is the process's PID: a console control event cannot cross
// consoles, and group 0 would reach every process on the console, the
// caller included.
func (p *windowsProcess) Interrupt() error {
	if err := p.checkRunning(); err != nil {
		return err
	}
	name := p.eventName(p.pid)
	if name != "" {
		if set, err := setEvent(p.pid, name); set || err != nil {
			return err
		}
	}
	// Named in every refusal, so that a host agent that names its event
	// otherwise shows in the error. Unquoted: %q would double every
	// backslash of the namespace.
	noEvent := fmt.Sprintf("pid %d has no stop event %s", p.pid, name)
	if name == "" {
		noEvent = fmt.Sprintf("pid %d has no stop event (SystemTable.EventName gave none)", p.pid)
	}
	if !p.consoleBreak {
		return fmt.Errorf("%w: %s, and CTRL_BREAK is not enabled (SystemTable.ConsoleBreak)", ErrInterruptUnavailable, noEvent)
	}
	pids, err := consoleProcesses()
	if err != nil {
		return fmt.Errorf("%w: %s and the caller has no console: %w", ErrInterruptUnavailable, noEvent, err)
	}
	if !slices.Contains(pids, uint32(p.pid)) {
		return fmt.Errorf("%w: %s and does not share the caller's console", ErrInterruptUnavailable, noEvent)
	}
	if err := windows.GenerateConsoleCtrlEvent(windows.CTRL_BREAK_EVENT, uint32(p.pid)); err != nil {
		return fmt.Errorf("failed to send CTRL_BREAK to the process group of pid %d: %w", p.pid, err)
	}
	return nil
}

// setEvent sets pid's stop event name and reports whether it exists. Only
// the right to set it is asked for: a stopper needs no more.
func setEvent(pid int, name string) (bool, error) {
	name16, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return false, fmt.Errorf("bad stop event name %q for pid %d: %w", name, pid, err)
	}
	ev, err := windows.OpenEvent(windows.EVENT_MODIFY_STATE, false, name16)
	if errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("failed to open the stop event %s of pid %d: %w", name, pid, err)
	}
	defer windows.CloseHandle(ev)
	if err := windows.SetEvent(ev); err != nil {
		return false, fmt.Errorf("failed to set the stop event %s of pid %d: %w", name, pid, err)
	}
	return true, nil
}

// Wait waits on the process handle and on an event that ctx's end sets.
func (p *windowsProcess) Wait(ctx context.Context) error {
	cancel, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return fmt.Errorf("failed to create an event: %w", err)
	}
	defer windows.CloseHandle(cancel)
	stop := context.AfterFunc(ctx, func() { _ = windows.SetEvent(cancel) })
	defer stop()
	ev, err := windows.WaitForMultipleObjects([]windows.Handle{p.h, cancel}, false, windows.INFINITE)
	switch {
	case err != nil:
		return fmt.Errorf("failed to wait for pid %d: %w", p.pid, err)
	case ev == windows.WAIT_OBJECT_0:
		return nil
	default:
		return ctx.Err()
	}
}

var procGetConsoleProcessList = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetConsoleProcessList")

// consoleProcesses returns the PIDs attached to the caller's console.
func consoleProcesses() ([]uint32, error) {
	pids := make([]uint32, 64)
	for {
		r, _, err := procGetConsoleProcessList.Call(uintptr(unsafe.Pointer(&pids[0])), uintptr(len(pids)))
		n := int(r)
		switch {
		case n == 0:
			return nil, err
		case n <= len(pids):
			return pids[:n], nil
		}
		pids = make([]uint32, n)
	}
}

// CommandLine reads the command line from the process's memory and splits
// it by the rules of CommandLineToArgvW. Like /proc/PID/cmdline on Linux,
// it is what the process says about itself, which it could have rewritten.
func (p *windowsProcess) CommandLine() ([]string, error) {
	s, err := p.commandLine()
	// Reading memory of a process that has exited can fail or, while its
	// object lives on, still succeed: either way it is gone.
	if rerr := p.checkRunning(); rerr != nil {
		return nil, rerr
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read the command line of pid %d: %w", p.pid, err)
	}
	args, err := windows.DecomposeCommandLine(s)
	if err != nil {
		return nil, fmt.Errorf("failed to split the command line of pid %d: %w", p.pid, err)
	}
	return args, nil
}

// commandLine asks the kernel for the command line with the pinned handle's
// query rights (Windows 8.1 and later). Older systems, and Wine 8, do not
// know that information class; there the command line is read from the
// process's PEB, which takes a second handle with the right to read its
// memory.
func (p *windowsProcess) commandLine() (string, error) {
	// UNICODE_STRING lengths are 16-bit byte counts, so data behind the
	// header always fits: no retry with a larger buffer is needed.
	var info struct {
		s    windows.NTUnicodeString
		data [1 << 15]uint16
	}
	err := windows.NtQueryInformationProcess(p.h, windows.ProcessCommandLineInformation,
		unsafe.Pointer(&info), uint32(unsafe.Sizeof(info)), nil)
	if err == nil {
		return info.s.String(), nil
	}
	if !errors.Is(err, windows.STATUS_INVALID_INFO_CLASS) {
		return "", err
	}
	// The pinned handle keeps the PID from being reused, so this handle
	// reaches the same process.
	h, err := openProcess(windows.PROCESS_QUERY_INFORMATION|windows.PROCESS_VM_READ, p.pid)
	if err != nil {
		return "", err
	}
	defer windows.CloseHandle(h)
	return pebCommandLine(h)
}

// pebCommandLine follows the other process's PEB to its process parameters
// and reads the command line they point to. Those addresses belong to the
// other process, so they are kept as uintptr: as pointers, they could look
// to the garbage collector like pointers into this process's heap.
func pebCommandLine(h windows.Handle) (string, error) {
	const word = unsafe.Sizeof(uintptr(0))
	var basic [unsafe.Sizeof(windows.PROCESS_BASIC_INFORMATION{}) / word]uintptr
	if err := windows.NtQueryInformationProcess(h, windows.ProcessBasicInformation,
		unsafe.Pointer(&basic[0]), uint32(unsafe.Sizeof(basic)), nil); err != nil {
		return "", fmt.Errorf("failed to locate the PEB: %w", err)
	}
	peb := basic[unsafe.Offsetof(windows.PROCESS_BASIC_INFORMATION{}.PebBaseAddress)/word]
	var params uintptr
	if err := readMemory(h, peb+unsafe.Offsetof(windows.PEB{}.ProcessParameters), unsafe.Pointer(&params), word); err != nil {
		return "", fmt.Errorf("failed to read the PEB: %w", err)
	}
	// The same layout as windows.NTUnicodeString, with Buffer as a number.
	var cmd struct {
		Length, MaximumLength uint16
		Buffer                uintptr
	}
	if err := readMemory(h, params+unsafe.Offsetof(windows.RTL_USER_PROCESS_PARAMETERS{}.CommandLine),
		unsafe.Pointer(&cmd), unsafe.Sizeof(cmd)); err != nil {
		return "", fmt.Errorf("failed to read the process parameters: %w", err)
	}
	// Length is in bytes and at most 64 KiB, which bounds the read.
	buf := make([]uint16, cmd.Length/2)
	if len(buf) == 0 {
		return "", nil
	}
	if err := readMemory(h, cmd.Buffer, unsafe.Pointer(&buf[0]), uintptr(len(buf))*2); err != nil {
		return "", fmt.Errorf("failed to read the command line buffer: %w", err)
	}
	return windows.UTF16ToString(buf), nil
}

// readMemory reads exactly size bytes at addr in the other process.
func readMemory(h windows.Handle, addr uintptr, dst unsafe.Pointer, size uintptr) error {
	var n uintptr
	if err := windows.ReadProcessMemory(h, addr, (*byte)(dst), size, &n); err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("read %d of %d bytes at %#x", n, size, addr)
	}
	return nil
}
