package netnsx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/check"
	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/internal/privilege"
	"github.com/nstopo/nstopo/internal/rtnl"
)

// runDir is where named namespaces live; /var/run/netns is a link to it on every
// current distribution, and `ip netns` uses the same directory.
const runDir = "/run/netns"

// threadNS is the calling thread's own namespace. /proc/self/ns/net would be the main
// thread's, which may be inside Do at that moment.
const threadNS = "/proc/thread-self/ns/net"

const (
	nsGetNSType = 0xb703 // NS_GET_NSTYPE: _IO(0xb7, 0x3)
	capsHint    = "CAP_SYS_ADMIN and CAP_NET_ADMIN"
)

type nsSys struct {
	file *os.File
	conn *rtnl.Conn
	dev  uint64 // with ino, identifies the namespace across handles
	ino  uint64
}

// hostFile is the namespace the process started in, captured before any code of this
// package can have moved a thread.
var hostFile, hostFileErr = os.Open(threadNS)

// runDirHint says what a refused change under /run/netns needs. A process that has the
// capabilities only in a user namespace of its own (`unshare -Urn`) is refused too, and
// needs to hear why: /run/netns belongs to a mount it does not own.
func runDirHint() string {
	if privilege.Has() && !privilege.InitialUserNS() {
		return capsHint + " over " + runDir + ", which this process has only in a user namespace that does not own " +
			"the mount there; call userns.Enter (tests: netnsxtest.Main), or mount a tmpfs on " + runDir +
			" in a mount namespace of its own"
	}
	return capsHint
}

// resolve refuses a nil handle: nil is never the host, so that the nil result of a
// failed constructor can never reach the real machine. The host is only Host().
func resolve(ns *NS) (*NS, error) {
	if ns == nil {
		return nil, errNilNS
	}
	return ns, nil
}

var errNilNS = errdefs.Invalid("nil namespace handle (the host is netnsx.Host())")

// Host returns a new handle on the namespace the process started in.
func Host() (*NS, error) {
	if hostFileErr != nil {
		return nil, fmt.Errorf("netnsx: open host: %w", errdefs.Kernel(hostFileErr, capsHint))
	}
	fd, err := unix.FcntlInt(hostFile.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("netnsx: open host: %w", errdefs.Kernel(err, ""))
	}
	ns := newNS("", fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), fd))
	ns.host = true
	if err := ns.attach(os.NewFile(uintptr(fd), ns.path)); err != nil {
		return nil, fmt.Errorf("netnsx: open host: %w", err)
	}
	return ns, nil
}

func newNS(name, path string) *NS {
	ns := &NS{name: name, path: path}
	ns.drained.L = &ns.mu
	return ns
}

// attach adopts f as the namespace's file and opens its netlink socket inside it.
func (ns *NS) attach(f *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		_ = f.Close()
		return errdefs.Kernel(err, "")
	}
	ns.sys = nsSys{file: f, dev: st.Dev, ino: st.Ino}
	err := enter(int(f.Fd()), func() (err error) {
		ns.sys.conn, err = rtnl.Open()
		return err
	})
	if err != nil {
		_ = f.Close()
		return errdefs.Kernel(err, capsHint)
	}
	return nil
}

// New creates a named namespace, as `ip netns add` does, and brings its lo up. It is
// Create(Config{Name: name}).
func New(name string) (*NS, error) { return Create(Config{Name: name}) }

// Create creates a named namespace as cfg says, as `ip netns add` does, and brings its
// lo up.
func Create(cfg Config) (*NS, error) {
	if err := check.NSName(cfg.Name); err != nil {
		return nil, fmt.Errorf("netnsx: new %s: %w", cfg.Name, err)
	}
	ns, err := create(cfg)
	if err != nil {
		return nil, fmt.Errorf("netnsx: new %s: %w", cfg.Name, err)
	}
	return ns, nil
}

// ipv4OnlyKeys turn IPv6 off for every interface of a namespace: "default" for those
// made later, "all" for lo, which exists from the start.
var ipv4OnlyKeys = []string{"net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"}

// disableIPv6 writes ipv4OnlyKeys in the calling thread's namespace. A kernel without
// IPv6 (ipv6.disable=1) has no such settings, and nothing to turn off.
func disableIPv6() error {
	return withSysctls(func(sys int) error {
		for _, key := range ipv4OnlyKeys {
			err := writeSysctlAt(sys, key, "1")
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("%s=1: %w", key, err)
			}
		}
		return nil
	})
}

func create(cfg Config) (_ *NS, err error) {
	name := cfg.Name
	if err := ensureRunDir(); err != nil {
		return nil, err
	}
	path := filepath.Join(runDir, name)
	if err := createFile(path); err != nil {
		return nil, fmt.Errorf("mount point %s: %w", path, errdefs.Kernel(err, runDirHint()))
	}
	ns := newNS(name, path)
	mounted := false
	defer func() {
		if err != nil {
			if ns.sys.conn != nil {
				ns.sys.conn.Close()
			}
			if ns.sys.file != nil {
				_ = ns.sys.file.Close()
			}
			if mounted {
				_ = unix.Unmount(path, unix.MNT_DETACH)
			}
			_ = os.Remove(path)
		}
	}()
	err = onThread(func(int) (bool, error) { return true, unshareNet() }, func() error {
		if err := mount(threadNS, path, "none", unix.MS_BIND); err != nil {
			return fmt.Errorf("bind mount: %w", err)
		}
		mounted = true
		f, err := os.Open(threadNS)
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			_ = f.Close()
			return err
		}
		ns.sys = nsSys{file: f, dev: st.Dev, ino: st.Ino}
		if cfg.IPv4Only {
			// Before lo is up and before any link exists: no link ever gets IPv6.
			if err := disableIPv6(); err != nil {
				return err
			}
		}
		if ns.sys.conn, err = rtnl.Open(); err != nil {
			return fmt.Errorf("netlink socket: %w", err)
		}
		up := true
		if err := ns.sys.conn.LinkSet(1, rtnl.LinkChange{Up: &up}); err != nil { // lo is always index 1
			return fmt.Errorf("lo up: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, errdefs.Kernel(err, capsHint)
	}
	return ns, nil
}

var (
	runDirMu    sync.Mutex
	runDirReady bool // set once /run/netns is known to be a shared mount
)

// ensureRunDir makes /run/netns a shared mount point, as `ip netns add` does, so that
// unmounting a namespace there propagates to every mount namespace and frees it. It
// does the work once per process.
func ensureRunDir() (err error) {
	runDirMu.Lock()
	defer runDirMu.Unlock()
	if runDirReady {
		return nil
	}
	defer func() { runDirReady = err == nil }()
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", runDir, errdefs.Kernel(err, runDirHint()))
	}
	for bound := false; ; bound = true {
		err := mount("", runDir, "none", unix.MS_SHARED|unix.MS_REC)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) || bound {
			return fmt.Errorf("make %s shared: %w", runDir, errdefs.Kernel(err, runDirHint()))
		}
		// Not a mount point yet: make it one, then share it.
		if err := mount(runDir, runDir, "none", unix.MS_BIND|unix.MS_REC); err != nil {
			return fmt.Errorf("bind %s: %w", runDir, errdefs.Kernel(err, runDirHint()))
		}
	}
}

// Open opens the named namespace, made by New or by `ip netns add`.
func Open(name string) (*NS, error) {
	if err := check.NSName(name); err != nil {
		return nil, fmt.Errorf("netnsx: open %s: %w", name, err)
	}
	ns, err := openPath(filepath.Join(runDir, name))
	if err != nil {
		return nil, fmt.Errorf("netnsx: open %s: %w", name, err)
	}
	ns.name = name
	return ns, nil
}

// OpenPath opens a namespace by file, such as Docker's /var/run/docker/netns/<id> or
// /proc/<pid>/ns/net. A file that is not a network namespace is ErrInvalid. The handle
// has no name: Delete refuses it, so a namespace this process did not name is never
// removed through it.
func OpenPath(path string) (*NS, error) {
	if path == "" || !filepath.IsAbs(path) {
		return nil, fmt.Errorf("netnsx: open %q: %w", path, errdefs.Invalid("path must be absolute"))
	}
	ns, err := openPath(path)
	if err != nil {
		return nil, fmt.Errorf("netnsx: open %s: %w", path, err)
	}
	return ns, nil
}

func openPath(path string) (*NS, error) {
	// O_PATH never blocks: open(2) of a FIFO for reading would wait for a writer forever.
	pfd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, errdefs.Kernel(err, capsHint)
	}
	defer func() { _ = unix.Close(pfd) }()
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(pfd, &sfs); err != nil {
		return nil, errdefs.Kernel(err, "")
	}
	if sfs.Type != unix.NSFS_MAGIC {
		return nil, errdefs.Invalid("%s is not a namespace", path)
	}
	// Only now is it safe to open for real (setns and ioctl refuse O_PATH descriptors).
	fd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", pfd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, errdefs.Kernel(err, capsHint)
	}
	f := os.NewFile(uintptr(fd), path)
	if t, err := unix.IoctlRetInt(fd, nsGetNSType); err != nil || t != unix.CLONE_NEWNET {
		_ = f.Close()
		return nil, errdefs.Invalid("%s is not a network namespace", path)
	}
	ns := newNS("", path)
	if err := ns.attach(f); err != nil {
		return nil, err
	}
	return ns, nil
}

// List returns the names of the namespaces under /run/netns, sorted.
func List() ([]string, error) {
	entries, err := os.ReadDir(runDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("netnsx: list: %w", errdefs.Kernel(err, ""))
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names, nil
}

// Delete removes the name of a namespace, as `ip netns del` does. The kernel frees the
// namespace once no process, socket or handle uses it any more.
func Delete(name string) error {
	if err := check.NSName(name); err != nil {
		return fmt.Errorf("netnsx: delete %s: %w", name, err)
	}
	if err := removeName(filepath.Join(runDir, name)); err != nil {
		return fmt.Errorf("netnsx: delete %s: %w", name, err)
	}
	return nil
}

// Close releases the handle's file and socket. It does not delete the namespace. It is
// idempotent and nil-safe; every later call on the handle fails with ErrClosed. Close
// waits for the handle's netlink requests in flight, but not for a function running in
// [NS.Do]: that function's thread keeps the namespace alive by itself, so it goes on
// safely, and waiting for it would deadlock a function that closes its own handle.
func (ns *NS) Close() error {
	if ns == nil {
		return nil
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if ns.closed {
		return nil
	}
	ns.closed = true
	for ns.refs > 0 {
		ns.drained.Wait()
	}
	ns.sys.conn.Close()
	return ns.sys.file.Close()
}

// Delete closes the handle and removes the namespace's name, if the name still refers
// to this handle's namespace. Only named namespaces can be deleted.
func (ns *NS) Delete() error { return DeleteAll(ns) }

// DeleteAll deletes many namespaces, the last given first, as deferred calls run: pass
// them in the order they were made. It removes every name, then closes every handle, so
// the kernel frees them in one batch after the deletions rather than during them, and
// it unmounts the newest first, the order in which unmounting is cheapest (at 1000
// namespaces, oldest first takes three times as long). A name that was deleted and made
// again since the handle was opened belongs to another namespace and is left alone
// (ErrNotFound). It returns every error, joined; nil, unnamed, closed and already
// deleted handles (also one given twice) are refused.
func DeleteAll(nss ...*NS) error {
	var errs []error
	claimed := make([]*NS, 0, len(nss))
	for i := len(nss) - 1; i >= 0; i-- {
		ns := nss[i]
		if err := ns.claim(); err != nil {
			errs = append(errs, fmt.Errorf("netnsx: delete %s: %w", ns, err))
			continue
		}
		claimed = append(claimed, ns)
		if err := ns.removeName(); err != nil {
			errs = append(errs, fmt.Errorf("netnsx: delete %s: %w", ns, err))
		}
	}
	for i := len(claimed) - 1; i >= 0; i-- {
		_ = claimed[i].Close()
	}
	return errors.Join(errs...)
}

// claim marks a named, open handle as being deleted, so that of two concurrent deletes
// one wins and the other is told the handle is closed.
func (ns *NS) claim() error {
	if ns == nil {
		return errNilNS
	}
	if ns.name == "" {
		return errdefs.Invalid("only a named namespace can be deleted")
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if ns.closed || ns.deleting {
		return errdefs.Closed
	}
	ns.deleting = true
	return nil
}

// removeName unmounts and removes the handle's name, but only while the name is still
// a mount of this handle's namespace: after someone deleted it and made a new one of
// the same name, the name is theirs.
func (ns *NS) removeName() error {
	fd, err := unix.Open(ns.path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return errdefs.Kernel(err, capsHint)
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	_ = unix.Close(fd)
	if err != nil {
		return errdefs.Kernel(err, "")
	}
	if st.Dev != ns.sys.dev || st.Ino != ns.sys.ino {
		return fmt.Errorf("%w: %s now names another namespace", ErrNotFound, ns.path)
	}
	return removeName(ns.path)
}

// removeName unmounts path, never following a symbolic link there (which would
// unmount the namespace it points to), and removes it.
func removeName(path string) error {
	err := unix.Unmount(path, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
	if err != nil && !errors.Is(err, unix.EINVAL) { // EINVAL: not a mount point
		return errdefs.Kernel(err, runDirHint())
	}
	if err := os.Remove(path); err != nil {
		return errdefs.Kernel(err, runDirHint())
	}
	return nil
}

// use runs fn with the namespace's socket and fd, holding the handle open meanwhile.
// Kernel errors come back mapped to the sentinels and wrapped as "netnsx: op obj: ".
func (ns *NS) use(op string, obj fmt.Stringer, fn func(c *rtnl.Conn, fd int) error) error {
	ns, err := resolve(ns)
	if err == nil {
		err = ns.useRaw(fn)
	}
	if err != nil {
		return fmt.Errorf("netnsx: %s %s: %w", op, obj, errdefs.Kernel(err, "CAP_NET_ADMIN"))
	}
	return nil
}

func (ns *NS) useRaw(fn func(c *rtnl.Conn, fd int) error) error {
	ns.mu.Lock()
	if ns.closed {
		ns.mu.Unlock()
		return errdefs.Closed
	}
	ns.refs++
	ns.mu.Unlock()
	defer func() {
		ns.mu.Lock()
		if ns.refs--; ns.refs == 0 && ns.closed {
			ns.drained.Broadcast()
		}
		ns.mu.Unlock()
	}()
	return fn(ns.sys.conn, int(ns.sys.file.Fd()))
}

// same reports whether two handles are one namespace; nil is no namespace.
func same(a, b *NS) bool {
	a, errA := resolve(a)
	b, errB := resolve(b)
	if errA != nil || errB != nil {
		return false
	}
	return a == b || (a.sys.dev == b.sys.dev && a.sys.ino == b.sys.ino)
}

// onThread runs fn on a fresh goroutine locked to its OS thread, after into has moved
// that thread to another namespace (into gets the thread's own namespace and says
// whether it moved), and moves it back afterwards — in a defer, so that a panic or
// runtime.Goexit in fn (t.FailNow, say) cannot leave the thread there; the main thread,
// which the runtime never discards, may be the one. If the thread cannot be moved back
// it stays locked, and the runtime discards it when the goroutine ends. A panic in fn is
// re-raised in the caller and Goexit is repeated there, so both behave as if fn had run
// on the caller's own goroutine.
func onThread(into func(orig int) (moved bool, err error), fn func() error) error {
	type result struct {
		err      error
		panicked bool
		value    any
		exited   bool // fn called runtime.Goexit
	}
	done := make(chan result, 1)
	go func() {
		res := result{exited: true} // stays so only if fn never returns nor panics
		defer func() { done <- res }()
		runtime.LockOSThread()
		orig, err := unix.Open(threadNS, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			res = result{err: err}
			return
		}
		defer func() { _ = unix.Close(orig) }()
		moved, err := into(orig)
		if err != nil {
			// setns and unshare fail whole, but a thread of unknown namespace is never reused.
			res = result{err: err}
			if !moved || unix.Setns(orig, unix.CLONE_NEWNET) == nil {
				runtime.UnlockOSThread()
			}
			return
		}
		defer func() {
			if moved {
				if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
					res = result{err: fmt.Errorf("return to the original namespace: %w", err)}
					return // still locked: the runtime ends this thread with the goroutine
				}
			}
			runtime.UnlockOSThread()
		}()
		defer func() {
			if v := recover(); v != nil {
				res = result{panicked: true, value: v}
			}
		}()
		err = fn()
		res = result{err: err}
	}()
	res := <-done
	switch {
	case res.panicked:
		panic(res.value)
	case res.exited:
		runtime.Goexit()
	}
	return res.err
}

// enter runs fn on a locked thread inside the namespace behind fd.
func enter(fd int, fn func() error) error {
	return onThread(func(orig int) (bool, error) { return switchTo(fd, orig) }, fn)
}

// switchTo moves the calling thread into the namespace behind fd unless it is there
// already: setns needs CAP_SYS_ADMIN even when it changes nothing, and reading the host
// namespace should not need privilege.
func switchTo(fd, orig int) (moved bool, err error) {
	var want, have unix.Stat_t
	if unix.Fstat(fd, &want) == nil && unix.Fstat(orig, &have) == nil && want.Dev == have.Dev && want.Ino == have.Ino {
		return false, nil
	}
	return true, unix.Setns(fd, unix.CLONE_NEWNET)
}
