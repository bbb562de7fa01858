//go:build linux

// Command churn is the disturbance the test suite must withstand beside other jobs:
// until SIGTERM or SIGINT it creates and deletes network namespaces, churn-<pid>-<n>,
// in a tight loop, joining each two with a veth pair, with at most 2×-workers of its
// own alive at once; on the way out it deletes every one it made. Run it as root from
// the repository's root, beside the suite:
//
//	go build -o /tmp/churn ./bench/churn && /tmp/churn & sleep 1
//	go test -count=1 ./...
//	kill %1
//
// A test that compares a machine-wide list (`ip netns list`, the host's links) fails
// while it runs; one that looks only at what it made does not.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/veth"
)

func main() {
	workers := flag.Int("workers", 2, "loops running at once, each with at most two namespaces alive")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	prefix := fmt.Sprintf("churn-%d-", os.Getpid())
	var n, cycles atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, *workers)
	start := time.Now()
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := cycle(prefix, &n); err != nil {
					errs <- err
					stop()
					return
				}
				cycles.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	left := cleanup(prefix)
	fmt.Fprintf(os.Stderr, "churn: %d cycles (%d namespaces) in %v; %d left over and deleted\n",
		cycles.Load(), n.Load(), time.Since(start).Round(time.Millisecond), left)
	if err := <-errs; err != nil {
		fmt.Fprintln(os.Stderr, "churn:", err)
		os.Exit(1)
	}
}

// cycle makes two namespaces, joins them with an addressed veth pair, and deletes them.
// A signal waits for the cycle to end: it never leaves one half made.
func cycle(prefix string, n *atomic.Int64) error {
	a, err := netnsx.New(prefix + fmt.Sprint(n.Add(1)))
	if err != nil {
		return err
	}
	b, err := netnsx.New(prefix + fmt.Sprint(n.Add(1)))
	if err != nil {
		_ = netnsx.DeleteAll(a)
		return err
	}
	_, err = veth.Create(veth.Config{
		A: veth.End{NS: a, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.99.0.1/30")}},
		B: veth.End{NS: b, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.99.0.2/30")}},
	})
	if derr := netnsx.DeleteAll(a, b); err == nil {
		err = derr
	}
	return err
}

// cleanup deletes whatever namespace of this process is still named, and counts them.
func cleanup(prefix string) int {
	names, _ := netnsx.List()
	k := 0
	for _, name := range names {
		if strings.HasPrefix(name, prefix) && netnsx.Delete(name) == nil {
			k++
		}
	}
	return k
}
