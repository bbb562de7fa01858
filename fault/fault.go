package fault

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/netnsx"
)

// Table is the nftables table (family inet) that holds every rule this package adds to
// a namespace. It has three base chains, "input", "output" and "forward", hooked at
// priority filter (0) with policy accept; it is made by the first rule and deleted with
// the last one.
const Table = "nstopo"

// Impairment is anything this package did to a namespace: Remove undoes exactly that,
// and nothing else. Remove is idempotent.
type Impairment interface {
	Remove() error
}

var (
	_ Impairment = (*Filter)(nil)
	_ Impairment = (*Qdisc)(nil)
	_ Impairment = (*LinkDown)(nil)
)

// RemoveAll removes every impairment, the last given first, and returns every error,
// joined. Nil impairments are skipped.
func RemoveAll(imps ...Impairment) error {
	var errs []error
	for i := len(imps) - 1; i >= 0; i-- {
		if imps[i] != nil {
			errs = append(errs, imps[i].Remove())
		}
	}
	return errors.Join(errs...)
}

// Direction says which packets of a namespace a rule sees.
type Direction uint8

const (
	In      Direction = iota // packets delivered to the namespace (the input hook); the zero value
	Out                      // packets the namespace sends (the output hook)
	Forward                  // packets the namespace routes through (the forward hook)
)

func (d Direction) String() string {
	switch d {
	case In:
		return "in"
	case Out:
		return "out"
	case Forward:
		return "forward"
	}
	return fmt.Sprintf("direction(%d)", uint8(d))
}

// Protocol is an IP protocol number, as `meta l4proto` matches it.
type Protocol uint8

const (
	AnyProtocol Protocol = 0  // every protocol: the zero value
	ICMP        Protocol = 1  // ICMP for IPv4
	TCP         Protocol = 6  //
	UDP         Protocol = 17 //
	ICMPv6      Protocol = 58 // ICMP for IPv6
)

func (p Protocol) String() string {
	switch p {
	case AnyProtocol:
		return "any"
	case ICMP:
		return "icmp"
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case ICMPv6:
		return "icmpv6"
	}
	return fmt.Sprintf("protocol %d", uint8(p))
}

// TCPFlags are the flags of a TCP header, as `tcp flags` matches them.
type TCPFlags uint8

const (
	FIN TCPFlags = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
)

// Verdict is what a rule does with a packet it matches.
type Verdict uint8

const (
	// Drop discards the packet silently: the sender sees a timeout. The zero value.
	Drop Verdict = iota
	// Accept lets the packet through this package's chain (other tables still see it);
	// add it before the rules it is an exception to.
	Accept
	// RejectReset answers with a TCP reset: a dial gets "connection refused", an open
	// connection "connection reset by peer". The rule's Protocol must be TCP.
	RejectReset
	// RejectHostUnreachable answers with ICMP host unreachable (ICMPv6 address
	// unreachable): a dial gets "no route to host".
	RejectHostUnreachable
	// RejectPortUnreachable answers with ICMP port unreachable: a TCP dial gets
	// "connection refused", a connected UDP socket reads ECONNREFUSED.
	RejectPortUnreachable
)

func (v Verdict) String() string {
	switch v {
	case Drop:
		return "drop"
	case Accept:
		return "accept"
	case RejectReset:
		return "reject with tcp reset"
	case RejectHostUnreachable:
		return "reject with host unreachable"
	case RejectPortUnreachable:
		return "reject with port unreachable"
	}
	return fmt.Sprintf("verdict(%d)", uint8(v))
}

// Rule is one packet-filter rule. Every condition set must hold for the rule to match;
// zero fields match anything.
type Rule struct {
	Direction Direction
	Protocol  Protocol     // AnyProtocol: any; ICMP goes with IPv4 prefixes, ICMPv6 with IPv6 ones
	Src, Dst  netip.Prefix // the zero Prefix: any address; a host is a /32 or a /128
	SrcPort   int          // 1..65535, 0: any; needs TCP or UDP
	DstPort   int          // 1..65535, 0: any; needs TCP or UDP
	// The rule matches a TCP segment when flags&TCPFlagsMask == TCPFlags. A zero mask
	// means TCPFlags itself (those flags set, the others anything); a new connection's
	// first segment is TCPFlags: SYN, TCPFlagsMask: SYN|ACK. Needs TCP.
	TCPFlags, TCPFlagsMask TCPFlags
	// LongerThan matches only packets longer than this many bytes, from the IP header
	// on (`meta length`); 0: any length.
	LongerThan int
	// Percent applies the verdict to only this share, 1..100, of the matching packets,
	// drawn at random packet by packet (`numgen random mod 100`); 0: to all of them.
	Percent int
	Verdict Verdict
}

// family is 4 or 6 when the rule can only match one family, else 0.
func (r Rule) family() int {
	for _, p := range []netip.Prefix{r.Src, r.Dst} {
		if p.IsValid() {
			if p.Addr().Is4() {
				return 4
			}
			return 6
		}
	}
	switch r.Protocol {
	case ICMP:
		return 4
	case ICMPv6:
		return 6
	}
	return 0
}

func checkPrefix(field string, p netip.Prefix) error {
	if p == (netip.Prefix{}) {
		return nil
	}
	if !p.IsValid() {
		return errdefs.Invalid("%s: invalid prefix", field)
	}
	if p.Addr().Is4In6() {
		return errdefs.Invalid("%s %s is an IPv4-mapped IPv6 prefix; use the IPv4 form", field, p)
	}
	if p.Addr().Zone() != "" {
		return errdefs.Invalid("%s %s has a zone", field, p)
	}
	return nil
}

// validate checks everything the kernel would refuse, or take to mean something else,
// before any message is sent.
func (r Rule) validate() error {
	if r.Direction > Forward {
		return errdefs.Invalid("Direction %d is not In, Out or Forward", r.Direction)
	}
	switch r.Protocol {
	case AnyProtocol, ICMP, TCP, UDP, ICMPv6:
	default:
		return errdefs.Invalid("Protocol %d is not TCP, UDP, ICMP or ICMPv6", r.Protocol)
	}
	if err := checkPrefix("Src", r.Src); err != nil {
		return err
	}
	if err := checkPrefix("Dst", r.Dst); err != nil {
		return err
	}
	if r.Src.IsValid() && r.Dst.IsValid() && r.Src.Addr().Is4() != r.Dst.Addr().Is4() {
		return errdefs.Invalid("Src %s and Dst %s are of different families", r.Src, r.Dst)
	}
	if fam := r.family(); r.Src.IsValid() || r.Dst.IsValid() {
		if r.Protocol == ICMP && fam == 6 {
			return errdefs.Invalid("Protocol icmp is IPv4's, but the prefixes are IPv6 (use ICMPv6)")
		}
		if r.Protocol == ICMPv6 && fam == 4 {
			return errdefs.Invalid("Protocol icmpv6 is IPv6's, but the prefixes are IPv4 (use ICMP)")
		}
	}
	for _, p := range []struct {
		field string
		port  int
	}{{"SrcPort", r.SrcPort}, {"DstPort", r.DstPort}} {
		if p.port < 0 || p.port > 65535 {
			return errdefs.Invalid("%s %d out of range 0..65535", p.field, p.port)
		}
		if p.port != 0 && r.Protocol != TCP && r.Protocol != UDP {
			return errdefs.Invalid("%s %d needs Protocol TCP or UDP, not %s", p.field, p.port, r.Protocol)
		}
	}
	if (r.TCPFlags != 0 || r.TCPFlagsMask != 0) && r.Protocol != TCP {
		return errdefs.Invalid("TCPFlags need Protocol TCP, not %s", r.Protocol)
	}
	if r.TCPFlagsMask != 0 && r.TCPFlags&^r.TCPFlagsMask != 0 {
		return errdefs.Invalid("TCPFlags %#x has flags outside TCPFlagsMask %#x: it would never match", r.TCPFlags, r.TCPFlagsMask)
	}
	if r.LongerThan < 0 || r.LongerThan > 65535 {
		return errdefs.Invalid("LongerThan %d out of range 0..65535", r.LongerThan)
	}
	if r.Percent < 0 || r.Percent > 100 {
		return errdefs.Invalid("Percent %d out of range 1..100 (0: every packet)", r.Percent)
	}
	switch r.Verdict {
	case Drop, Accept, RejectHostUnreachable, RejectPortUnreachable:
	case RejectReset:
		if r.Protocol != TCP {
			return errdefs.Invalid("Verdict RejectReset needs Protocol TCP, not %s", r.Protocol)
		}
	default:
		return errdefs.Invalid("Verdict %d is unknown", r.Verdict)
	}
	return nil
}

// String is the rule in nft's words, as the comment of the rule in the table says it.
func (r Rule) String() string {
	var b strings.Builder
	b.WriteString(r.Direction.String())
	if r.Protocol != AnyProtocol {
		b.WriteString(" " + r.Protocol.String())
	}
	if r.Src.IsValid() {
		b.WriteString(" saddr " + r.Src.String())
	}
	if r.Dst.IsValid() {
		b.WriteString(" daddr " + r.Dst.String())
	}
	if r.SrcPort != 0 {
		fmt.Fprintf(&b, " sport %d", r.SrcPort)
	}
	if r.DstPort != 0 {
		fmt.Fprintf(&b, " dport %d", r.DstPort)
	}
	if r.TCPFlags != 0 || r.TCPFlagsMask != 0 {
		fmt.Fprintf(&b, " flags %#x/%#x", uint8(r.TCPFlags), uint8(r.mask()))
	}
	if r.LongerThan != 0 {
		fmt.Fprintf(&b, " length > %d", r.LongerThan)
	}
	if r.Percent != 0 {
		fmt.Fprintf(&b, " %d%%", r.Percent)
	}
	b.WriteString(" " + r.Verdict.String())
	return b.String()
}

func (r Rule) mask() TCPFlags {
	if r.TCPFlagsMask == 0 {
		return r.TCPFlags
	}
	return r.TCPFlagsMask
}

// resetRule refuses every new TCP connection to port with a reset.
func resetRule(port int) Rule {
	return Rule{Direction: In, Protocol: TCP, DstPort: port, TCPFlags: SYN, TCPFlagsMask: SYN | ACK, Verdict: RejectReset}
}

// partitionRules drops what goes from one prefix to the other, both ways unless
// oneWay, in every direction a namespace sees it: sent, received or routed through.
func partitionRules(a, b netip.Prefix, oneWay bool) ([]Rule, error) {
	for _, p := range []struct {
		field string
		p     netip.Prefix
	}{{"a", a}, {"b", b}} {
		if p.p == (netip.Prefix{}) {
			return nil, errdefs.Invalid("prefix %s is empty", p.field)
		}
		if err := checkPrefix("prefix "+p.field, p.p); err != nil {
			return nil, err
		}
	}
	if a.Addr().Is4() != b.Addr().Is4() {
		return nil, errdefs.Invalid("prefixes %s and %s are of different families", a, b)
	}
	var rules []Rule
	for _, d := range []Direction{In, Out, Forward} {
		rules = append(rules, Rule{Direction: d, Src: a.Masked(), Dst: b.Masked()})
		if !oneWay {
			rules = append(rules, Rule{Direction: d, Src: b.Masked(), Dst: a.Masked()})
		}
	}
	return rules, nil
}

// Counters are what the kernel counted for a filter: the packets and bytes its rules
// gave their verdict to (after Percent drew its share), summed over its rules.
type Counters struct {
	Packets, Bytes uint64
}

// Filter is a set of rules this package added to a namespace's table, made by [Add],
// [Loss], [ResetHandshakes] or [Partition].
type Filter struct {
	ns    *netnsx.NS
	desc  string
	rules []ruleRef

	mu      sync.Mutex
	removed bool
}

// ruleRef names one kernel rule: its chain, the comment that marks it as this filter's,
// and the handle the kernel gave it.
type ruleRef struct {
	chain   string
	comment string
	handle  uint64
}

// String describes the filter: its namespace and its rules.
func (f *Filter) String() string {
	if f == nil {
		return "<nil filter>"
	}
	return f.desc
}

// Handles returns the kernel's handles of the filter's rules, as `nft -a list ruleset`
// shows them in table inet nstopo.
func (f *Filter) Handles() []uint64 {
	if f == nil {
		return nil
	}
	out := make([]uint64, len(f.rules))
	for i, r := range f.rules {
		out[i] = r.handle
	}
	return out
}

// Packets returns how many packets the filter's rules have matched.
func (f *Filter) Packets() (uint64, error) {
	c, err := f.Counters()
	return c.Packets, err
}

// RateLimit is a token-bucket filter (tbf) on a link's egress, as
// `tc qdisc add dev D root tbf rate R burst B latency L` makes it.
type RateLimit struct {
	Rate    uint64        // bits per second, as tc's rate; required
	Burst   int           // bytes that may leave at once; 0: 10 ms worth of Rate, at least 16 KiB
	Latency time.Duration // how long a packet may wait before it is dropped; 0: 50 ms
}

const (
	minBurst       = 16 << 10
	defaultLatency = 50 * time.Millisecond
)

func (l RateLimit) validate() (RateLimit, error) {
	if l.Rate == 0 {
		return l, errdefs.Invalid("Rate 0: a link that sends nothing is a Drop rule, not a rate")
	}
	if l.Rate < 8 {
		return l, errdefs.Invalid("Rate %d bit/s is less than one byte a second", l.Rate)
	}
	if l.Burst < 0 || l.Burst > 1<<30 {
		return l, errdefs.Invalid("Burst %d out of range 0..%d", l.Burst, 1<<30)
	}
	if l.Latency < 0 || l.Latency > time.Minute {
		return l, errdefs.Invalid("Latency %v out of range 0..1m", l.Latency)
	}
	if l.Burst == 0 {
		l.Burst = int(max(l.Rate/8/100, minBurst))
	}
	if l.Latency == 0 {
		l.Latency = defaultLatency
	}
	return l, nil
}

// Netem is what [Emulate] asks of the kernel's network emulator, sch_netem.
type Netem struct {
	Delay  time.Duration // added to every packet
	Jitter time.Duration // random variation of Delay, up to this much either way
	Limit  int           // packets the queue holds; 0: 1000, netem's default
}

func (n Netem) validate() (Netem, error) {
	if n.Delay < 0 || n.Jitter < 0 {
		return n, errdefs.Invalid("Delay %v and Jitter %v must not be negative", n.Delay, n.Jitter)
	}
	if n.Jitter > n.Delay {
		return n, errdefs.Invalid("Jitter %v is larger than Delay %v", n.Jitter, n.Delay)
	}
	if n.Limit < 0 {
		return n, errdefs.Invalid("Limit %d is negative", n.Limit)
	}
	if n.Limit == 0 {
		n.Limit = 1000
	}
	return n, nil
}

// Qdisc is a root queueing discipline this package attached to a link, made by
// [LimitRate] or [Emulate]. Remove restores the kernel's default one.
type Qdisc struct {
	link   *netnsx.Link
	kind   string
	handle uint32

	mu      sync.Mutex
	removed bool
}

// String describes the queueing discipline.
func (q *Qdisc) String() string {
	if q == nil {
		return "<nil qdisc>"
	}
	return fmt.Sprintf("%s on %s in %s", q.kind, q.link, q.link.NS())
}

// readyTimeout bounds the wait for a link brought up again to carry traffic.
const readyTimeout = 10 * time.Second
