package veth

import (
	"fmt"
	"time"

	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/internal/failpoint"
	"github.com/nstopo/nstopo/internal/rtnl"
	"github.com/nstopo/nstopo/netnsx"
)

// readyTimeout bounds the wait for the kernel to mark both ends operationally up; it
// takes microseconds to milliseconds, so hitting it means something is wrong.
const readyTimeout = 5 * time.Second

func sameNS(a, b *netnsx.NS) bool { return rtnl.SameNS(a, b) }

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
	for _, e := range []*End{&cfg.A, &cfg.B} {
		if e.Master != nil && !sameNS(e.NS, e.Master.NS()) {
			return nil, fmt.Errorf("veth: %s: %w", op, errdefs.Invalid("master %s of %s is in namespace %s, not in %s", e.Master.Name(), e.Name, e.Master.NS(), e.NS))
		}
	}
	p, err := create(&cfg)
	if err != nil {
		return nil, fmt.Errorf("veth: %s: %w", op, errdefs.Kernel(err, "CAP_NET_ADMIN"))
	}
	return p, nil
}

// end is one side during creation: its config, its namespace's connection and the
// link once made.
type end struct {
	cfg  *End
	conn *rtnl.Conn
	fd   int
	link *rtnl.Link
}

func create(cfg *Config) (*Pair, error) {
	// The end with a master is created first: the kernel enslaves it in the same request.
	first, second := &end{cfg: &cfg.A}, &end{cfg: &cfg.B}
	if cfg.A.Master == nil && cfg.B.Master != nil {
		first, second = second, first
	}
	err := withConns(first, second, func() error {
		return build(cfg.MTU, first, second)
	})
	if err != nil {
		return nil, err
	}
	a, b := first, second
	if a.cfg != &cfg.A {
		a, b = b, a
	}
	return &Pair{
		A: rtnl.NewLink(cfg.A.NS, a.link).(*netnsx.Link),
		B: rtnl.NewLink(cfg.B.NS, b.link).(*netnsx.Link),
	}, nil
}

// withConns runs fn with both ends' connections held open.
func withConns(first, second *end, fn func() error) error {
	return rtnl.UseNS(first.cfg.NS, func(c *rtnl.Conn, fd int) error {
		first.conn, first.fd = c, fd
		if sameNS(first.cfg.NS, second.cfg.NS) {
			second.conn, second.fd = c, 0
			return fn()
		}
		return rtnl.UseNS(second.cfg.NS, func(c *rtnl.Conn, fd int) error {
			second.conn, second.fd = c, fd
			return fn()
		})
	})
}

func build(mtu int, first, second *end) (err error) {
	spec := &rtnl.LinkSpec{
		Name: first.cfg.Name, MTU: mtu, HardwareAddr: first.cfg.HardwareAddr, Up: true, Kind: "veth",
		// The peer cannot be up at creation: the kernel opens it before the pair is
		// joined and refuses (ENOTCONN).
		Peer: &rtnl.LinkSpec{Name: second.cfg.Name, MTU: mtu, HardwareAddr: second.cfg.HardwareAddr},
	}
	if first.cfg.Master != nil {
		spec.Master = first.cfg.Master.Index()
	}
	if second.conn != first.conn {
		spec.Peer.NSFd = second.fd
	}
	if err := failpoint.Step("veth.create: link"); err != nil {
		return err
	}
	if first.link, err = first.conn.LinkAdd(spec); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = first.conn.LinkDel(first.link.Index) // takes the peer with it
		}
	}()
	if err := failpoint.Step("veth.create: peer"); err != nil {
		return err
	}
	// The kernel's echo of the new link names the peer's index (IFLA_LINK); no lookup.
	second.link = &rtnl.Link{Index: first.link.PeerIndex, Name: second.cfg.Name, Kind: "veth"}
	if second.link.Index == 0 {
		if second.link, err = second.conn.LinkByName(second.cfg.Name); err != nil {
			return fmt.Errorf("peer %s: %w", second.cfg.Name, err)
		}
	}
	err = failpoint.Step("veth.create: peer up")
	if err == nil {
		up := true
		ch := rtnl.LinkChange{Up: &up}
		if m := second.cfg.Master; m != nil {
			idx := m.Index()
			ch.Master = &idx
		}
		err = second.conn.LinkSet(second.link.Index, ch)
	}
	if err != nil {
		return fmt.Errorf("set %s up: %w", second.cfg.Name, err)
	}
	for _, e := range []*end{first, second} {
		for _, p := range e.cfg.Addrs {
			err = failpoint.Step("veth.create: address")
			if err == nil {
				err = e.conn.AddrAdd(e.link.Index, p)
			}
			if err != nil {
				return fmt.Errorf("address %s of %s: %w", p, e.cfg.Name, err)
			}
		}
	}
	for _, e := range []*end{second, first} {
		err = failpoint.Step("veth.create: ready")
		if err == nil {
			err = rtnl.WaitReady(e.conn, e.link.Index, readyTimeout)
		}
		if err != nil {
			return fmt.Errorf("wait for %s: %w", e.cfg.Name, err)
		}
	}
	return nil
}

// Delete deletes the pair; the kernel removes both ends together.
func (p *Pair) Delete() error {
	if p == nil || p.A == nil || p.B == nil {
		return fmt.Errorf("veth: delete: %w", errdefs.Invalid("nil pair"))
	}
	err := rtnl.UseNS(p.A.NS(), func(c *rtnl.Conn, _ int) error { return c.LinkDel(p.A.Index()) })
	if err != nil {
		return fmt.Errorf("veth: delete %s/%s: %w", p.A.Name(), p.B.Name(), errdefs.Kernel(err, "CAP_NET_ADMIN"))
	}
	return nil
}
