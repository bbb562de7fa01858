package fault

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/internal/nftns"
	"github.com/nstopo/nstopo/internal/rtnl"
	"github.com/nstopo/nstopo/netnsx"
)

// nftMu serialises this process's changes to the tables: the last rule's Remove deletes
// the table, which must not race with another goroutine's Add.
var nftMu sync.Mutex

var (
	idToken = newIDToken()
	idCount atomic.Uint64
)

func newIDToken() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// useNS runs fn with the namespace's netlink socket and file descriptor, held open
// while fn runs. A nil ns is refused there, never taken for the host.
func useNS(ns *netnsx.NS, fn func(c *rtnl.Conn, fd int) error) error {
	return ns.Netlink(fn)
}

// withNFT runs fn with an nftables connection made inside ns.
func withNFT(ns *netnsx.NS, fn func(c *nftables.Conn) error) error { return nftns.With(ns, fn) }

var table = &nftables.Table{Name: Table, Family: nftables.TableFamilyINet}

var chainHooks = map[Direction]struct {
	name string
	hook *nftables.ChainHook
}{
	In:      {"input", nftables.ChainHookInput},
	Out:     {"output", nftables.ChainHookOutput},
	Forward: {"forward", nftables.ChainHookForward},
}

func chain(name string) *nftables.Chain { return &nftables.Chain{Name: name, Table: table} }

// Add adds one rule to ns's table, making the table and its chains if they are missing.
// The rule goes after the rules already there.
func Add(ns *netnsx.NS, r Rule) (*Filter, error) {
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("fault: add %s in %s: %w", r, ns, err)
	}
	return add(ns, "add "+r.String(), []Rule{r})
}

// Loss drops percent (1..100) of the packets that r matches, drawn at random packet
// by packet; r's Percent and Verdict are overridden.
func Loss(ns *netnsx.NS, percent int, r Rule) (*Filter, error) {
	r.Percent, r.Verdict = percent, Drop
	if percent < 1 || percent > 100 {
		return nil, fmt.Errorf("fault: loss %d%% in %s: %w", percent, ns,
			errdefs.Invalid("loss %d%% out of range 1..100", percent))
	}
	return Add(ns, r)
}

// ResetHandshakes answers every new TCP connection to port in ns with a reset, so a
// dial from anywhere gets "connection refused" and connections already open go on: the
// article's incident, where a service's handshake got RST.
func ResetHandshakes(ns *netnsx.NS, port int) (*Filter, error) {
	op := fmt.Sprintf("reset handshakes to port %d", port)
	r := resetRule(port)
	err := r.validate()
	if err == nil && port == 0 {
		err = errdefs.Invalid("port 0: give the port of the service")
	}
	if err != nil {
		return nil, fmt.Errorf("fault: %s in %s: %w", op, ns, err)
	}
	return add(ns, op, []Rule{r})
}

// Partition drops every packet from a to b and, unless oneWay, from b to a, wherever
// ns sees it: sent, received or routed through. Prefixes must be of one family.
func Partition(ns *netnsx.NS, a, b netip.Prefix, oneWay bool) (*Filter, error) {
	op := fmt.Sprintf("partition %s from %s", a, b)
	if oneWay {
		op = fmt.Sprintf("partition %s to %s", a, b)
	}
	rules, err := partitionRules(a, b, oneWay)
	if err != nil {
		return nil, fmt.Errorf("fault: %s in %s: %w", op, ns, err)
	}
	return add(ns, op, rules)
}

// add adds the rules in one transaction: all of them or none.
func add(ns *netnsx.NS, op string, rules []Rule) (*Filter, error) {
	f := &Filter{ns: ns, desc: op + " in " + ns.String()}
	id := fmt.Sprintf("%s-%d", idToken, idCount.Add(1))
	nftMu.Lock()
	defer nftMu.Unlock()
	err := withNFT(ns, func(c *nftables.Conn) error {
		c.AddTable(table)
		accept := nftables.ChainPolicyAccept
		for _, d := range []Direction{In, Out, Forward} {
			h := chainHooks[d]
			c.AddChain(&nftables.Chain{
				Name: h.name, Table: table, Type: nftables.ChainTypeFilter,
				Hooknum: h.hook, Priority: nftables.ChainPriorityFilter, Policy: &accept,
			})
		}
		for i, r := range rules {
			ref := ruleRef{chain: chainHooks[r.Direction].name, comment: fmt.Sprintf("nstopo %s/%d: %s", id, i, r)}
			c.AddRule(&nftables.Rule{
				Table: table, Chain: chain(ref.chain), Exprs: exprs(r),
				UserData: userdata.AppendString(nil, userdata.TypeComment, ref.comment),
			})
			f.rules = append(f.rules, ref)
		}
		if err := c.Flush(); err != nil {
			return err
		}
		return f.findHandles(c)
	})
	if err != nil {
		return nil, fmt.Errorf("fault: %s in %s: %w", op, ns, nftErr(err))
	}
	return f, nil
}

// findHandles reads back the handles the kernel gave the filter's rules, finding each
// by its comment: the library's batch reply does not carry them.
func (f *Filter) findHandles(c *nftables.Conn) error {
	for i := range f.rules {
		ref := &f.rules[i]
		rs, err := c.GetRules(table, chain(ref.chain))
		if err != nil {
			return err
		}
		for _, r := range rs {
			if s, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok && s == ref.comment {
				ref.handle = r.Handle
			}
		}
		if ref.handle == 0 {
			return fmt.Errorf("rule %q vanished after it was added", ref.comment)
		}
	}
	return nil
}

// Remove deletes the filter's rules, and the table when no rule is left in it. It is
// idempotent; rules already gone (deleted by hand, or with their namespace) count as
// removed.
func (f *Filter) Remove() error {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.removed {
		return nil
	}
	nftMu.Lock()
	defer nftMu.Unlock()
	err := withNFT(f.ns, func(c *nftables.Conn) error {
		for _, ref := range f.rules {
			if err := c.DelRule(&nftables.Rule{Table: table, Chain: chain(ref.chain), Handle: ref.handle}); err != nil {
				return err
			}
			// One batch a rule: a rule already gone must not keep the others.
			if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
				return err
			}
		}
		return dropTableIfEmpty(c)
	})
	if err != nil {
		return fmt.Errorf("fault: remove %s: %w", f.desc, nftErr(err))
	}
	f.removed = true
	return nil
}

// dropTableIfEmpty deletes the table when none of its chains holds a rule any more.
func dropTableIfEmpty(c *nftables.Conn) error {
	for _, d := range []Direction{In, Out, Forward} {
		rs, err := c.GetRules(table, chain(chainHooks[d].name))
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return err
		}
		if len(rs) > 0 {
			return nil
		}
	}
	c.DelTable(table)
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	return nil
}

// Counters returns what the kernel counted for the filter's rules.
func (f *Filter) Counters() (Counters, error) {
	var sum Counters
	if f == nil {
		return sum, fmt.Errorf("fault: counters: %w", errdefs.Invalid("nil filter"))
	}
	f.mu.Lock()
	removed := f.removed
	f.mu.Unlock()
	if removed {
		return sum, fmt.Errorf("fault: counters of %s: %w: the filter was removed", f.desc, netnsx.ErrNotFound)
	}
	err := withNFT(f.ns, func(c *nftables.Conn) error {
		byChain := map[string][]*nftables.Rule{}
		for _, ref := range f.rules {
			rs, ok := byChain[ref.chain]
			if !ok {
				var err error
				if rs, err = c.GetRules(table, chain(ref.chain)); err != nil {
					return err
				}
				byChain[ref.chain] = rs
			}
			found := false
			for _, r := range rs {
				if r.Handle != ref.handle {
					continue
				}
				found = true
				for _, e := range r.Exprs {
					if ctr, ok := e.(*expr.Counter); ok {
						sum.Packets += ctr.Packets
						sum.Bytes += ctr.Bytes
					}
				}
			}
			if !found {
				return fmt.Errorf("%w: rule %d in chain %s is gone", netnsx.ErrNotFound, ref.handle, ref.chain)
			}
		}
		return nil
	})
	if err != nil {
		return Counters{}, fmt.Errorf("fault: counters of %s: %w", f.desc, nftErr(err))
	}
	return sum, nil
}

// nftErr maps an nftables error to the shared sentinels, naming a missing module.
func nftErr(err error) error {
	if errors.Is(err, unix.EOPNOTSUPP) && strings.Contains(err.Error(), "reject") {
		return fmt.Errorf("%w: the kernel has no nft_reject_inet: %w", netnsx.ErrNotSupported, err)
	}
	return nftns.Err(err)
}

// Registers: 1 is NFT_REG_1, the 16-byte register every match loads into.
const reg = 1

func be16(v int) []byte    { return binary.BigEndian.AppendUint16(nil, uint16(v)) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// exprs compiles a validated rule as nft does: matches, then the counter (so it counts
// what the verdict hits), then the verdict.
func exprs(r Rule) []expr.Any {
	var e []expr.Any
	cmp := func(op expr.CmpOp, data []byte) { e = append(e, &expr.Cmp{Op: op, Register: reg, Data: data}) }
	fam := r.family()
	switch fam {
	case 4:
		e = append(e, &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: reg})
		cmp(expr.CmpOpEq, []byte{unix.NFPROTO_IPV4})
	case 6:
		e = append(e, &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: reg})
		cmp(expr.CmpOpEq, []byte{unix.NFPROTO_IPV6})
	}
	if r.Protocol != AnyProtocol {
		e = append(e, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg})
		cmp(expr.CmpOpEq, []byte{byte(r.Protocol)})
	}
	addr := func(p netip.Prefix, off4, off6 uint32) {
		if !p.IsValid() || p.Bits() == 0 {
			return // the family match above is all a /0 asks
		}
		off, n := off4, 4
		if p.Addr().Is6() {
			off, n = off6, 16
		}
		e = append(e, &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: uint32(n)})
		if p.Bits() < n*8 {
			e = append(e, &expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: uint32(n),
				Mask: net.CIDRMask(p.Bits(), n*8), Xor: make([]byte, n)})
		}
		cmp(expr.CmpOpEq, p.Masked().Addr().AsSlice())
	}
	addr(r.Src, 12, 8)
	addr(r.Dst, 16, 24)
	port := func(v int, off uint32) {
		if v != 0 {
			e = append(e, &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2})
			cmp(expr.CmpOpEq, be16(v))
		}
	}
	port(r.SrcPort, 0)
	port(r.DstPort, 2)
	if r.TCPFlags != 0 || r.TCPFlagsMask != 0 {
		e = append(e,
			&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
			&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 1, Mask: []byte{byte(r.mask())}, Xor: []byte{0}})
		cmp(expr.CmpOpEq, []byte{byte(r.TCPFlags)})
	}
	// meta length and numgen load host-order numbers; cmp compares bytes, so both are
	// turned to network order first, as nft does.
	hton := func() expr.Any {
		return &expr.Byteorder{SourceRegister: reg, DestRegister: reg, Op: expr.ByteorderHton, Len: 4, Size: 4}
	}
	if r.LongerThan > 0 {
		e = append(e, &expr.Meta{Key: expr.MetaKeyLEN, Register: reg}, hton())
		cmp(expr.CmpOpGt, be32(uint32(r.LongerThan)))
	}
	if r.Percent > 0 && r.Percent < 100 {
		e = append(e, &expr.Numgen{Register: reg, Modulus: 100, Type: unix.NFT_NG_RANDOM}, hton())
		cmp(expr.CmpOpLt, be32(uint32(r.Percent)))
	}
	e = append(e, &expr.Counter{})
	switch r.Verdict {
	case Drop:
		e = append(e, &expr.Verdict{Kind: expr.VerdictDrop})
	case Accept:
		e = append(e, &expr.Verdict{Kind: expr.VerdictAccept})
	case RejectReset:
		e = append(e, &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})
	case RejectHostUnreachable:
		e = append(e, &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_HOST_UNREACH})
	case RejectPortUnreachable:
		e = append(e, &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH})
	}
	return e
}
