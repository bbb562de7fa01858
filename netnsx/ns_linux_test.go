package netnsx_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/failpoint"
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

func TestIntegrationNewIsSeenByIP(t *testing.T) {
	ns := netnsxtest.New(t)
	require.Contains(t, iptest.Netns(t), ns.Name())
	require.Equal(t, filepath.Join("/run/netns", ns.Name()), ns.Path())
	lo := iptest.Links(t, ns.Name())["lo"]
	require.Contains(t, lo.Flags, "UP", "New brings lo up")
	out, err := exec.Command("ip", "netns", "exec", ns.Name(), "ip", "-br", "link").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, 1, strings.Count(strings.TrimSpace(string(out)), "\n")+1, "a new namespace holds lo only: %s", out)

	_, err = netnsx.New(ns.Name())
	require.ErrorIs(t, err, netnsx.ErrExists)
	require.ErrorIs(t, err, unix.EEXIST, "the errno stays reachable")
	require.Contains(t, err.Error(), "netnsx: new "+ns.Name())
}

func TestIntegrationOpenWhatIPMade(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	name := "nstopo-ip-" + netnsxtest.Name(0)
	require.NoError(t, exec.Command("ip", "netns", "add", name).Run())
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })

	names, err := netnsx.List()
	require.NoError(t, err)
	require.Contains(t, names, name)
	ns, err := netnsx.Open(name)
	require.NoError(t, err)
	lo, err := ns.Link("lo")
	require.NoError(t, err)
	require.NoError(t, lo.Up())
	require.Contains(t, iptest.Links(t, name)["lo"].Flags, "UP", "Open reaches the namespace ip made")
	require.NoError(t, ns.Delete())
	require.NotContains(t, iptest.Netns(t), name, "Delete removes it for ip too")

	_, err = netnsx.Open(name)
	require.ErrorIs(t, err, netnsx.ErrNotFound)
	require.ErrorIs(t, netnsx.Delete(name), netnsx.ErrNotFound)
}

// sameAs checks through ns that it is the namespace named want: an address added
// through ns shows in `ip -n want`.
func sameAs(t *testing.T, ns *netnsx.NS, want string, addr string) {
	t.Helper()
	lo, err := ns.Link("lo")
	require.NoError(t, err)
	require.NoError(t, lo.AddAddr(netip.MustParsePrefix(addr)))
	var got []string
	for _, a := range iptest.Links(t, want)["lo"].AddrInfo {
		got = append(got, fmt.Sprintf("%s/%d", a.Local, a.Prefixlen))
	}
	require.Contains(t, got, addr)
}

func TestIntegrationOpenPath(t *testing.T) {
	ns := netnsxtest.New(t)

	// A process's namespace, as /proc/<pid>/ns/net.
	cmd := exec.Command("sleep", "60")
	require.NoError(t, ns.Start(cmd))
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	byPID, err := netnsx.OpenPath(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid))
	require.NoError(t, err)
	defer byPID.Close()
	require.Equal(t, "", byPID.Name(), "a namespace opened by path has no name")
	sameAs(t, byPID, ns.Name(), "127.0.0.2/8")
	require.ErrorIs(t, byPID.Delete(), netnsx.ErrInvalid, "an unnamed namespace is never deleted")

	// Docker's layout: /var/run/docker/netns/<SandboxKey id>, a bind mount ip cannot list.
	dir := filepath.Join(t.TempDir(), "docker", "netns")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	sandbox := filepath.Join(dir, "7ca58b86b82c")
	require.NoError(t, os.WriteFile(sandbox, nil, 0o444))
	require.NoError(t, unix.Mount(ns.Path(), sandbox, "none", unix.MS_BIND, ""))
	t.Cleanup(func() { _ = unix.Unmount(sandbox, unix.MNT_DETACH) })
	docker, err := netnsx.OpenPath(sandbox)
	require.NoError(t, err)
	defer docker.Close()
	sameAs(t, docker, ns.Name(), "127.0.0.3/8")

	for path, want := range map[string]error{
		"/etc/hostname":              netnsx.ErrInvalid,  // not a namespace
		"/proc/self/ns/uts":          netnsx.ErrInvalid,  // a namespace, not a network one
		filepath.Join(dir, "absent"): netnsx.ErrNotFound, // missing
	} {
		_, err := netnsx.OpenPath(path)
		require.ErrorIs(t, err, want, path)
	}
}

func TestIntegrationClosedHandleRefusesEverything(t *testing.T) {
	ns := netnsxtest.New(t)
	lo, err := ns.Link("lo")
	require.NoError(t, err)
	require.NoError(t, ns.Close())
	require.NoError(t, ns.Close(), "Close is idempotent")

	_, errLinks := ns.Links()
	_, errLink := ns.Link("lo")
	_, errRoutes := ns.Routes()
	_, errAddrs := lo.Addrs()
	_, errRoutesIn := ns.RoutesIn(100)
	_, errStats := lo.Stats()
	_, errOutput := ns.Output(context.Background(), "true")
	other := netnsxtest.New(t)
	for i, err := range []error{
		errLinks, errLink, errRoutes, errAddrs, errRoutesIn, errStats, errOutput,
		lo.RemoveAddr(netip.MustParsePrefix("127.0.0.1/8")), lo.SetName("lo9"),
		lo.SetHardwareAddr(net.HardwareAddr{2, 0, 0, 0, 0, 9}), lo.NoMaster(), lo.SetNS(other),
		ns.ReplaceRoute(netnsx.Route{Dst: netip.MustParsePrefix("10.9.0.0/16"), Dev: "lo"}),
		ns.DeleteRoute(netnsx.Route{Dst: netip.MustParsePrefix("10.9.0.0/16"), Dev: "lo"}),
		ns.Do(func() error { t.Error("Do ran on a closed namespace"); return nil }),
		lo.Up(), lo.SetMTU(1500), lo.AddAddr(netip.MustParsePrefix("127.0.0.9/8")),
		ns.AddRoute(netnsx.Route{Dst: netip.MustParsePrefix("10.9.0.0/16"), Dev: "lo"}),
		ns.Delete(),
	} {
		require.ErrorIs(t, err, netnsx.ErrInvalid, "call %d", i)
		require.ErrorIs(t, err, netnsx.ErrClosed, "call %d", i)
	}
	// The host was not touched in its place: nothing took 127.0.0.9 or 10.9.0.0/16.
	host, err := netnsx.Host()
	require.NoError(t, err)
	defer host.Close()
	routes, err := host.Routes()
	require.NoError(t, err)
	for _, r := range routes {
		require.NotEqual(t, "10.9.0.0/16", r.Dst.String())
	}
	// The namespace itself is still there until deleted by name.
	require.Contains(t, iptest.Netns(t), ns.Name())
	require.NoError(t, netnsx.Delete(ns.Name()))
}

// nsInode identifies the namespace behind path (a bind mount or a /proc link).
func nsInode(t testing.TB, path string) uint64 {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Errorf("stat %s: %v", path, err)
	}
	return st.Ino
}

// TestIntegrationDoUnderLoad runs many Do calls in many namespaces at once while
// watcher goroutines, free to run on any thread, check that the thread under them is in
// the host namespace. A thread leaked into a namespace would sooner or later carry one.
func TestIntegrationDoUnderLoad(t *testing.T) {
	const namespaces, workers, rounds, watchers = 8, 64, 40, 8
	hostIno := nsInode(t, "/proc/thread-self/ns/net")
	nss := make([]*netnsx.NS, namespaces)
	inos := make([]uint64, namespaces)
	for i := range nss {
		nss[i] = netnsxtest.New(t)
		inos[i] = nsInode(t, nss[i].Path())
	}

	stop := netnsxtest.WatchThreads(t, watchers)
	var wg sync.WaitGroup
	boom := errors.New("boom")
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				i := (w + r) % namespaces
				err := nss[i].Do(func() error {
					if got := nsInode(t, "/proc/thread-self/ns/net"); got != inos[i] {
						t.Errorf("Do in %d ran in %d", inos[i], got)
					}
					if r%5 == 0 {
						return boom
					}
					return nil
				})
				if (r%5 == 0) != errors.Is(err, boom) {
					t.Errorf("Do returned %v", err)
				}
			}
		}(w)
	}
	wg.Wait()
	stop()
	// With every Do finished, every thread of the process is back home.
	tasks, err := filepath.Glob("/proc/self/task/*/ns/net")
	require.NoError(t, err)
	for _, task := range tasks {
		if got := nsInode(t, task); got != hostIno {
			t.Errorf("thread %s is in %d after Do returned", task, got)
		}
	}
}

func TestIntegrationDoPanicAndGoexit(t *testing.T) {
	ns := netnsxtest.New(t)
	hostIno := nsInode(t, "/proc/thread-self/ns/net")
	func() {
		defer func() {
			require.Equal(t, "inside", recover(), "a panic in fn reaches the caller")
		}()
		_ = ns.Do(func() error { panic("inside") })
	}()
	require.Equal(t, hostIno, nsInode(t, "/proc/thread-self/ns/net"))

	done := make(chan bool)
	go func() {
		returned := false
		defer func() { done <- returned }()
		_ = ns.Do(func() error { runtimeGoexit(); return nil })
		returned = true
	}()
	require.False(t, <-done, "Goexit in fn (t.FailNow) ends the caller too")
}

func TestIntegrationRunInside(t *testing.T) {
	ns := netnsxtest.New(t)
	var out strings.Builder
	cmd := exec.Command("ip", "-o", "link")
	cmd.Stdout = &out
	require.NoError(t, ns.Run(cmd))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 1, "the child sees the namespace's links only: %s", out.String())
	require.Contains(t, lines[0], "lo:")
}

func TestIntegrationRoutes(t *testing.T) {
	ns := netnsxtest.New(t)
	lo, err := ns.Link("lo")
	require.NoError(t, err)
	require.NoError(t, lo.AddAddr(netip.MustParsePrefix("10.77.0.1/24")))
	p, a := netip.MustParsePrefix, netip.MustParseAddr
	for _, r := range []netnsx.Route{
		{Dst: p("10.78.0.0/16"), Dev: "lo"},
		{Dst: p("10.79.0.0/16"), Gateway: a("10.77.0.2")},
		{Gateway: a("10.77.0.3")},
	} {
		require.NoError(t, ns.AddRoute(r), "%+v", r)
	}
	require.ErrorIs(t, ns.AddRoute(netnsx.Route{Dst: p("10.78.0.0/16"), Dev: "lo"}), netnsx.ErrExists)
	require.ErrorIs(t, ns.AddRoute(netnsx.Route{Dst: p("10.80.0.0/16"), Dev: "nosuch0"}), netnsx.ErrNotFound)

	var fromIP []string
	for _, r := range iptest.Routes(t, ns.Name(), "4") {
		fromIP = append(fromIP, fmt.Sprintf("%s %s %s", r.Dst, r.Gateway, r.Dev))
	}
	routes, err := ns.Routes()
	require.NoError(t, err)
	var mine []string
	for _, r := range routes {
		if !r.Dst.Addr().Is4() {
			continue
		}
		dst := r.Dst.String()
		if r.Dst.Bits() == 0 {
			dst = "default"
		}
		gw := ""
		if r.Gateway.IsValid() {
			gw = r.Gateway.String()
		}
		mine = append(mine, fmt.Sprintf("%s %s %s", dst, gw, r.Dev))
	}
	slices.Sort(fromIP)
	slices.Sort(mine)
	require.Equal(t, fromIP, mine)
	require.Contains(t, mine, "default 10.77.0.3 lo")
	require.Contains(t, mine, "10.79.0.0/16 10.77.0.2 lo")
	require.Contains(t, mine, "10.78.0.0/16  lo")
}

// TestIntegrationCloseWhileInUse closes a handle under concurrent use: every call either
// completes or fails with ErrClosed, and none reaches a closed socket.
func TestIntegrationCloseWhileInUse(t *testing.T) {
	ns := netnsxtest.New(t)
	var wg sync.WaitGroup
	var ok, closed sync.Map
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				_, err := ns.Links()
				switch {
				case err == nil:
					ok.Store(w, true)
				case errors.Is(err, netnsx.ErrClosed):
					closed.Store(w, true)
					return
				default:
					t.Errorf("Links during Close: %v", err)
					return
				}
			}
		}(w)
	}
	require.NoError(t, ns.Close())
	wg.Wait()
	_, err := ns.Links()
	require.ErrorIs(t, err, netnsx.ErrClosed)
}

// TestIntegrationNewAllOrNothing fails each step of New in turn: no name, file or mount
// may remain.
func TestIntegrationNewAllOrNothing(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	name := "nstopo-fault-" + netnsxtest.Name(0)
	calls, err := failpoint.Walk(func() error {
		_, err := netnsx.New(name)
		return err
	}, func(n int, err, injected error) {
		require.ErrorIs(t, err, injected)
		require.NotContains(t, iptest.Netns(t), name, "after call %d", n)
		_, statErr := os.Stat(filepath.Join("/run/netns", name))
		require.True(t, os.IsNotExist(statErr), "mount point left after call %d", n)
		mounts, err := os.ReadFile("/proc/self/mountinfo")
		require.NoError(t, err)
		require.NotContains(t, string(mounts), name, "mount left after call %d", n)
	})
	require.NoError(t, err)
	require.NoError(t, netnsx.Delete(name))
	// mount point, unshare, bind mount, socket, lo up (and /run/netns made shared once).
	require.GreaterOrEqual(t, calls, 5)
}

func TestIntegrationDeleteAll(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	var made []*netnsx.NS
	for i := 0; i < 3; i++ {
		ns, err := netnsx.New("nstopo-all-" + netnsxtest.Name(0))
		require.NoError(t, err)
		t.Cleanup(func() { _ = netnsx.Delete(ns.Name()) })
		made = append(made, ns)
	}
	closed := netnsxtest.New(t)
	require.NoError(t, closed.Close())
	host, err := netnsx.Host()
	require.NoError(t, err)
	defer host.Close()

	err = netnsx.DeleteAll(made[0], closed, nil, host, made[1], made[2])
	require.ErrorIs(t, err, netnsx.ErrClosed, "the closed handle is reported")
	require.ErrorIs(t, err, netnsx.ErrInvalid, "nil and the host are refused")
	names := iptest.Netns(t)
	for _, ns := range made {
		require.NotContains(t, names, ns.Name(), "the others are deleted all the same")
		_, err := ns.Links()
		require.ErrorIs(t, err, netnsx.ErrClosed)
	}
	require.Contains(t, names, closed.Name(), "a closed handle's namespace is not deleted through it")
	_, err = host.Links()
	require.NoError(t, err, "the host handle is left open")
}
