// Package netnsxtest provides test fixtures for code that uses network namespaces, in
// the spirit of net/http/httptest:
//
//	func TestIntegrationSomething(t *testing.T) {
//		ns := netnsxtest.New(t) // skips without privilege; deleted when the test ends
//		...
//	}
//
// Fixture namespaces are named "nstt-<pid>-<start>-<n>", after the process that made
// them, so that a later New, in any process, can remove those whose process has died
// without cleaning up (a crash, a SIGKILL, a timeout).
package netnsxtest

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nstopo/nstopo/internal/echo"
	"github.com/nstopo/nstopo/netnsx"
)

const prefix = "nstt-"

var (
	probeOnce sync.Once
	probeErr  error
	counter   atomic.Uint64
	sweepOnce sync.Once
)

// RequirePrivileged skips the test, saying why, unless the process can create network
// namespaces (root, or CAP_SYS_ADMIN and CAP_NET_ADMIN, on Linux).
func RequirePrivileged(tb testing.TB) {
	tb.Helper()
	probeOnce.Do(func() {
		ns, err := netnsx.New(fixtureName())
		if err != nil {
			probeErr = err
			return
		}
		probeErr = ns.Delete()
	})
	if probeErr != nil {
		tb.Skipf("cannot create network namespaces (needs Linux, CAP_SYS_ADMIN and CAP_NET_ADMIN): %v", probeErr)
	}
}

// New returns a fresh, uniquely named namespace that is deleted when the test and its
// subtests end. It skips the test when namespaces cannot be made.
func New(tb testing.TB) *netnsx.NS {
	tb.Helper()
	RequirePrivileged(tb)
	sweepOnce.Do(func() { _, _ = Sweep() })
	ns, err := netnsx.New(fixtureName())
	if err != nil {
		tb.Fatalf("netnsxtest: %v", err)
	}
	tb.Cleanup(func() {
		err := ns.Delete()
		if errors.Is(err, netnsx.ErrClosed) {
			// The test closed the handle itself; the name may still be there.
			if err = netnsx.Delete(ns.Name()); errors.Is(err, netnsx.ErrNotFound) {
				err = nil
			}
		}
		if err != nil {
			tb.Errorf("netnsxtest: %v", err)
		}
	})
	return ns
}

// Name returns a name, unique on this machine, for a fixture the test makes itself: a
// namespace (up to 255 bytes) or, cut to n bytes, an interface in the host namespace.
func Name(n int) string {
	s := fmt.Sprintf("nt%x%x", os.Getpid()&0xfffff, counter.Add(1))
	if n > 0 && len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

func fixtureName() string {
	return fmt.Sprintf("%s%d-%d-%d", prefix, os.Getpid(), startTime(os.Getpid()), counter.Add(1))
}

// Sweep deletes fixture namespaces whose creating process no longer exists, and
// reports how many it deleted. New calls it once per process.
func Sweep() (int, error) {
	names, err := netnsx.List()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, name := range names {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		parts := strings.Split(name[len(prefix):], "-")
		if len(parts) != 3 {
			continue
		}
		pid, err1 := strconv.Atoi(parts[0])
		start, err2 := strconv.ParseUint(parts[1], 10, 64)
		if err1 != nil || err2 != nil || (pid > 0 && startTime(pid) == start) {
			continue // alive, or not ours
		}
		if netnsx.Delete(name) == nil {
			n++
		}
	}
	return n, nil
}

// startTime is the process's start time in clock ticks since boot (field 22 of
// /proc/PID/stat), which tells a live process from a later one that reused its PID.
// 0 means the process does not exist.
func startTime(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:] // the command name may hold spaces
	}
	f := strings.Fields(s)
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}

// RequireTCP makes one small TCP round trip: it listens on addr inside to, dials addr
// from inside from, and expects what it sent echoed back. It fails the test otherwise.
func RequireTCP(tb testing.TB, from, to *netnsx.NS, addr string) {
	tb.Helper()
	RequireTransfer(tb, from, to, addr, 64)
}

// RequireTransfer is RequireTCP with size random bytes each way: a bulk transfer, which
// fails where small packets pass but full-sized ones do not (an MTU too large for the
// path, say).
func RequireTransfer(tb testing.TB, from, to *netnsx.NS, addr string, size int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := echo.Serve(ctx, to, addr)
	if err != nil {
		tb.Fatalf("netnsxtest: listen %s in %s: %v", addr, to, err)
	}
	defer l.Close()
	payload := make([]byte, size)
	_, _ = rand.Read(payload)
	if err := echo.RoundTrip(ctx, from, addr, payload); err != nil {
		tb.Fatalf("netnsxtest: %d bytes over TCP from %s to %s: %v", size, from, addr, err)
	}
}

// RequireReachable pings each address from inside from — Mininet's pingAll for one
// test — allowing each up to three tries of one second, and fails the test naming every
// address that did not answer.
func RequireReachable(tb testing.TB, from *netnsx.NS, to ...netip.Addr) {
	tb.Helper()
	var failed []string
	for _, dst := range to {
		var err error
		for try := 0; try < 3; try++ {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err = from.Ping(ctx, dst)
			cancel()
			if err == nil {
				break
			}
		}
		if err != nil {
			failed = append(failed, err.Error())
		}
	}
	if len(failed) > 0 {
		tb.Fatalf("netnsxtest: unreachable from %s:\n%s", from, strings.Join(failed, "\n"))
	}
}

// Capture records every frame on ifname inside ns from now until the test ends. If the
// test failed, the pcap file is kept — in go test's -outputdir if set, else under the
// system's temporary directory — and its path logged for `tcpdump -r`; otherwise it is
// removed.
func Capture(tb testing.TB, ns *netnsx.NS, ifname string) {
	tb.Helper()
	dir := os.TempDir()
	if f := flag.Lookup("test.outputdir"); f != nil && f.Value.String() != "" {
		dir = f.Value.String()
	}
	safe := strings.NewReplacer("/", "_", " ", "_", "*", "_").Replace(fmt.Sprintf("%s-%s-%s", tb.Name(), ns, ifname))
	f, err := os.CreateTemp(dir, safe+"-*.pcap")
	if err != nil {
		tb.Fatalf("netnsxtest: capture file: %v", err)
	}
	c, err := ns.StartCapture(ifname, f)
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		tb.Fatalf("netnsxtest: %v", err)
	}
	tb.Cleanup(func() {
		err := c.Close()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			tb.Errorf("netnsxtest: capture on %s in %s: %v", ifname, ns, err)
		}
		if tb.Failed() {
			tb.Logf("netnsxtest: frames on %s in %s kept in %s", ifname, ns, f.Name())
			return
		}
		os.Remove(f.Name())
	})
}

// WatchThreads starts n goroutines that, scheduled on whatever threads the runtime
// picks, keep checking that the thread under them is in the host namespace — the
// namespace the calling thread is in now. The returned stop ends them and fails the test
// if any saw a foreign namespace: proof that no thread outside NS.Do was left in one.
func WatchThreads(tb testing.TB, n int) (stop func()) {
	tb.Helper()
	host := threadNS()
	done := make(chan struct{})
	var wg sync.WaitGroup
	var foreign atomic.Int64
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if threadNS() != host {
					foreign.Add(1)
				}
				runtime.Gosched()
			}
		}()
	}
	return func() {
		tb.Helper()
		close(done)
		wg.Wait()
		if k := foreign.Load(); k > 0 {
			tb.Errorf("netnsxtest: %d times a goroutine outside Do ran on a thread in a foreign namespace", k)
		}
	}
}

// threadNS identifies the calling thread's network namespace.
func threadNS() string {
	s, _ := os.Readlink("/proc/thread-self/ns/net")
	return s
}
