// Package failpoint lets tests make one kernel call fail, to prove that a multi-step
// constructor removes what it made. The kernel-facing layers ask it before each call —
// internal/rtnl before every netlink request, netnsx before the file-system and mount
// calls of New — so constructors carry no injection points of their own. In normal use
// no hook is set and Check costs one atomic load.
package failpoint

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// Op is one kernel call about to be made.
type Op struct {
	// Name is the netlink message ("RTM_NEWLINK", "RTM_GETNEIGH") or the system call
	// ("mount", "unshare", "socket").
	Name string
	// Object is what the call is about when the caller knows it: an interface name,
	// a path. It may be empty.
	Object string
}

// Change reports whether the call changes kernel state, as netlink NEW, DEL and SET
// requests and the system calls do; netlink GET requests and dumps only read.
func (o Op) Change() bool { return !strings.HasPrefix(o.Name, "RTM_GET") }

func (o Op) String() string {
	if o.Object == "" {
		return o.Name
	}
	return o.Name + " " + o.Object
}

var hook atomic.Pointer[func(Op) error]

// Check returns the error the installed hook gives for op, or nil.
func Check(op Op) error {
	if f := hook.Load(); f != nil {
		return (*f)(op)
	}
	return nil
}

// Set installs f until the returned function is called. Tests only; the hook is
// process-wide, so tests that set it do not run in parallel.
func Set(f func(Op) error) (restore func()) {
	hook.Store(&f)
	return func() { hook.Store(nil) }
}

// FailNth makes the nth kernel call from now (counting from 1) fail with err, and only
// that one, so the cleanup that follows runs for real. fired reports whether the nth
// call came: a test walks n = 1, 2, ... until it did not, and has then failed every step.
func FailNth(n int, err error) (fired func() bool, restore func()) {
	var mu sync.Mutex
	count, hit := 0, false
	restore = Set(func(Op) error {
		mu.Lock()
		defer mu.Unlock()
		if count++; count == n {
			hit = true
			return err
		}
		return nil
	})
	return func() bool { mu.Lock(); defer mu.Unlock(); return hit }, restore
}

// Walk runs do once per kernel call it makes, failing a different one each time: the
// first, then the second, and so on. After each run that was failed, check gets the
// call's number, do's error and the error injected, to assert that do returned it and
// left nothing behind. Walk returns the number of calls failed, and do's error from the
// last run, which failed nothing and should have succeeded: its result is the caller's
// to remove.
func Walk(do func() error, check func(n int, err, injected error)) (calls int, err error) {
	for n := 1; ; n++ {
		injected := fmt.Errorf("injected at kernel call %d", n)
		fired, restore := FailNth(n, injected)
		err := do()
		restore()
		if !fired() {
			return n - 1, err
		}
		check(n, err, injected)
	}
}
