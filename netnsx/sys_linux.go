package netnsx

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/check"

	"github.com/nstopo/nstopo/internal/failpoint"
)

// The system calls that make a namespace, each passing failpoint first so that a test
// can fail any step of New; netlink requests pass it in internal/rtnl. Cleanup calls
// are not wrapped: a test fails one step and watches the cleanup run for real.

func mount(source, target, fstype string, flags uintptr) error {
	if err := failpoint.Check(failpoint.Op{Name: "mount", Object: target}); err != nil {
		return err
	}
	return unix.Mount(source, target, fstype, flags, "")
}

// createFile creates an empty file at path, failing if anything is there.
func createFile(path string) error {
	if err := failpoint.Check(failpoint.Op{Name: "open", Object: path}); err != nil {
		return err
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if err == nil {
		_ = unix.Close(fd)
	}
	return err
}

func unshareNet() error {
	if err := failpoint.Check(failpoint.Op{Name: "unshare", Object: "CLONE_NEWNET"}); err != nil {
		return err
	}
	return unix.Unshare(unix.CLONE_NEWNET)
}

// writeSysctlAt writes key's file under sys, a descriptor of /proc/sys or of the sys
// directory of a private procfs (see withSysctls).
func writeSysctlAt(sys int, key, value string) error {
	if err := failpoint.Check(failpoint.Op{Name: "sysctl", Object: key}); err != nil {
		return err
	}
	f, err := openSysctlAt(sys, key, unix.O_WRONLY)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(value); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func openSysctlAt(sys int, key string, flags int) (*os.File, error) {
	path := check.SysctlPath(key)
	fd, err := unix.Openat(sys, strings.TrimPrefix(path, "/proc/sys/"), flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// withSysctls calls fn with a descriptor of the sys directory of procfs, as the calling
// thread's namespace sees it.
//
// It is a private instance of procfs where the kernel lets us make one (the new mount
// API, CAP_SYS_ADMIN over the PID namespace), else /proc. The dentries of every
// namespace's /proc/sys/net share one hash chain of /proc's cache, so a path under it
// costs a lookup that grows with the number of namespaces on the machine: at 4000
// namespaces one open took 9 ms; a new instance, whose cache is empty, takes 0.15 ms
// at any count.
func withSysctls(fn func(sys int) error) error {
	root, err := newProc()
	if err != nil {
		root, err = unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return &os.PathError{Op: "open", Path: "/proc", Err: err}
		}
	}
	defer unix.Close(root)
	sys, err := unix.Openat(root, "sys", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: "/proc/sys", Err: err}
	}
	defer unix.Close(sys)
	return fn(sys)
}

// newProc is privateProc; a test replaces it to take the other way.
var newProc = privateProc

// privateProc returns a detached mount of a new procfs instance, or an error if the
// kernel or our privileges do not allow one.
func privateProc() (int, error) {
	fs, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, err
	}
	defer unix.Close(fs)
	if err := unix.FsconfigCreate(fs); err != nil {
		return -1, err
	}
	return unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
}
