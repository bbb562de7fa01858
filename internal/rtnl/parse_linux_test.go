package rtnl

import (
	"errors"
	"net/netip"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// The fuzz targets feed every parser what a malicious or buggy kernel could send: none
// may panic, and what they return must be consistent. Their seed corpora under
// testdata/fuzz are real replies of a 6.x kernel (a namespace with a bridge, veths, two
// VXLAN devices, IPv4 and IPv6 addresses, routes, neighbours, FDB entries and a tbf
// qdisc) and the hand-made messages below.

// rtattr encodes one attribute, unpadded.
func rtattr(typ uint16, v []byte) []byte {
	b := make([]byte, unix.SizeofRtAttr, unix.SizeofRtAttr+len(v))
	nl.NativeEndian().PutUint16(b, uint16(unix.SizeofRtAttr+len(v)))
	nl.NativeEndian().PutUint16(b[2:], typ)
	return append(b, v...)
}

// TestAttrsUnpadded: a last attribute whose length is not a multiple of 4, with the
// message ending right after it, is read (nl.ParseRouteAttr panicked on it).
func TestAttrsUnpadded(t *testing.T) {
	b := append(rtattr(unix.IFLA_MTU, []byte{1, 2, 3, 4}), rtattr(unix.IFLA_IFNAME, []byte("eth0\x00"))...)
	a := attrs(b, 0)
	if got := str(a[unix.IFLA_IFNAME]); got != "eth0" {
		t.Errorf("IFLA_IFNAME %q, want eth0", got)
	}
	if len(attrs(b[:len(b)-1], 0)) != 1 {
		t.Error("a truncated last attribute must be dropped and the one before it kept")
	}
	if len(attrs(b, 17)) != 0 {
		t.Error("a header longer than the message leaves no attributes")
	}
}

func FuzzParseLink(f *testing.F) {
	f.Add(make([]byte, unix.SizeofIfInfomsg))
	f.Add(append(make([]byte, unix.SizeofIfInfomsg), rtattr(unix.IFLA_LINKINFO, rtattr(unix.IFLA_INFO_KIND, []byte("veth")))...))
	f.Add(append(make([]byte, unix.SizeofIfInfomsg), rtattr(unix.IFLA_STATS64, make([]byte, sizeofStats-1))...))
	f.Fuzz(func(t *testing.T, b []byte) {
		l := parseLink(b)
		if l == nil {
			if len(b) >= unix.SizeofIfInfomsg {
				t.Fatal("a message with a whole ifinfomsg refused")
			}
			return
		}
		_, _ = l.Up(), l.Ready()
		if raw := attrs(b, unix.SizeofIfInfomsg)[unix.IFLA_STATS64]; (len(raw) >= sizeofStats) != (l.Stats != nil) {
			t.Fatalf("IFLA_STATS64 of %d bytes, stats %+v", len(raw), l.Stats)
		}
	})
}

func FuzzParseVXLAN(f *testing.F) {
	f.Add(rtattr(unix.IFLA_VXLAN_PORT, []byte{0x12}))
	f.Fuzz(func(t *testing.T, b []byte) {
		v := ParseVXLAN(b)
		if v.Group.IsValid() && v.Group.IsUnspecified() {
			t.Fatalf("unspecified group %v", v.Group)
		}
	})
}

func FuzzParseAddr(f *testing.F) {
	f.Add(append([]byte{unix.AF_INET, 33, 0, 0, 1, 0, 0, 0}, rtattr(unix.IFA_LOCAL, []byte{10, 0, 0, 1})...))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, ok := parseAddr(b)
		if ok && !a.Prefix.IsValid() {
			t.Fatalf("invalid prefix %v accepted", a.Prefix)
		}
	})
}

func FuzzParseRoute(f *testing.F) {
	f.Add(append([]byte{unix.AF_INET6, 200, 0, 0, unix.RT_TABLE_MAIN, 0, 0, unix.RTN_UNICAST, 0, 0, 0, 0},
		rtattr(unix.RTA_DST, []byte{10, 0, 0, 0})...))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, ok := parseRoute(b)
		if ok && !r.Dst.IsValid() {
			t.Fatalf("invalid destination accepted: %+v", r)
		}
		if _, attr := attrs(b, unix.SizeofRtMsg)[unix.RTA_TABLE]; ok && !attr && r.Table != uint32(b[4]) {
			t.Fatalf("table %d in the header read as %d", b[4], r.Table)
		}
	})
}

// FuzzParseNeigh also checks the hand-walked attributes against attrs.
func FuzzParseNeigh(f *testing.F) {
	f.Add(append(make([]byte, sizeofNdmsg), rtattr(unix.NDA_VNI, []byte{1, 2})...))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, ok := parseNeigh(b)
		if !ok {
			return
		}
		a := attrs(b, sizeofNdmsg)
		ip, _ := netip.AddrFromSlice(a[unix.NDA_DST])
		if n.IP != ip || n.Master != int(u32(a[unix.NDA_MASTER])) || n.VLAN != u16(a[unix.NDA_VLAN]) || n.VNI != u32(a[unix.NDA_VNI]) {
			t.Fatalf("parseNeigh %+v disagrees with attrs %v", n, a)
		}
	})
}

func FuzzParseQdisc(f *testing.F) {
	f.Add(append(make([]byte, nl.SizeofTcMsg), rtattr(nl.TCA_KIND, []byte("tbf"))...))
	f.Fuzz(func(t *testing.T, b []byte) {
		if q := parseQdisc(b); q == nil && len(b) >= nl.SizeofTcMsg {
			t.Fatal("a message with a whole tcmsg refused")
		}
	})
}

func FuzzParseNSID(f *testing.F) {
	f.Add(append([]byte{0, 0, 0, 0}, rtattr(unix.NETNSA_NSID, []byte{0xff, 0xff, 0xff, 0xff})...))
	f.Add(append([]byte{0, 0, 0, 0}, rtattr(unix.NETNSA_NSID, []byte{1})...))
	f.Fuzz(func(t *testing.T, b []byte) {
		if id, ok := parseNSID(b); !ok && id != 0 {
			t.Fatalf("no NETNSA_NSID but id %d", id)
		}
	})
}

// errMsg builds the payload of an NLMSG_ERROR: the errno, the request's header (its
// length says how much of the request follows, none here: capped) and attributes.
func errMsg(errno int32, reqLen uint32, tlvs ...[]byte) []byte {
	b := make([]byte, 4+unix.SizeofNlMsghdr)
	nl.NativeEndian().PutUint32(b, uint32(errno))
	nl.NativeEndian().PutUint32(b[4:], reqLen)
	for _, a := range tlvs {
		b = append(b, a...)
		b = append(b, make([]byte, align(len(a))-len(a))...)
	}
	return b
}

func TestVerdict(t *testing.T) {
	extack := rtattr(nl.NLMSGERR_ATTR_MSG, []byte("unknown device type\x00"))
	for _, tc := range []struct {
		name  string
		typ   uint16
		flags uint16
		data  []byte
		want  error
		msg   string
	}{
		{"ack", unix.NLMSG_ERROR, 0, errMsg(0, 16), nil, ""},
		{"error", unix.NLMSG_ERROR, 0, errMsg(-int32(unix.EINVAL), 16), unix.EINVAL, "invalid argument"},
		{"extack capped", unix.NLMSG_ERROR, unix.NLM_F_ACK_TLVS | unix.NLM_F_CAPPED, errMsg(-int32(unix.EINVAL), 64, extack),
			unix.EINVAL, "invalid argument: unknown device type"},
		{"extack after the request", unix.NLMSG_ERROR, unix.NLM_F_ACK_TLVS, errMsg(-int32(unix.EINVAL), 16, extack),
			unix.EINVAL, "invalid argument: unknown device type"},
		{"request longer than the message", unix.NLMSG_ERROR, unix.NLM_F_ACK_TLVS, errMsg(-int32(unix.EEXIST), 0xfffffff0, extack),
			unix.EEXIST, "file exists"},
		{"short", unix.NLMSG_ERROR, 0, []byte{0, 0}, nil, "rtnl: short netlink error message (2 bytes)"},
		{"done", unix.NLMSG_DONE, unix.NLM_F_MULTI, nil, nil, ""},
		{"done with an error", unix.NLMSG_DONE, unix.NLM_F_MULTI, errMsg(-int32(unix.EINTR), 0)[:4], unix.EINTR, "interrupted system call"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := verdict(syscall.NetlinkMessage{Header: syscall.NlMsghdr{Type: tc.typ, Flags: tc.flags}, Data: tc.data})
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
			if got := errString(err); got != tc.msg {
				t.Errorf("err %q, want %q", got, tc.msg)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// FuzzVerdict decodes an NLMSG_ERROR (or NLMSG_DONE) with any flags and payload, then
// the same bytes as a whole receive buffer, as exec gets them from the socket.
func FuzzVerdict(f *testing.F) {
	f.Add(uint16(unix.NLM_F_ACK_TLVS), false, errMsg(-22, 16, rtattr(nl.NLMSGERR_ATTR_MSG, []byte("x\x00"))))
	f.Add(uint16(unix.NLM_F_ACK_TLVS), false, errMsg(-22, 0xffffffff, rtattr(nl.NLMSGERR_ATTR_MSG, []byte("x"))))
	f.Add(uint16(unix.NLM_F_ACK_TLVS|unix.NLM_F_CAPPED), false, errMsg(-95, 99, rtattr(nl.NLMSGERR_ATTR_MSG, nil)))
	f.Add(uint16(unix.NLM_F_MULTI), true, []byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, flags uint16, done bool, data []byte) {
		typ := uint16(unix.NLMSG_ERROR)
		if done {
			typ = unix.NLMSG_DONE
		}
		err := verdict(syscall.NetlinkMessage{Header: syscall.NlMsghdr{Type: typ, Flags: flags}, Data: data})
		if len(data) >= 4 && (nl.NativeEndian().Uint32(data) == 0) != (err == nil) {
			t.Fatalf("errno %d, err %v", int32(nl.NativeEndian().Uint32(data)), err)
		}
		msgs, perr := syscall.ParseNetlinkMessage(data)
		if perr != nil {
			return
		}
		for _, m := range msgs {
			if m.Header.Type == unix.NLMSG_ERROR || m.Header.Type == unix.NLMSG_DONE {
				_ = verdict(m)
			}
		}
	})
}
