// Package netnsxtest provides test fixtures for code that uses network namespaces, in
// the spirit of net/http/httptest:
//
//	func TestIntegrationSomething(t *testing.T) {
//		client := netnsxtest.New(t, "client") // skips without privilege; deleted when the test ends
//		...
//	}
//
// With [Main] as TestMain, the same tests run as any user, not only as root:
//
//	func TestMain(m *testing.M) { netnsxtest.Main(m) }
//
// # Fixtures outlive crashes, never their owners
//
// A fixture namespace is named "nstt-<token>-<n>[-<label>]", where token is 16 hex
// digits drawn at random once per process. The process holds a shared flock(2) on the
// namespace itself (the nsfs file mounted at /run/netns/<name>) for as long as the
// fixture lives, and the kernel drops the lock when the process ends, however it ends.
// Sweep, which New runs once per process, removes a fixture only when it can take that
// lock itself: a crashed, killed or timed-out test leaves fixtures behind, and the next
// test binary to run removes them; a live one, in any PID namespace (a container, a
// shell under `unshare -pf --mount-proc`) keeps them, because a lock, unlike a PID,
// means the same thing to every process that can see the name.
package netnsxtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nstopo/nstopo/internal/echo"
	"github.com/nstopo/nstopo/netnsx"
)

const (
	prefix   = "nstt-"
	tokenLen = 16 // hex digits
	labelMax = 32 // bytes of a label kept in a fixture's name
	nameMin  = 12 // bytes: "nt", 4 of the token, the 6-digit counter
	// nameCounterMax keeps Name's counter at 6 hex digits: fixed widths are what make
	// a name unambiguous.
	nameCounterMax = 0xffffff
)

// token names this process in its fixtures and in Name. Its first digit is a letter
// (a-f) so that no token reads as a decimal number: releases before the lock rule,
// still run by other checkouts on the same machine, parse "nstt-<pid>-<start>-<n>"
// and delete what they take for a dead PID.
var token = newToken()

func newToken() string {
	var b [tokenLen / 2]byte
	_, _ = rand.Read(b[:]) // never fails on Linux; it panics rather than return short
	b[0] = (0xa+(b[0]>>4)%6)<<4 | b[0]&0x0f
	return hex.EncodeToString(b[:])
}

var (
	probeOnce sync.Once
	probeErr  error
	counter   atomic.Uint64
	sweepOnce sync.Once
)

// errSwept: another process's Sweep took a fixture for an orphan in the moment between
// its creation and its lock. Nothing had used it yet; New makes another.
var errSwept = errors.New("swept before it was locked")

// RequirePrivileged skips the test, saying why, unless the process can create network
// namespaces (root, or CAP_SYS_ADMIN and CAP_NET_ADMIN, on Linux).
func RequirePrivileged(tb testing.TB) {
	tb.Helper()
	probeOnce.Do(func() {
		ns, lock, err := newFixture("probe", netnsx.Config{})
		if err != nil {
			probeErr = err
			return
		}
		probeErr = ns.Delete()
		_ = lock.Close()
	})
	if probeErr != nil {
		if enterErr != nil { // the real cause: Main could not get the capabilities
			tb.Skipf("cannot create network namespaces: %v", enterErr)
		}
		tb.Skipf("cannot create network namespaces (needs Linux, CAP_SYS_ADMIN and CAP_NET_ADMIN; "+
			"without root, call netnsxtest.Main from TestMain): %v", probeErr)
	}
}

// New returns a fresh namespace that is deleted when the test and its subtests end. It
// skips the test when namespaces cannot be made.
//
// An optional label says what the namespace is for ("client", "router"). It ends the
// namespace's name, "nstt-<token>-<n>-<label>", so every message that names the
// namespace — this package's, netnsx's errors, `ip netns list` — shows it. A label is
// cut to 32 bytes and every byte other than an ASCII letter, digit, '.', '_' or '-'
// becomes '_', so that t.Name() of a subtest ("TestX/case_1") can serve. More than one
// label fails the test.
func New(tb testing.TB, label ...string) *netnsx.NS {
	tb.Helper()
	return create(tb, netnsx.Config{}, label)
}

// NewIPv4Only is New for a namespace made with netnsx.Config.IPv4Only: IPv6 is off
// before any interface exists, so no interface in it has an IPv6 address or sends
// IPv6 autoconfiguration multicast.
func NewIPv4Only(tb testing.TB, label ...string) *netnsx.NS {
	tb.Helper()
	return create(tb, netnsx.Config{IPv4Only: true}, label)
}

func create(tb testing.TB, cfg netnsx.Config, label []string) *netnsx.NS {
	tb.Helper()
	if len(label) > 1 {
		tb.Fatalf("netnsxtest: New takes at most one label, got %q", label)
	}
	RequirePrivileged(tb)
	sweepOnce.Do(func() { _, _ = Sweep() })
	ns, lock, err := newFixture(strings.Join(label, ""), cfg)
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
		_ = lock.Close() // only now: until the name is gone, the lock keeps sweeps away
		if err != nil {
			tb.Errorf("netnsxtest: %v", err)
		}
	})
	return ns
}

// fixtureName is "nstt-<token>-<n>", then "-<label>" if the sanitized label is not
// empty.
func fixtureName(label string) string {
	name := fmt.Sprintf("%s%s-%d", prefix, token, counter.Add(1))
	if label = sanitize(label); label != "" {
		name += "-" + label
	}
	return name
}

// sanitize makes a label safe in a namespace name and short.
func sanitize(label string) string {
	if len(label) > labelMax {
		label = label[:labelMax]
	}
	b := []byte(label)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

// fixtureToken returns the owner's token of a fixture name, "nstt-<token>-<n>" with
// an optional "-<label>", and false for any other name (old "nstt-<pid>-<start>-<n>"
// names included: whether their PID is alive cannot be told from here, so they are
// left alone).
func fixtureToken(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok || len(rest) < tokenLen+2 || rest[tokenLen] != '-' {
		return "", false
	}
	tok := rest[:tokenLen]
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", false
		}
	}
	num, _, _ := strings.Cut(rest[tokenLen+1:], "-")
	if num == "" {
		return "", false
	}
	for i := 0; i < len(num); i++ {
		if num[i] < '0' || num[i] > '9' {
			return "", false
		}
	}
	return tok, true
}

// Name returns a name for an object a test makes itself, outside its fixtures: a
// namespace of its own, or an interface in the host namespace. It is unique in this
// process, and another process makes the same one only if their random tokens share
// the digits kept. Name(0) is "nt", the 16-digit token and a 6-digit counter (24
// bytes); with n > 0 the name has at most n bytes, as few of the token as fit (n must
// be 0 or at least 12; 15 fits an interface name). The widths are fixed, so no name is
// a prefix of another of the same length: Name(0)+"-" is a safe prefix for a family of
// names a test deletes by prefix.
func Name(n int) string {
	c := counter.Add(1)
	if c > nameCounterMax {
		panic(fmt.Sprintf("netnsxtest: more than %d names in one process", nameCounterMax))
	}
	k := tokenLen
	if n > 0 && n < 2+tokenLen+6 {
		if n < nameMin {
			panic(fmt.Sprintf("netnsxtest: Name(%d): a name needs at least %d bytes", n, nameMin))
		}
		k = n - 8
	}
	return fmt.Sprintf("nt%s%06x", token[tokenLen-k:], c)
}

// Sweep deletes the fixture namespaces, made by any process, whose owner has ended (no
// process holds its lock), and reports how many it deleted. New calls it once per
// process. Names of the old form, "nstt-<pid>-<start>-<n>", are left alone.
func Sweep() (int, error) {
	names, err := netnsx.List()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, name := range names {
		if tok, ok := fixtureToken(name); ok && tok != token && sweep(name) {
			n++
		}
	}
	return n, nil
}

// RequireTCP makes one small TCP round trip: it listens on addr inside to, dials addr
// from inside from, and expects what it sent echoed back. It fails the test otherwise.
// It proves the path, with a service of its own; to probe the test's own service, use
// RequireDial.
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
	defer func() { _ = l.Close() }()
	payload := make([]byte, size)
	_, _ = rand.Read(payload)
	if err := echo.RoundTrip(ctx, from, addr, payload); err != nil {
		tb.Fatalf("netnsxtest: %d bytes over TCP from %s to %s: %v", size, from, addr, err)
	}
}

// reachDeadline is how long RequireReachable waits for an address to answer.
const reachDeadline = 3 * time.Second

// RequireReachable pings every address from inside from, all at once — Mininet's
// pingAll for one test — and fails the test naming each address that did not answer,
// with its last error. An address has 3 s to answer one echo, asked again each second,
// so a call takes about 3 s at most however many addresses are dead.
func RequireReachable(tb testing.TB, from *netnsx.NS, to ...netip.Addr) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), reachDeadline)
	defer cancel()
	errs := make([]error, len(to))
	var wg sync.WaitGroup
	for i, dst := range to {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = pingUntil(ctx, from, dst)
		}()
	}
	wg.Wait()
	var failed []string
	for i, err := range errs {
		if err != nil {
			failed = append(failed, fmt.Sprintf("\t%s: %v", to[i], err))
		}
	}
	if len(failed) > 0 {
		tb.Fatalf("netnsxtest: from %s, %d of %d addresses did not answer within %v:\n%s",
			from, len(failed), len(to), reachDeadline, strings.Join(failed, "\n"))
	}
}

// pingUntil sends one echo a second until one is answered or ctx ends, and returns the
// last error.
func pingUntil(ctx context.Context, ns *netnsx.NS, dst netip.Addr) error {
	for {
		next := time.Now().Add(time.Second)
		pctx, cancel := context.WithDeadline(ctx, next)
		_, err := ns.Ping(pctx, dst)
		cancel()
		if err == nil || errors.Is(err, netnsx.ErrInvalid) {
			return err // answered, or never will be
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Until(next)):
		}
	}
}

// dialTimeout bounds RequireDial: long enough for a SYN lost to a link still coming up
// and its retransmission a second later.
const dialTimeout = 5 * time.Second

// RequireDial opens a TCP connection from inside from to addr and closes it, and fails
// the test if the connection is not accepted within 5 s. It listens on nothing itself:
// the service is the test's own (a program started with NS.Start, a listener), so this
// proves that the test's service is up and reachable from from. Compare RequireTCP,
// which brings its own echo service. For a service that is still starting, call
// WaitListening first.
func RequireDial(tb testing.TB, from *netnsx.NS, addr string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	c, err := from.Dial(ctx, "tcp", addr)
	if err != nil {
		tb.Fatalf("netnsxtest: connect from %s to %s: %v", from, addr, err)
	}
	_ = c.Close()
}

// WaitListening waits until something accepts connections on addr, connecting from
// inside ns again and again (after 10 ms, then twice as long each time, up to 250 ms
// apart), and fails the test with the last error if nothing has within timeout. It is
// for programs started with NS.Start, which listen some time after they start. network
// is "tcp", "tcp4" or "tcp6": nothing tells whether a UDP port is served without
// speaking its protocol.
func WaitListening(tb testing.TB, ns *netnsx.NS, network, addr string, timeout time.Duration) {
	tb.Helper()
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		tb.Fatalf("netnsxtest: wait for %s %s in %s: network must be tcp, tcp4 or tcp6", network, addr, ns)
	}
	start := time.Now()
	deadline := start.Add(timeout)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var last error
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 250*time.Millisecond) {
		c, err := ns.Dial(ctx, network, addr)
		if err == nil {
			_ = c.Close()
			return
		}
		if last == nil || ctx.Err() == nil {
			last = err // not the timeout's own error, when an earlier one says more
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("netnsxtest: nothing listening on %s %s in %s after %v: %v",
				network, addr, ns, time.Since(start).Round(time.Millisecond), last)
		case <-time.After(wait):
		}
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
		_ = f.Close()
		_ = os.Remove(f.Name())
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
		_ = os.Remove(f.Name())
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
