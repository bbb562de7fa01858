package bridge

import (
	"net"
	"net/netip"

	"github.com/nstopo/nstopo/internal/check"
	"github.com/nstopo/nstopo/netnsx"
)

// Config describes a bridge. Zero fields mean what `ip link add NAME type bridge` means.
type Config struct {
	Name         string           // required: 1-15 bytes
	Addrs        []netip.Prefix   // added after creation; none: no address
	MTU          int              // 0: the kernel's default (1500, then the smallest port's)
	HardwareAddr net.HardwareAddr // nil: the kernel picks one
	STP          bool             // false: spanning tree off, ports forward at once
	// VLANFiltering turns on 802.1Q filtering (IFLA_BR_VLAN_FILTERING); false: off.
	VLANFiltering bool
}

func (c *Config) validate() error {
	if err := check.IfName("Name", c.Name); err != nil {
		return err
	}
	if err := check.Prefixes("Addrs", c.Addrs); err != nil {
		return err
	}
	if err := check.MTU("MTU", c.MTU); err != nil {
		return err
	}
	return check.MAC("HardwareAddr", c.HardwareAddr)
}

// Bridge is a Linux bridge. It embeds its link.
type Bridge struct{ *netnsx.Link }
