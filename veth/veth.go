package veth

import (
	"net"
	"net/netip"

	"github.com/nstopo/nstopo/internal/check"
	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/netnsx"
)

// End describes one end of a pair. Zero fields mean what `ip link add` means.
type End struct {
	NS           *netnsx.NS       // required; nil is refused (the host is netnsx.Host())
	Name         string           // required: 1-15 bytes
	Addrs        []netip.Prefix   // none: no address
	HardwareAddr net.HardwareAddr // nil: the kernel picks a random one
	Master       *netnsx.Link     // a bridge in the same namespace; nil: none
}

// Config describes a pair.
type Config struct {
	A, B End
	MTU  int // both ends; 0: the kernel's default, 1500
}

// Pair is a veth pair; A and B are its ends as configured.
type Pair struct{ A, B *netnsx.Link }

func (c *Config) validate() error {
	for _, e := range []struct {
		side string
		end  *End
	}{{"A", &c.A}, {"B", &c.B}} {
		if e.end.NS == nil {
			return errdefs.Invalid("%s.NS is nil (the host is netnsx.Host())", e.side)
		}
		if err := check.IfName(e.side+".Name", e.end.Name); err != nil {
			return err
		}
		if err := check.Prefixes(e.side+".Addrs", e.end.Addrs); err != nil {
			return err
		}
		if err := check.MAC(e.side+".HardwareAddr", e.end.HardwareAddr); err != nil {
			return err
		}
		if m := e.end.Master; m != nil {
			if m.Kind() != "bridge" {
				return errdefs.Invalid("%s.Master %s is a %q link, not a bridge", e.side, m.Name(), m.Kind())
			}
		}
	}
	if c.A.Name == c.B.Name && c.A.NS.SameNamespace(c.B.NS) {
		return errdefs.Invalid("A.Name and B.Name are both %q in one namespace", c.A.Name)
	}
	return check.MTU("MTU", c.MTU)
}
