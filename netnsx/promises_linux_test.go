package netnsx_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
	"github.com/nstopo/nstopo/vxlan"
)

// A failed constructor returns nil; nothing called with that nil may reach the host.
func TestIntegrationNilIsNeverTheHost(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	ns := netnsxtest.New(t)
	var nilNS *netnsx.NS
	name := netnsxtest.Name(15)                                                          // would appear in the host if nil meant the host
	t.Cleanup(func() { _ = exec.Command(iptest.Tool("ip"), "link", "del", name).Run() }) // if it broke
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	p := netip.MustParsePrefix("10.99.0.1/24")
	calls := map[string]error{}
	add := func(what string, err error) { calls[what] = err }
	_, err := nilNS.Links()
	add("Links", err)
	_, err = nilNS.Link("lo")
	add("Link", err)
	_, err = nilNS.Routes()
	add("Routes", err)
	add("AddRoute", nilNS.AddRoute(netnsx.Route{Dst: p.Masked(), Dev: "lo"}))
	add("ReplaceRoute", nilNS.ReplaceRoute(netnsx.Route{Dst: p.Masked(), Dev: "lo"}))
	add("DeleteRoute", nilNS.DeleteRoute(netnsx.Route{Dst: p.Masked(), Dev: "lo"}))
	_, err = nilNS.RoutesIn(0)
	add("RoutesIn", err)
	_, err = nilNS.Output(ctx, "ip", "link", "add", name, "type", "dummy")
	add("Output", err)
	nsLo, err := ns.Link("lo")
	require.NoError(t, err)
	add("SetNS", nsLo.SetNS(nilNS))
	add("Do", nilNS.Do(func() error { return nil }))
	add("Start", nilNS.Start(exec.Command("true")))
	add("Run", nilNS.Run(exec.Command("true")))
	_, err = nilNS.Dial(ctx, "tcp", "127.0.0.1:1")
	add("Dial", err)
	_, err = nilNS.Listen(ctx, "tcp", "127.0.0.1:0")
	add("Listen", err)
	_, err = nilNS.ListenPacket(ctx, "udp", "127.0.0.1:0")
	add("ListenPacket", err)
	_, err = nilNS.Ping(ctx, netip.MustParseAddr("127.0.0.1"))
	add("Ping", err)
	add("Capture", nilNS.Capture(ctx, "lo", new(discard)))
	_, err = nilNS.Sysctl("net.ipv4.ip_forward")
	add("Sysctl", err)
	add("SetSysctl", nilNS.SetSysctl("net.ipv4.ip_forward", "1"))
	add("Delete", nilNS.Delete())
	add("DeleteAll", netnsx.DeleteAll(nilNS))
	_, err = netnsx.Inspect(nilNS)
	add("Inspect", err)
	_, err = bridge.Create(nilNS, bridge.Config{Name: name, Addrs: []netip.Prefix{p}})
	add("bridge.Create", err)
	_, err = bridge.Open(nilNS, "lo")
	add("bridge.Open", err)
	_, err = veth.Create(veth.Config{A: veth.End{NS: nilNS, Name: name}, B: veth.End{NS: ns, Name: "eth0"}})
	add("veth.Create A", err)
	_, err = veth.Create(veth.Config{A: veth.End{NS: ns, Name: "eth0"}, B: veth.End{NS: nilNS, Name: name}})
	add("veth.Create B", err)
	_, err = vxlan.Create(nilNS, vxlan.Config{Name: name, VNI: 42})
	add("vxlan.Create", err)
	_, err = vxlan.Open(nilNS, "lo")
	add("vxlan.Open", err)
	for what, err := range calls {
		require.ErrorIs(t, err, netnsx.ErrInvalid, what)
	}
	require.Equal(t, "", nilNS.Path())
	require.NoError(t, nilNS.Close(), "Close on nil does nothing")

	out, _ := exec.Command(iptest.Tool("ip"), "-j", "link", "show", "dev", name).CombinedOutput()
	require.Contains(t, string(out), "does not exist", "nothing named %s appeared in the host", name)
	require.Empty(t, iptest.Links(t, ns.Name())["eth0"].Ifname, "no half-made pair in the namespace")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// A handle whose name was deleted and made again by someone else must not delete the
// newcomer.
func TestIntegrationStaleHandleLeavesNewerNamespace(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	name := "nstopo-stale-" + netnsxtest.Name(0)
	h1, err := netnsx.New(name)
	require.NoError(t, err)
	defer h1.Close()
	require.NoError(t, netnsx.Delete(name))
	h2, err := netnsx.New(name)
	require.NoError(t, err)
	defer h2.Delete()

	err = h1.Delete()
	require.ErrorIs(t, err, netnsx.ErrNotFound)
	require.Contains(t, iptest.Netns(t), name, "the newer namespace keeps its name")
	_, err = h2.Links()
	require.NoError(t, err)
	require.ErrorIs(t, netnsx.DeleteAll(h2), nil)
	require.NotContains(t, iptest.Netns(t), name)
}

// open(2) on a FIFO blocks until a writer comes; no open of ours may wait for one.
func TestIntegrationFIFOIsNoNamespace(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	fifo := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, unix.Mkfifo(fifo, 0o600))
	name := "nstopo-fifo-" + netnsxtest.Name(0)
	inRun := filepath.Join("/run/netns", name)
	require.NoError(t, unix.Mkfifo(inRun, 0o600))
	t.Cleanup(func() { os.Remove(inRun) })

	within(t, 5*time.Second, "OpenPath(fifo)", func() {
		_, err := netnsx.OpenPath(fifo)
		require.ErrorIs(t, err, netnsx.ErrInvalid)
	})
	within(t, 5*time.Second, "Open(name of a fifo)", func() {
		_, err := netnsx.Open(name)
		require.ErrorIs(t, err, netnsx.ErrInvalid)
	})
	within(t, 10*time.Second, "Inspect() beside a fifo", func() {
		_, err := netnsx.Inspect()
		require.NoError(t, err)
	})
	within(t, 5*time.Second, "Delete(name of a fifo)", func() {
		require.NoError(t, netnsx.Delete(name))
	})
	_, err := os.Lstat(inRun)
	require.ErrorIs(t, err, os.ErrNotExist)
}

// within runs fn, failing the test instead of hanging if it takes longer than d.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s still blocked after %v", what, d)
	}
}

// umount(2) follows a symbolic link: deleting a link's name must not unmount its target.
func TestIntegrationDeleteSymlinkName(t *testing.T) {
	target := netnsxtest.New(t)
	link := "nstopo-sym-" + netnsxtest.Name(0)
	linkPath := filepath.Join("/run/netns", link)
	require.NoError(t, os.Symlink(target.Path(), linkPath))
	t.Cleanup(func() { os.Remove(linkPath) })
	require.NoError(t, netnsx.Delete(link))
	_, err := os.Lstat(linkPath)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Contains(t, iptest.Netns(t), target.Name())
	out, err := exec.Command(iptest.Tool("ip"), "netns", "exec", target.Name(), "true").CombinedOutput()
	require.NoError(t, err, "the target is still a mounted namespace: %s", out)

	dangling := "nstopo-dangle-" + netnsxtest.Name(0)
	danglingPath := filepath.Join("/run/netns", dangling)
	require.NoError(t, os.Symlink("/nonexistent-"+dangling, danglingPath))
	t.Cleanup(func() { os.Remove(danglingPath) })
	_, err = netnsx.New(dangling)
	require.ErrorIs(t, err, netnsx.ErrExists, "something holds the name")
	require.NoError(t, netnsx.Delete(dangling), "a dangling link can be deleted")
	ns, err := netnsx.New(dangling)
	require.NoError(t, err, "and the name made anew")
	require.NoError(t, ns.Delete())
}

// Of concurrent deletes of one handle one wins; the others are told it is closed.
func TestIntegrationConcurrentDelete(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	ns, err := netnsx.New("nstopo-cdel-" + netnsxtest.Name(0))
	require.NoError(t, err)
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func(i int) { defer wg.Done(); errs[i] = ns.Delete() }(i)
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		require.ErrorIs(t, err, netnsx.ErrClosed)
		require.False(t, errors.Is(err, netnsx.ErrNotFound), "%v", err)
	}
	require.Equal(t, 1, won)
	require.NotContains(t, iptest.Netns(t), ns.Name())

	twice, err := netnsx.New("nstopo-cdel-" + netnsxtest.Name(0))
	require.NoError(t, err)
	err = netnsx.DeleteAll(twice, twice)
	require.ErrorIs(t, err, netnsx.ErrClosed)
	require.False(t, errors.Is(err, netnsx.ErrNotFound), "%v", err)
	require.NotContains(t, iptest.Netns(t), twice.Name())
}

// runtime.Goexit (t.FailNow) inside Do must neither strand its thread in the namespace
// nor be lost: the goroutine that called Do ends too.
func TestIntegrationGoexitInDo(t *testing.T) {
	ns := netnsxtest.New(t)
	host := readNS(t, "/proc/thread-self/ns/net")
	var wg sync.WaitGroup
	after := make(chan struct{}, 64)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = ns.Do(func() error { runtime.Goexit(); return nil })
			after <- struct{}{} // must not run: Goexit goes on in the caller
		}()
	}
	wg.Wait()
	require.Empty(t, after, "Goexit in Do ended the calling goroutine too")
	tasks, err := filepath.Glob("/proc/self/task/*/ns/net")
	require.NoError(t, err)
	for _, task := range tasks {
		if got, err := os.Readlink(task); err == nil { // a task may end meanwhile
			require.Equal(t, host, got, "%s is in a foreign namespace", task)
		}
	}
}

func readNS(t *testing.T, path string) string {
	t.Helper()
	s, err := os.Readlink(path)
	require.NoError(t, err)
	return s
}

// A Do's function may close its own handle: Close waits for netlink requests only,
// and the function goes on inside the namespace.
func TestIntegrationCloseInsideDo(t *testing.T) {
	ns := netnsxtest.New(t)
	h, err := netnsx.Open(ns.Name())
	require.NoError(t, err)
	var st unix.Stat_t
	require.NoError(t, unix.Stat(h.Path(), &st))
	inside := fmt.Sprintf("net:[%d]", st.Ino)
	within(t, 5*time.Second, "Close inside Do", func() {
		err := h.Do(func() error {
			if err := h.Close(); err != nil {
				return err
			}
			if got := readNS(t, "/proc/thread-self/ns/net"); got != inside {
				return fmt.Errorf("thread left the namespace: %s", got)
			}
			_, err := h.Links()
			if !errors.Is(err, netnsx.ErrClosed) {
				return fmt.Errorf("Links after Close: %v", err)
			}
			return nil
		})
		require.NoError(t, err)
	})
}

// A handle dropped without Close gives back its descriptors once collected, as the
// docs say (Go's own file finalizers do it).
func TestIntegrationForgottenHandlesAreClosed(t *testing.T) {
	ns := netnsxtest.New(t)
	count := func() int {
		es, err := os.ReadDir("/proc/self/fd")
		require.NoError(t, err)
		return len(es)
	}
	runtime.GC()
	before := count()
	for i := 0; i < 200; i++ {
		_, err := netnsx.Open(ns.Name())
		require.NoError(t, err)
	}
	require.Greater(t, count(), before+300, "each open handle holds two descriptors")
	for i := 0; i < 10 && count() > before+20; i++ {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
	require.LessOrEqual(t, count(), before+20, "forgotten handles were closed")
}

// Run is `ip netns exec`: the child sees the namespace's own /sys and its
// /etc/netns/NAME files over /etc, and nothing of that reaches the caller.
func TestIntegrationRunLikeIPNetnsExec(t *testing.T) {
	ns := netnsxtest.New(t)
	brName := netnsxtest.Name(15)
	_, err := bridge.Create(ns, bridge.Config{Name: brName})
	require.NoError(t, err)

	etc := filepath.Join("/etc/netns", ns.Name())
	withEtc := os.MkdirAll(etc, 0o755) == nil // not writable in a user namespace
	if withEtc {
		t.Cleanup(func() { os.RemoveAll(etc) })
		require.NoError(t, os.WriteFile(filepath.Join(etc, "hosts"), []byte("10.1.2.3 "+ns.Name()+"\n"), 0o644))
	}
	var want strings.Builder
	require.NoError(t, exec.Command(iptest.Tool("ip"), "netns", "exec", ns.Name(), "sh", "-c", "ls /sys/class/net; cat /etc/hosts").Run())
	cmd := exec.Command(iptest.Tool("ip"), "netns", "exec", ns.Name(), "sh", "-c", "ls /sys/class/net; cat /etc/hosts")
	cmd.Stdout = &want
	require.NoError(t, cmd.Run())

	host := readNS(t, "/proc/thread-self/ns/mnt")
	for i := 0; i < 20; i++ {
		var got strings.Builder
		cmd := exec.Command("sh", "-c", "ls /sys/class/net; cat /etc/hosts")
		cmd.Stdout = &got
		require.NoError(t, ns.Run(cmd))
		require.Equal(t, want.String(), got.String(), "the same view as ip netns exec")
		require.Contains(t, got.String(), brName+"\n")
		if withEtc {
			require.Contains(t, got.String(), "10.1.2.3 "+ns.Name())
		}
	}
	_, err = os.Stat(filepath.Join("/sys/class/net", brName))
	require.ErrorIs(t, err, os.ErrNotExist, "the caller's /sys is untouched")
	hosts, err := os.ReadFile("/etc/hosts")
	require.NoError(t, err)
	require.NotContains(t, string(hosts), ns.Name(), "the caller's /etc is untouched")
	pdeath := exec.Command("sleep", "10")
	pdeath.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.ErrorIs(t, ns.Start(pdeath), netnsx.ErrInvalid, "Pdeathsig would kill the child at once")
	require.Nil(t, pdeath.Process)

	// The threads that started the children end with their goroutines; give them time.
	var foreign []string
	for try := 0; try < 100; try++ {
		foreign = foreign[:0]
		tasks, err := filepath.Glob("/proc/self/task/*/ns/mnt")
		require.NoError(t, err)
		for _, task := range tasks {
			if got, err := os.Readlink(task); err == nil && got != host {
				foreign = append(foreign, task)
			}
		}
		if len(foreign) == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.Empty(t, foreign, "threads left in a foreign mount namespace")
}
