package netnsx

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/rtnl"
)

// etcNetns is where `ip netns exec` finds per-namespace configuration files.
const etcNetns = "/etc/netns"

// startExec starts cmd from a thread that has entered the namespace and a private mount
// namespace prepared as `ip netns exec` prepares it. That thread never comes back: it
// stays locked, and the runtime ends it with its goroutine, so no other goroutine ever
// runs in the child's mount namespace.
func (ns *NS) startExec(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go ns.startOnThrowawayThread(cmd, errc)
	return <-errc
}

func (ns *NS) startOnThrowawayThread(cmd *exec.Cmd, errc chan<- error) {
	runtime.LockOSThread()
	if unix.Gettid() == unix.Getpid() {
		// The runtime never ends the main thread: keep it (locked, so no other goroutine
		// can get it) while a new goroutine, which must then be on another thread, works.
		defer runtime.UnlockOSThread()
		done := make(chan error, 1)
		go ns.startOnThrowawayThread(cmd, done)
		errc <- <-done
		return
	}
	err := ns.useRaw(func(_ *rtnl.Conn, fd int) error {
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("enter: %w", err)
		}
		return ns.mountsForExec()
	})
	if err == nil {
		err = cmd.Start()
	}
	errc <- err // and end locked: the runtime discards this thread
}

// mountsForExec gives the calling thread a mount namespace of its own, slave to the
// original so nothing propagates back, with the namespace's sysfs on /sys and
// /etc/netns/NAME/* over /etc.
func (ns *NS) mountsForExec() error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("new mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "none", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make / a slave mount: %w", err)
	}
	var flags uintptr
	var st unix.Statfs_t
	if unix.Statfs("/sys", &st) == nil && st.Flags&unix.ST_RDONLY != 0 {
		flags = unix.MS_RDONLY
	}
	// May fail where /sys is locked (a user namespace): sysfs then goes on top of it.
	_ = unix.Unmount("/sys", unix.MNT_DETACH)
	if err := unix.Mount(ns.String(), "/sys", "sysfs", flags, ""); err != nil {
		return fmt.Errorf("mount sysfs on /sys: %w", err)
	}
	if ns.name == "" {
		return nil
	}
	dir := filepath.Join(etcNetns, ns.name)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		src, dst := filepath.Join(dir, e.Name()), filepath.Join("/etc", e.Name())
		if err := unix.Mount(src, dst, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s over %s: %w", src, dst, err)
		}
	}
	return nil
}
