package lab_test

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/nstopo/nstopo/lab"
	"github.com/nstopo/nstopo/lab/labtest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// TestIntegrationPersistAttachDestroy is `nstopo up`, `nstopo ping`, `nstopo down`:
// a persistent lab outlives its Lab, Attach finds it, Destroy removes it.
func TestIntegrationPersistAttachDestroy(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	s := prefixed(load(t, "article-local.yaml"))
	opt := &lab.Options{StateDir: t.TempDir(), Persist: true}
	t.Cleanup(func() { _ = lab.Destroy(s, opt) })
	var events []lab.Event
	opt.Progress = func(e lab.Event) { events = append(events, e) }
	l, err := lab.Build(ctxT(t), s, opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := l.Node("host"); !errors.Is(err, netnsx.ErrClosed) {
		t.Errorf("Node after Close = %v, want ErrClosed", err)
	}
	if left := leftovers(t, s); len(left) != 3 {
		t.Fatalf("a persistent lab after Close: namespaces %v, want all 3", left)
	}
	if want := (lab.Event{Phase: "links", Done: 2, Total: 2}); !containsEvent(events, want) || !containsEvent(events, lab.Event{Phase: "nodes", Done: 3, Total: 3}) {
		t.Errorf("progress events %v lack %v", events, want)
	}
	a, err := lab.Attach(s, opt)
	if err != nil {
		t.Fatal(err)
	}
	br, err := a.Bridge("host", "br0")
	if err != nil {
		t.Fatal(err)
	}
	if addrs, err := br.Addrs(); err != nil || len(addrs) == 0 || addrs[0] != netip.MustParsePrefix("172.16.1.1/16") {
		t.Errorf("br0 addrs = %v, %v", addrs, err)
	}
	if _, err := a.Link("container-1", "eth0"); err != nil {
		t.Error(err)
	}
	for _, tc := range []struct{ node, link string }{{"nope", "eth0"}, {"container-1", "eth9"}} {
		if _, err := a.Link(tc.node, tc.link); !errors.Is(err, netnsx.ErrNotFound) {
			t.Errorf("Link(%s, %s) = %v, want ErrNotFound", tc.node, tc.link, err)
		}
	}
	if _, err := a.Bridge("container-1", "eth0"); !errors.Is(err, netnsx.ErrInvalid) && !errors.Is(err, netnsx.ErrNotFound) {
		t.Errorf("Bridge(container-1, eth0) = %v, want an error", err)
	}
	snap, err := a.Inspect()
	if err != nil || len(snap.Namespaces) != 3 {
		t.Fatalf("Inspect = %+v, %v", snap, err)
	}
	if dot, err := a.DOT(); err != nil || !strings.Contains(dot, "br0") {
		t.Errorf("DOT = %q, %v", dot, err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, s); len(left) != 3 {
		t.Fatalf("after closing the attached Lab: namespaces %v, want all 3", left)
	}
	if err := lab.Destroy(s, opt); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, s); len(left) != 0 {
		t.Errorf("after Destroy: %v", left)
	}
	if _, err := lab.Attach(s, opt); !errors.Is(err, netnsx.ErrNotFound) || !strings.Contains(err.Error(), s.Prefix+"container-1") {
		t.Errorf("Attach of a lab that is down = %v, want ErrNotFound naming its namespaces", err)
	}
}

func containsEvent(es []lab.Event, e lab.Event) bool {
	for _, x := range es {
		if x == e {
			return true
		}
	}
	return false
}

// TestIntegrationExecStart: Exec runs before Build returns, in the node; Start runs in
// the background until Close; a failing Exec fails Build and leaves nothing.
func TestIntegrationExecStart(t *testing.T) {
	s := load(t, "article-local.yaml")
	n := s.Topology.Nodes["container-1"]
	n.Sysctls = map[string]string{"net.ipv4.ip_forward": "1"}
	n.Exec = []string{"test -e /sys/class/net/eth0 && ip link set dev eth0 mtu 1400"}
	n.Start = []string{"exec sleep 300"}
	s.Topology.Nodes["container-1"] = n
	l := labtest.New(t, s)
	if e := ipAddrs(t, l.Spec().Prefix+"container-1")["eth0"]; e.MTU != 1400 {
		t.Errorf("eth0's MTU = %d, want 1400 (set by exec)", e.MTU)
	}
	c1, _ := l.Node("container-1")
	if v, err := c1.Sysctl("net.ipv4.ip_forward"); err != nil || v != "1" {
		t.Errorf("ip_forward = %q, %v", v, err)
	}
	sleeper := findSleeper(t, l.Spec().Prefix+"container-1")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/proc/" + itoa(sleeper)); err == nil {
		t.Errorf("the started process %d runs on after Close", sleeper)
	}

	bad := prefixed(s)
	n.Exec = []string{"echo doomed >&2; exit 3"}
	bad.Topology.Nodes = map[string]lab.Node{"container-1": n, "container-2": {}, "host": s.Topology.Nodes["host"]}
	dir := t.TempDir()
	if l, err := lab.Build(context.Background(), bad, &lab.Options{StateDir: dir}); err == nil || !strings.Contains(err.Error(), "doomed") {
		l.Close()
		t.Errorf("Build with a failing exec = %v, want its output in the error", err)
	}
	if left := leftovers(t, bad); len(left) > 0 {
		t.Errorf("namespaces left by a failed exec: %v", left)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestBuildHostile: nil and invalid specs are refused before anything is made; a nil or
// zero Lab is safe to close.
func TestBuildHostile(t *testing.T) {
	if _, err := lab.Build(context.Background(), nil, nil); !errors.Is(err, netnsx.ErrInvalid) {
		t.Errorf("Build(nil) = %v, want ErrInvalid", err)
	}
	if _, err := lab.Build(context.Background(), &lab.Spec{}, nil); !errors.Is(err, netnsx.ErrInvalid) {
		t.Errorf("Build(empty) = %v, want ErrInvalid", err)
	}
	if _, err := lab.Attach(nil, nil); !errors.Is(err, netnsx.ErrInvalid) {
		t.Errorf("Attach(nil) = %v, want ErrInvalid", err)
	}
	if err := lab.Destroy(&lab.Spec{Name: "x"}, nil); !errors.Is(err, netnsx.ErrInvalid) {
		t.Errorf("Destroy(no nodes) = %v, want ErrInvalid", err)
	}
	var l *lab.Lab
	if err := l.Close(); err != nil {
		t.Errorf("nil Close = %v", err)
	}
	if _, err := l.Node("a"); !errors.Is(err, netnsx.ErrInvalid) {
		t.Errorf("nil Node = %v", err)
	}
	if _, err := l.PingAll(context.Background()); !errors.Is(err, netnsx.ErrInvalid) {
		t.Errorf("nil PingAll = %v", err)
	}
	if l.Spec() != nil {
		t.Error("nil Spec() != nil")
	}
}

// TestIntegrationDestroyChecksIdentity: a namespace of the lab's that was deleted and
// made again by someone else under the same name is not the lab's: Destroy leaves it.
func TestIntegrationDestroyChecksIdentity(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	s := prefixed(load(t, "article-local.yaml"))
	opt := &lab.Options{StateDir: t.TempDir(), Persist: true}
	l, err := lab.Build(ctxT(t), s, opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	name := s.Prefix + "container-2"
	if err := netnsx.Delete(name); err != nil {
		t.Fatal(err)
	}
	other, err := netnsx.New(name)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Delete()
	if err := lab.Destroy(s, opt); !errors.Is(err, netnsx.ErrExists) || !strings.Contains(err.Error(), name) {
		t.Errorf("Destroy = %v, want ErrExists naming %s", err, name)
	}
	if left := leftovers(t, s); len(left) != 1 || left[0] != name {
		t.Errorf("after Destroy: %v, want only the other %s", left, name)
	}
	if _, err := other.Link("lo"); err != nil {
		t.Errorf("the other namespace: %v", err)
	}
}
