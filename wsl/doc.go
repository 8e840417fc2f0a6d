// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

// Package wsl stops the WSL 2 distros of Lima instances by running wsl.exe.
//
// Lima's wsl2 driver runs each instance in a distro named DistroName(name),
// "lima-" + name. Terminate stops one with wsl.exe --terminate and treats a
// distro that is already stopped or gone as success; WaitStopped confirms
// that it stopped; Shutdown stops all of WSL, which is the only way to
// release a locked ext4.vhdx and is never done by default. List and
// DistroState read wsl.exe --list --verbose.
//
// Everything goes through an Executor. Exec runs the real wsl.exe, bounded
// by the context and a timeout: a wsl.exe that hangs is killed and Run
// returns on time with an error wrapping context.DeadlineExceeded.
// wsltest.Fake is a scripted Executor for tests.
//
// wsl.exe's output is UTF-16LE and its messages are in the user's
// language. Decode reads UTF-16LE with or without a byte order mark, and
// UTF-8 (WSL_UTF8=1). Decisions never depend on translated text: the
// distro states in --list --verbose are printed untranslated, and a failed
// --terminate is judged by the distro's state afterwards.
//
// Per host:
//
//   - Windows: wsl.exe is found on PATH and started without a console
//     window, in a job object: a hung wsl.exe is killed together with
//     every process it started, and none outlives Run.
//   - Linux inside WSL: wsl.exe is run through WSL interop when it is on
//     PATH. It runs in its own process group, which is killed as a whole.
//   - Elsewhere: there is no wsl.exe and Exec.Run returns an error
//     wrapping errors.ErrUnsupported.
package wsl
