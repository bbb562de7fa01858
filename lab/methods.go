package lab

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/netnsx"
)

// lock takes l.mu, refusing a nil or closed lab (then it is not held).
func (l *Lab) lock(op string) error {
	if l == nil {
		return fmt.Errorf("lab: %s: nil lab: %w", op, netnsx.ErrInvalid)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return fmt.Errorf("lab: %s: lab %s closed: %w", op, l.spec.Name, errors.Join(netnsx.ErrInvalid, netnsx.ErrClosed))
	}
	return nil
}

func (l *Lab) node(op, name string) (*netnsx.NS, error) {
	if err := l.lock(op); err != nil {
		return nil, err
	}
	defer l.mu.Unlock()
	ns, ok := l.nodes[name]
	if !ok {
		return nil, fmt.Errorf("lab: %s: lab %s has no node %q: %w", op, l.spec.Name, name, netnsx.ErrNotFound)
	}
	return ns, nil
}

// Node returns the namespace of the node called name; ErrNotFound if the spec has no
// such node. The handle belongs to the lab: do not close or delete it.
func (l *Lab) Node(name string) (*netnsx.NS, error) {
	return l.node("node "+name, name)
}

// Link returns the interface ifname in node.
func (l *Lab) Link(node, ifname string) (*netnsx.Link, error) {
	ns, err := l.node("link "+node+":"+ifname, node)
	if err != nil {
		return nil, err
	}
	lk, err := ns.Link(ifname)
	if err != nil {
		return nil, fmt.Errorf("lab: link %s:%s: %w", node, ifname, err)
	}
	return lk, nil
}

// Bridge returns the bridge called name in node.
func (l *Lab) Bridge(node, name string) (*bridge.Bridge, error) {
	ns, err := l.node("bridge "+node+":"+name, node)
	if err != nil {
		return nil, err
	}
	br, err := bridge.Open(ns, name)
	if err != nil {
		return nil, fmt.Errorf("lab: bridge %s:%s: %w", node, name, err)
	}
	return br, nil
}

// pingers bounds the pings in flight at once.
const pingers = 64

// PingAll pings, from every node, every address the spec gives an interface (a link end,
// a bridge, an overlay device) of every other node, all at once — Mininet's pingAll. An
// address gets up to three echoes, one a second, and answers if one reply comes. An
// IPv4-only node does not ping IPv6 addresses. It is quadratic: at 1000 nodes, a
// million pings. An unanswered ping is a result (Reachability.Lost), not an error; the
// error is for a lab that is closed, or ctx ending.
func (l *Lab) PingAll(ctx context.Context) (*Reachability, error) {
	if _, err := l.handles("ping all"); err != nil {
		return nil, err
	}
	if ctx == nil {
		return nil, fmt.Errorf("lab: ping all %s: nil context: %w", l.spec.Name, netnsx.ErrInvalid)
	}
	targets := l.spec.targets()
	var r Reachability
	for _, from := range names(l.spec.Topology.Nodes) {
		v4 := l.spec.node(from).IPv4Only
		for _, to := range names(targets) {
			if to == from {
				continue
			}
			for _, a := range targets[to] {
				if v4 && a.Is6() {
					continue
				}
				r.Results = append(r.Results, PingResult{From: from, To: to, Addr: a})
			}
		}
	}
	sem := make(chan struct{}, pingers)
	var wg sync.WaitGroup
	for i := range r.Results {
		p := &r.Results[i]
		ns, err := l.node("ping all", p.From)
		if err != nil {
			return nil, err
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			for try := 0; try < 3; try++ {
				c, cancel := context.WithTimeout(ctx, time.Second)
				p.RTT, p.Err = ns.Ping(c, p.Addr)
				if p.Err == nil {
					cancel()
					return
				}
				<-c.Done() // a try that failed at once takes its second too
				cancel()
				if ctx.Err() != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lab: ping all %s: %w", l.spec.Name, err)
	}
	return &r, nil
}

// handles returns the lab's namespaces, by node name.
func (l *Lab) handles(op string) ([]*netnsx.NS, error) {
	if err := l.lock(op); err != nil {
		return nil, err
	}
	defer l.mu.Unlock()
	nss := make([]*netnsx.NS, 0, len(l.nodes))
	for _, n := range names(l.nodes) {
		nss = append(nss, l.nodes[n])
	}
	sort.SliceStable(nss, func(i, j int) bool { return nss[i].Name() < nss[j].Name() })
	return nss, nil
}

// Inspect reads what the lab's namespaces hold now (netnsx.Inspect).
func (l *Lab) Inspect() (*netnsx.Snapshot, error) {
	nss, err := l.handles("inspect")
	if err != nil {
		return nil, err
	}
	snap, err := netnsx.Inspect(nss...)
	if err != nil {
		return nil, fmt.Errorf("lab: inspect %s: %w", l.spec.Name, err)
	}
	return snap, nil
}

// DOT draws the lab as the kernel has it now (netnsx.Snapshot.DOT); Spec.DOT draws the
// description.
func (l *Lab) DOT() (string, error) {
	snap, err := l.Inspect()
	if err != nil {
		return "", err
	}
	return snap.DOT(), nil
}

// Mermaid draws the lab as the kernel has it now (netnsx.Snapshot.Mermaid).
func (l *Lab) Mermaid() (string, error) {
	snap, err := l.Inspect()
	if err != nil {
		return "", err
	}
	return snap.Mermaid(), nil
}
