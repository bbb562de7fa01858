// Package etcdtest runs a real etcd cluster for tests: Debian's etcd-server (etcd
// 3.4), one process per member, inside a network namespace the test made, so that
// members can be killed, stopped and started again, and cut off with the fault package.
package etcdtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/nstopo/nstopo/netnsx"
)

// Cluster is a running etcd cluster. Its members stop at the end of the test.
type Cluster struct {
	tb      testing.TB
	ns      *netnsx.NS
	bin     string
	initial string // --initial-cluster
	token   string
	Members []*Member
}

// Member is one etcd process.
type Member struct {
	Name      string
	ClientURL string
	PeerURL   string
	dir       string
	log       Buffer
	cmd       *exec.Cmd
	done      chan struct{}
}

// Start runs an n-member cluster listening on addr inside ns (addr must be ns's, or
// 127.0.0.1) and waits until it has a leader. Without the etcd binary the test is
// skipped, naming the package that has it.
func Start(tb testing.TB, ns *netnsx.NS, addr netip.Addr, n int) *Cluster {
	tb.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		tb.Skipf("no etcd binary (Debian: apt-get install etcd-server): %v", err)
	}
	c := &Cluster{tb: tb, ns: ns, bin: bin, token: fmt.Sprintf("nstopo-%d", time.Now().UnixNano())}
	var initial []string
	for i := range n {
		cp, pp := freePort(tb, ns, addr), freePort(tb, ns, addr)
		m := &Member{
			Name:      fmt.Sprintf("m%d", i+1),
			ClientURL: "http://" + netip.AddrPortFrom(addr, cp).String(),
			PeerURL:   "http://" + netip.AddrPortFrom(addr, pp).String(),
			dir:       filepath.Join(tb.TempDir(), "data"),
		}
		c.Members = append(c.Members, m)
		initial = append(initial, m.Name+"="+m.PeerURL)
	}
	c.initial = strings.Join(initial, ",")
	tb.Cleanup(func() {
		for i, m := range c.Members {
			if m.running() {
				c.Stop(i)
			}
			if tb.Failed() {
				tb.Logf("etcd member %s said:\n%s", m.Name, m.log.String())
			}
		}
	})
	for i := range c.Members {
		c.Restart(i)
	}
	c.WaitHealthy(c.Client(tb, ns))
	return c
}

// freePort picks a free TCP port on addr inside ns. The port is free again when etcd
// takes it; another process taking it first is rare, and etcd then fails saying so.
func freePort(tb testing.TB, ns *netnsx.NS, addr netip.Addr) uint16 {
	l, err := ns.Listen(context.Background(), "tcp", netip.AddrPortFrom(addr, 0).String())
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// URLs are the members' client URLs.
func (c *Cluster) URLs() []string {
	var out []string
	for _, m := range c.Members {
		out = append(out, m.ClientURL)
	}
	return out
}

// Client returns a client of the whole cluster whose connections are made inside
// from: a simulated host reaches etcd through its own namespace, as a real one
// through its own network.
func (c *Cluster) Client(tb testing.TB, from *netnsx.NS) *clientv3.Client {
	tb.Helper()
	cl, err := clientv3.New(clientv3.Config{
		Endpoints: c.URLs(), DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return from.Dial(ctx, "tcp", addr)
		})},
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cl.Close() })
	return cl
}

// Restart starts member i: the first time as a new member of a new cluster, later
// from its data directory.
func (c *Cluster) Restart(i int) {
	c.tb.Helper()
	m := c.Members[i]
	state := "new"
	if _, err := os.Stat(m.dir); err == nil {
		state = "existing"
	}
	m.cmd = exec.Command(c.bin, "--name", m.Name, "--data-dir", m.dir,
		"--listen-client-urls", m.ClientURL, "--advertise-client-urls", m.ClientURL,
		"--listen-peer-urls", m.PeerURL, "--initial-advertise-peer-urls", m.PeerURL,
		"--initial-cluster", c.initial, "--initial-cluster-state", state, "--initial-cluster-token", c.token,
		"--logger", "zap", "--log-outputs", "stderr")
	m.cmd.Stdout, m.cmd.Stderr = &m.log, &m.log
	if err := c.ns.Start(m.cmd); err != nil {
		c.tb.Fatalf("start etcd member %s: %v", m.Name, err)
	}
	m.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(m.cmd, m.done)
}

func (m *Member) running() bool {
	if m.done == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// Kill ends member i with SIGKILL, as a crash would.
func (c *Cluster) Kill(i int) { c.signal(i, syscall.SIGKILL) }

// Stop ends member i with SIGTERM, as an operator would.
func (c *Cluster) Stop(i int) { c.signal(i, syscall.SIGTERM) }

func (c *Cluster) signal(i int, sig os.Signal) {
	c.tb.Helper()
	m := c.Members[i]
	if err := m.cmd.Process.Signal(sig); err != nil {
		c.tb.Fatalf("signal etcd member %s: %v", m.Name, err)
	}
	select {
	case <-m.done:
	case <-time.After(20 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
		c.tb.Errorf("etcd member %s did not end within 20 s of %v", m.Name, sig)
	}
}

// WaitHealthy waits until the cluster answers a linearizable read through cl.
func (c *Cluster) WaitHealthy(cl *clientv3.Client) {
	c.tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cl.Get(ctx, "health")
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.tb.Fatalf("etcd cluster not healthy after 30 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Leader returns the index of the member that leads now.
func (c *Cluster) Leader(cl *clientv3.Client) int {
	c.tb.Helper()
	for i, m := range c.Members {
		if !m.running() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s, err := cl.Status(ctx, m.ClientURL)
		cancel()
		if err == nil && s.Leader == s.Header.MemberId {
			return i
		}
	}
	c.tb.Fatal("no member says it leads")
	return -1
}

// Buffer collects output that several goroutines or processes write at once: logs,
// a child's stdout and stderr.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
