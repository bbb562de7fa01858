package portmap

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/nstopo/nstopo/internal/check"
	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/netnsx"
)

// Protocol is the transport protocol of a mapping.
type Protocol int

// The protocols. The zero value is TCP, as for `docker run -p 8080:80`.
const (
	TCP Protocol = iota
	UDP
)

// String is the protocol as nft and Docker write it: "tcp", "udp".
func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return fmt.Sprintf("Protocol(%d)", int(p))
}

// Config describes one published port: HostAddr:HostPort in the namespace forwarded to
// Dst, as `docker run -p HOSTADDR:HOSTPORT:CONTAINERPORT/PROTO` does.
type Config struct {
	Protocol Protocol   // zero: TCP
	HostAddr netip.Addr // zero (or unspecified): any address of the namespace, Dst's family
	HostPort uint16     // required: 0 is refused (Docker's random port is not offered)
	Dst      netip.AddrPort
}

// String is the mapping as Docker prints it: "tcp 0.0.0.0:8080 -> 172.16.1.2:80".
func (c Config) String() string {
	return fmt.Sprintf("%s %s -> %s", c.Protocol, netip.AddrPortFrom(c.host(), c.HostPort), c.Dst)
}

// host is HostAddr, or the unspecified address of Dst's family.
func (c Config) host() netip.Addr {
	if c.HostAddr.IsValid() && !c.HostAddr.IsUnspecified() {
		return c.HostAddr
	}
	if c.Dst.Addr().Is6() {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

func (c Config) anyHost() bool { return !c.HostAddr.IsValid() || c.HostAddr.IsUnspecified() }

func (c *Config) validate() error {
	if c.Protocol != TCP && c.Protocol != UDP {
		return errdefs.Invalid("Protocol %d is neither TCP nor UDP", int(c.Protocol))
	}
	if c.HostPort == 0 {
		return errdefs.Invalid("HostPort 0: give the port to publish")
	}
	d := c.Dst.Addr()
	if !d.IsValid() {
		return errdefs.Invalid("Dst is zero: give the container's address and port")
	}
	if err := check.Unicast("Dst", d); err != nil {
		return err
	}
	if d.IsLoopback() {
		return errdefs.Invalid("Dst %s is a loopback address, which the kernel does not route to from outside", d)
	}
	if d.Is4() && d == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return errdefs.Invalid("Dst %s is the broadcast address", d)
	}
	if c.Dst.Port() == 0 {
		return errdefs.Invalid("Dst %s has port 0: give the container's port", c.Dst)
	}
	if h := c.HostAddr; h.IsValid() {
		if h.Is4In6() || h.Zone() != "" {
			return check.Unicast("HostAddr", h)
		}
		if h.Is4() != d.Is4() {
			return errdefs.Invalid("HostAddr %s and Dst %s are of different families", h, d)
		}
		if h.IsMulticast() {
			return errdefs.Invalid("HostAddr %s is a multicast address", h)
		}
		if h.IsLoopback() {
			return errdefs.Invalid("HostAddr %s is a loopback address, which the kernel does not route off the namespace", h)
		}
	}
	return nil
}

// tableName names the mapping's table: one per protocol, port and host address, so
// that the kernel itself refuses to publish one port twice.
func (c *Config) tableName() string {
	return tablePrefix(c.Protocol, c.HostPort) + strings.ReplaceAll(c.hostName(), ":", ".")
}

func (c *Config) hostName() string {
	if c.anyHost() {
		return "any"
	}
	return c.HostAddr.String()
}

// tablePrefix is the part of a table's name shared by every mapping of one port.
func tablePrefix(p Protocol, port uint16) string {
	return fmt.Sprintf("nstopo-publish-%s-%d-", p, port)
}

// Mapping is a published port. Remove deletes its rules.
type Mapping struct {
	ns      *netnsx.NS
	cfg     Config
	mu      sync.Mutex
	removed bool
}

// Config returns the mapping's configuration, as given to Publish.
func (m *Mapping) Config() Config { return m.cfg }

// Table returns the name of the mapping's nftables table in its namespace.
func (m *Mapping) Table() string { return m.cfg.tableName() }

func (m *Mapping) String() string { return m.cfg.String() + " in " + m.ns.String() }
