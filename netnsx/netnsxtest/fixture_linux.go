package netnsxtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/netnsx"
)

// runDir is where netnsx names namespaces.
const runDir = "/run/netns"

// newFixture makes a namespace named for this process and locks it.
func newFixture(label string, cfg netnsx.Config) (*netnsx.NS, *os.File, error) {
	for try := 1; ; try++ {
		name := fixtureName(label)
		cfg.Name = name
		ns, err := netnsx.Create(cfg)
		if err != nil {
			return nil, nil, err
		}
		lock, err := lockFixture(filepath.Join(runDir, name))
		if err == nil {
			return ns, lock, nil
		}
		_ = ns.Delete() // unless the sweep that took it already did
		if !errors.Is(err, errSwept) || try == 3 {
			return nil, nil, fmt.Errorf("lock %s: %w", name, err)
		}
	}
}

// lockFixture takes the shared lock on the namespace mounted at path, and checks that
// the name still refers to it: a sweep may have deleted it before the lock was taken.
func lockFixture(path string) (*os.File, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errSwept
	}
	if err != nil {
		return nil, err
	}
	fd := int(f.Fd())
	if err := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errSwept
		}
		return nil, err
	}
	if !isNamespace(fd) || !sameFile(fd, path) {
		_ = f.Close()
		return nil, errSwept
	}
	return f, nil
}

// sweep deletes the named fixture if no process holds its lock, and reports whether it
// did.
func sweep(name string) bool {
	path := filepath.Join(runDir, name)
	// O_NONBLOCK: opening is not checking, and a FIFO would block a plain open.
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }() // after the delete: until then the lock keeps other sweeps out
	fd := int(f.Fd())
	if !isNamespace(fd) {
		return false // not mounted yet: New is making it right now
	}
	if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) != nil {
		return false // its owner is alive
	}
	if !sameFile(fd, path) {
		return false // another sweep deleted it meanwhile
	}
	return netnsx.Delete(name) == nil
}

// isNamespace tells an nsfs file (a namespace) from the empty file New mounts it on.
func isNamespace(fd int) bool {
	var fs unix.Statfs_t
	return unix.Fstatfs(fd, &fs) == nil && fs.Type == unix.NSFS_MAGIC
}

// sameFile reports whether fd is the file path names now.
func sameFile(fd int, path string) bool {
	var a, b unix.Stat_t
	return unix.Fstat(fd, &a) == nil && unix.Stat(path, &b) == nil && a.Dev == b.Dev && a.Ino == b.Ino
}
