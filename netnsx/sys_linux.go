package netnsx

import (
	"os"

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

// writeSysctl sets a network setting of the calling thread's namespace.
func writeSysctl(key, value string) error {
	if err := failpoint.Check(failpoint.Op{Name: "sysctl", Object: key}); err != nil {
		return err
	}
	return os.WriteFile(check.SysctlPath(key), []byte(value), 0)
}
