package veth

import (
	"context"
	"fmt"
	"time"

	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/internal/kind"
	"github.com/nstopo/nstopo/internal/rtnl"
	"github.com/nstopo/nstopo/netnsx"
)

// readyTimeout bounds the wait for the kernel to mark both ends operationally up; it
// takes microseconds to milliseconds, so hitting it means something is wrong.
const readyTimeout = 5 * time.Second

// Create creates the pair in one request — each end inside its own namespace under its
// final name, up, with its MTU, MAC and master — then adds the addresses and returns
// once both ends carry traffic. If any step fails, the pair is deleted.
func Create(cfg Config) (*Pair, error) {
	obj := cfg.A.Name + "/" + cfg.B.Name
	if cfg.A.Name == "" || cfg.B.Name == "" {
		obj = cfg.A.Name + cfg.B.Name
	}
	op := errdefs.Op("create", obj)
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("veth: %s: %w", op, err)
	}
	p, err := create(&cfg)
	if err != nil {
		return nil, fmt.Errorf("veth: %s: %w", op, err)
	}
	return p, nil
}

// spec is the pair as netnsx adds it: first made, second its peer.
type spec struct {
	mtu           int
	first, second *End
}

func (s spec) LinkSpec() (netnsx.LinkAttrs, kind.Info) {
	attrs := func(e *End) netnsx.LinkAttrs {
		return netnsx.LinkAttrs{Name: e.Name, MTU: s.mtu, HardwareAddr: e.HardwareAddr, Master: e.Master, Addrs: e.Addrs}
	}
	a := attrs(s.first)
	a.Peer = &netnsx.PeerAttrs{NS: s.second.NS, LinkAttrs: attrs(s.second)}
	return a, kind.Info{Kind: "veth"}
}

func create(cfg *Config) (_ *Pair, err error) {
	// The end with a master is made first: the kernel enslaves it in the same request.
	s := spec{mtu: cfg.MTU, first: &cfg.A, second: &cfg.B}
	if cfg.A.Master == nil && cfg.B.Master != nil {
		s.first, s.second = s.second, s.first
	}
	first, err := s.first.NS.AddLink(s)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = first.Delete() // takes the peer with it
		}
	}()
	second, err := s.second.NS.Link(s.second.Name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	for _, l := range []*netnsx.Link{second, first} {
		err := l.NS().Netlink(func(c *rtnl.Conn, _ int) error { return rtnl.WaitReady(ctx, c, l.Index()) })
		if err != nil {
			return nil, fmt.Errorf("wait for %s: %w", l.Name(), errdefs.Kernel(err, ""))
		}
	}
	if s.first != &cfg.A {
		first, second = second, first
	}
	return &Pair{A: first, B: second}, nil
}

// Delete deletes the pair; the kernel removes both ends together.
func (p *Pair) Delete() error {
	if p == nil || p.A == nil || p.B == nil {
		return fmt.Errorf("veth: delete: %w", errdefs.Invalid("nil pair"))
	}
	err := p.A.NS().Netlink(func(c *rtnl.Conn, _ int) error { return c.LinkDel(p.A.Index()) })
	if err != nil {
		return fmt.Errorf("veth: delete %s/%s: %w", p.A.Name(), p.B.Name(), errdefs.Kernel(err, "CAP_NET_ADMIN"))
	}
	return nil
}
