package safety_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/internal/echo"
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
)

func inode(path string) uint64 {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return 0
	}
	return st.Ino
}

func count(dir string) int {
	entries, _ := os.ReadDir(dir)
	return len(entries)
}

// links records the interface names the stress cycles use, all from netnsxtest.Name:
// none of them may ever appear in the host.
type links struct {
	mu    sync.Mutex
	names []string
}

func (l *links) name() string {
	n := netnsxtest.Name(15)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.names = append(l.names, n)
	return n
}

// cycle builds a small topology, uses it through Do, Listen, Dial and Run, and deletes
// it: the unit of the stress test. Its namespaces are named prefix-id and prefix-id-b.
func cycle(ctx context.Context, prefix string, id int, made *links) error {
	a, err := netnsx.New(fmt.Sprintf("%s-%d", prefix, id))
	if err != nil {
		return err
	}
	b, err := netnsx.New(fmt.Sprintf("%s-%d-b", prefix, id))
	if err != nil {
		_ = a.Delete()
		return err
	}
	defer func() { _ = netnsx.DeleteAll(a, b) }()
	want := inode(b.Path())
	br, err := bridge.Create(a, bridge.Config{Name: made.name(), Addrs: []netip.Prefix{netip.MustParsePrefix("10.1.0.1/24")}})
	if err != nil {
		return err
	}
	if _, err := veth.Create(veth.Config{
		A: veth.End{NS: a, Name: made.name(), Master: br.Link},
		B: veth.End{NS: b, Name: made.name(), Addrs: []netip.Prefix{netip.MustParsePrefix("10.1.0.2/24")}},
	}); err != nil {
		return err
	}
	if err := b.Do(func() error {
		if got := inode("/proc/thread-self/ns/net"); got != want {
			return fmt.Errorf("Do ran in %d, not %d", got, want)
		}
		return nil
	}); err != nil {
		return err
	}
	l, err := echo.Serve(ctx, b, "10.1.0.2:8081")
	if err != nil {
		return err
	}
	defer l.Close()
	if err := echo.RoundTrip(ctx, a, "10.1.0.2:8081", []byte("stress")); err != nil {
		return err
	}
	return a.Run(exec.CommandContext(ctx, "true"))
}

// TestIntegrationStress runs 24 goroutines × 20 cycles of build, use and delete at
// once while watchers, free to run on any thread, check that the thread under them is
// in the host namespace; then checks that goroutines, threads and file descriptors are
// back to their baseline and that none of the cycles' links appeared in the host.
func TestIntegrationStress(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	if testing.Short() {
		t.Skip("stress test")
	}
	const workers, cycles, watchers = 24, 20, 4
	prefix, made := "nstopo-stress-"+netnsxtest.Name(0), &links{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Warm up with one cycle per worker at once, so that the runtime's thread pool has
	// grown to what this concurrency needs before the baseline is taken.
	require.NoError(t, run(ctx, prefix, made, workers, 1, 1000000))
	ignore := goleak.IgnoreCurrent()
	threads0, fds0 := count("/proc/self/task"), count("/proc/self/fd")
	hostIno := inode("/proc/thread-self/ns/net")

	stop := netnsxtest.WatchThreads(t, watchers)
	err := run(ctx, prefix, made, workers, cycles, 0)
	stop()
	require.NoError(t, err)
	for _, task := range globTasks(t) {
		require.Equal(t, hostIno, inode(task), "thread %s is not home", task)
	}
	goleak.VerifyNone(t, ignore)
	require.LessOrEqual(t, count("/proc/self/fd"), fds0, "file descriptors leaked")
	// Idle threads stay in the runtime's pool, and blocking syscalls may still add a few
	// after the warm-up; a leak of even one thread per cycle would add 480.
	require.LessOrEqual(t, count("/proc/self/task"), threads0+workers, "threads leaked")
	t.Logf("%d cycles on %d goroutines (%d namespaces), threads %d -> %d, fds %d -> %d",
		workers*cycles, workers, 2*workers*cycles, threads0, count("/proc/self/task"), fds0, count("/proc/self/fd"))
	var host []struct {
		Ifname string `json:"ifname"`
	}
	iptest.Run(t, &host, "ip", "-j", "link", "show")
	for _, l := range host {
		require.NotContains(t, made.names, l.Ifname, "a cycle made a link in the host")
	}
}

// run runs cycles cycles on each of workers goroutines and joins their errors.
func run(ctx context.Context, prefix string, made *links, workers, cycles, base int) error {
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for c := 0; c < cycles && errs[w] == nil; c++ {
				errs[w] = cycle(ctx, prefix, base+w*cycles+c, made)
			}
		}(w)
	}
	wg.Wait()
	return errors.Join(errs...)
}

func globTasks(t *testing.T) []string {
	entries, err := os.ReadDir("/proc/self/task")
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, "/proc/self/task/"+e.Name()+"/ns/net")
	}
	return out
}
