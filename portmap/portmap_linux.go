package portmap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/internal/nftns"
	"github.com/nstopo/nstopo/netnsx"
)

// Publish forwards cfg.HostPort of ns to cfg.Dst, in one nftables transaction: all the
// mapping's rules or none. A port already published in ns on the same address, or on
// any address where either mapping takes any, is ErrExists; of two such Publish calls
// at once, at most one succeeds (both may be refused). Forwarding must be on in
// ns (see the package documentation).
func Publish(ns *netnsx.NS, cfg Config) (*Mapping, error) {
	op := "publish " + cfg.String()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("portmap: %s in %s: %w", op, ns, err)
	}
	if ns == nil {
		return nil, fmt.Errorf("portmap: %s in %s: %w", op, ns, errdefs.Invalid("nil namespace (the host is netnsx.Host())"))
	}
	if err := forwarding(ns, &cfg); err != nil {
		return nil, fmt.Errorf("portmap: %s in %s: %w", op, ns, err)
	}
	err := nftns.With(ns, func(c *nftables.Conn) error {
		if err := taken(c, &cfg); err != nil {
			return err
		}
		build(c, &cfg)
		if err := c.Flush(); err != nil {
			return err
		}
		// Another Publish may have checked before this one's table existed and made an
		// overlapping one since: seen now, this one withdraws (both may: neither stands).
		if err := taken(c, &cfg); err != nil {
			c.DelTable(&nftables.Table{Name: cfg.tableName(), Family: family(&cfg)})
			return errors.Join(err, c.Flush())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("portmap: %s in %s: %w", op, ns, nftns.Err(err))
	}
	return &Mapping{ns: ns, cfg: cfg}, nil
}

// forwarding refuses a namespace that would drop the DNATed traffic from outside.
func forwarding(ns *netnsx.NS, cfg *Config) error {
	key := "net.ipv4.ip_forward"
	if cfg.Dst.Addr().Is6() {
		key = "net.ipv6.conf.all.forwarding"
	}
	v, err := ns.Sysctl(key)
	if err != nil {
		return err
	}
	if v == "0" {
		return errdefs.Invalid("forwarding is off (%s = 0): traffic from outside would be dropped; turn it on with SetSysctl(%q, \"1\")", key, key)
	}
	return nil
}

// taken refuses a mapping that overlaps one already in ns: the same port on any
// address and a given one. The same port on the same address the kernel refuses
// itself, as the table exists (CreateTable is exclusive).
func taken(c *nftables.Conn, cfg *Config) error {
	ts, err := c.ListTablesOfFamily(family(cfg))
	if err != nil {
		return err
	}
	prefix := tablePrefix(cfg.Protocol, cfg.HostPort)
	for _, t := range ts {
		addr, ok := strings.CutPrefix(t.Name, prefix)
		if ok && addr != cfg.hostName() && (addr == "any" || cfg.anyHost()) {
			return fmt.Errorf("%w: %s port %d is published already (table %s)", netnsx.ErrExists, cfg.Protocol, cfg.HostPort, t.Name)
		}
	}
	return nil
}

func family(cfg *Config) nftables.TableFamily {
	if cfg.Dst.Addr().Is6() {
		return nftables.TableFamilyIPv6
	}
	return nftables.TableFamilyIPv4
}

// build queues the table, its three chains and their rules.
func build(c *nftables.Conn, cfg *Config) {
	t := c.CreateTable(&nftables.Table{Name: cfg.tableName(), Family: family(cfg)})
	chain := func(name string, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
		return c.AddChain(&nftables.Chain{Name: name, Table: t, Type: nftables.ChainTypeNAT, Hooknum: hook, Priority: prio})
	}
	pre := chain("prerouting", nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest)
	out := chain("output", nftables.ChainHookOutput, nftables.ChainPriorityNATDest)
	post := chain("postrouting", nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource)
	c.AddRule(&nftables.Rule{Table: t, Chain: pre, Exprs: dnat(cfg, false)})
	c.AddRule(&nftables.Rule{Table: t, Chain: out, Exprs: dnat(cfg, true)})
	for _, e := range masquerade(cfg) {
		c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: e})
	}
}

// Registers: NFT_REG_1 and NFT_REG_2, the 16-byte registers.
const (
	reg1 = 1
	reg2 = 2
)

// Header offsets of the addresses: IPv4 source 12, destination 16; IPv6 8 and 24.
func offsets(cfg *Config) (src, dst, n uint32) {
	if cfg.Dst.Addr().Is6() {
		return 8, 24, 16
	}
	return 12, 16, 4
}

func cmp(op expr.CmpOp, data []byte) expr.Any {
	return &expr.Cmp{Op: op, Register: reg1, Data: data}
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// l4 matches the protocol and a destination port.
func l4(p Protocol, port uint16) []expr.Any {
	proto := byte(unix.IPPROTO_TCP)
	if p == UDP {
		proto = unix.IPPROTO_UDP
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1}, cmp(expr.CmpOpEq, []byte{proto}),
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		cmp(expr.CmpOpEq, be16(port)),
	}
}

// dnat is `fib daddr type local [ip daddr HOST] PROTO dport PORT dnat to DST`; in
// output, loopback destinations are left alone.
func dnat(cfg *Config, output bool) []expr.Any {
	_, dstOff, n := offsets(cfg)
	var e []expr.Any
	loadDst := &expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: dstOff, Len: n}
	// Only traffic for the namespace itself, never traffic it routes to others: with
	// HostAddr too, which may be added to (or removed from) a link at any time.
	e = append(e, &expr.Fib{Register: reg1, FlagDADDR: true, ResultADDRTYPE: true},
		cmp(expr.CmpOpEq, binary.NativeEndian.AppendUint32(nil, unix.RTN_LOCAL)))
	if cfg.anyHost() {
		if output {
			if n == 4 { // ip daddr != 127.0.0.0/8
				e = append(e, loadDst,
					&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: net.CIDRMask(8, 32), Xor: make([]byte, 4)},
					cmp(expr.CmpOpNeq, []byte{127, 0, 0, 0}))
			} else { // ip6 daddr != ::1
				e = append(e, loadDst, cmp(expr.CmpOpNeq, net.IPv6loopback))
			}
		}
	} else {
		e = append(e, loadDst, cmp(expr.CmpOpEq, cfg.HostAddr.AsSlice()))
	}
	e = append(e, l4(cfg.Protocol, cfg.HostPort)...)
	nfproto := uint32(unix.NFPROTO_IPV4)
	if n == 16 {
		nfproto = unix.NFPROTO_IPV6
	}
	return append(e,
		&expr.Counter{},
		&expr.Immediate{Register: reg1, Data: cfg.Dst.Addr().AsSlice()},
		&expr.Immediate{Register: reg2, Data: be16(cfg.Dst.Port())},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: nfproto, RegAddrMin: reg1, RegProtoMin: reg2, Specified: true},
	)
}

// masquerade is two rules for connections DNATed to Dst: from a local address of the
// namespace (`fib saddr type local`), and from Dst itself (hairpin).
func masquerade(cfg *Config) [][]expr.Any {
	srcOff, dstOff, n := offsets(cfg)
	base := []expr.Any{
		&expr.Ct{Register: reg1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
			Mask: binary.NativeEndian.AppendUint32(nil, ipsDstNAT), Xor: make([]byte, 4)},
		cmp(expr.CmpOpNeq, make([]byte, 4)),
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: dstOff, Len: n},
		cmp(expr.CmpOpEq, cfg.Dst.Addr().AsSlice()),
	}
	base = append(base, l4(cfg.Protocol, cfg.Dst.Port())...)
	local := append(append([]expr.Any{}, base...),
		&expr.Fib{Register: reg1, FlagSADDR: true, ResultADDRTYPE: true},
		cmp(expr.CmpOpEq, binary.NativeEndian.AppendUint32(nil, unix.RTN_LOCAL)),
		&expr.Counter{}, &expr.Masq{})
	self := append(append([]expr.Any{}, base...),
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: srcOff, Len: n},
		cmp(expr.CmpOpEq, cfg.Dst.Addr().AsSlice()),
		&expr.Counter{}, &expr.Masq{})
	return [][]expr.Any{local, self}
}

const ipsDstNAT = 1 << 5 // IPS_DST_NAT in linux/netfilter/nf_conntrack_common.h

// Remove deletes the mapping's table and with it all its rules, and nothing else. It
// is idempotent and nil-safe; a table already gone (deleted by hand) counts as
// removed. A mapping whose namespace handle was closed cannot be removed through it
// (ErrClosed); deleting the namespace takes its tables with it.
func (m *Mapping) Remove() error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.removed {
		return nil
	}
	err := nftns.With(m.ns, func(c *nftables.Conn) error {
		c.DelTable(&nftables.Table{Name: m.cfg.tableName(), Family: family(&m.cfg)})
		if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("portmap: remove %s: %w", m, nftns.Err(err))
	}
	m.removed = true
	return nil
}
