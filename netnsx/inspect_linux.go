package netnsx

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/internal/rtnl"
)

// Inspect reads the links and routes of the given namespaces; with none, of the host
// and every named namespace (one deleted meanwhile is left out). A veth's peer is
// resolved across the inspected namespaces.
func Inspect(nss ...*NS) (*Snapshot, error) {
	if len(nss) == 0 {
		all, closeAll, err := hostAndNamed()
		if err != nil {
			return nil, err // Host's or Open's, which name the namespace
		}
		defer closeAll()
		nss = all
	}
	views := make([]*view, len(nss))
	for i, ns := range nss {
		n, err := resolve(ns)
		if err == nil {
			views[i], err = n.read()
		}
		if err != nil {
			return nil, fmt.Errorf("netnsx: inspect %s: %w", ns, errdefs.Kernel(err, "CAP_NET_ADMIN"))
		}
		views[i].ns = n
	}
	snap := &Snapshot{Namespaces: make([]NamespaceInfo, len(views))}
	for i, v := range views {
		snap.Namespaces[i] = v.info(views)
	}
	return snap, nil
}

func hostAndNamed() ([]*NS, func(), error) {
	host, err := Host()
	if err != nil {
		return nil, nil, err
	}
	nss := []*NS{host}
	closeAll := func() {
		for _, ns := range nss {
			_ = ns.Close()
		}
	}
	names, err := List()
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	for _, name := range names {
		ns, err := Open(name)
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) {
			continue // deleted since List, or a stale file that is no namespace
		}
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		nss = append(nss, ns)
	}
	return nss, closeAll, nil
}

// view is one namespace as read from the kernel, before peers are resolved.
type view struct {
	ns     *NS
	links  []*rtnl.Link
	byIdx  map[int]*rtnl.Link
	addrs  []rtnl.Addr
	routes []Route
	fdb    []rtnl.Neigh
	nsids  map[int]*view // the ids this namespace gives others, learned on demand
	asked  map[*view]bool
}

func (ns *NS) read() (*view, error) {
	v := &view{byIdx: map[int]*rtnl.Link{}, nsids: map[int]*view{}, asked: map[*view]bool{}}
	err := ns.useRaw(func(c *rtnl.Conn, _ int) (err error) {
		if v.links, err = c.Links(); err != nil {
			return err
		}
		for _, l := range v.links {
			v.byIdx[l.Index] = l
		}
		if v.addrs, err = c.Addrs(0); err != nil {
			return err
		}
		if v.routes, err = routes(c, v.byIdx, unix.RT_TABLE_MAIN); err != nil {
			return err
		}
		for _, l := range v.links {
			if l.Kind == "vxlan" {
				v.fdb, err = c.Neighs(unix.AF_BRIDGE)
				return err
			}
		}
		return nil
	})
	return v, err
}

// routes reads one table, naming each route's device; main is read back as Table 0.
func routes(c *rtnl.Conn, byIdx map[int]*rtnl.Link, table uint32) ([]Route, error) {
	rs, err := c.RoutesIn(table)
	out := make([]Route, 0, len(rs))
	for _, r := range rs {
		dev := ""
		if l := byIdx[r.OIF]; l != nil {
			dev = l.Name
		}
		t := int(r.Table)
		if r.Table == unix.RT_TABLE_MAIN {
			t = 0
		}
		out = append(out, Route{Dst: r.Dst, Gateway: r.Gateway, Dev: dev, Src: r.Src, Table: t, Metric: int(r.Priority)})
	}
	return out, err
}

func (v *view) info(all []*view) NamespaceInfo {
	ni := NamespaceInfo{Name: v.ns.String(), Routes: v.routes}
	for _, l := range v.links {
		li := LinkInfo{Name: l.Name, Kind: l.Kind, Index: l.Index, MTU: l.MTU, HardwareAddr: l.HardwareAddr, Up: l.Up()}
		for _, a := range v.addrs {
			if a.Index == l.Index {
				li.Addrs = append(li.Addrs, a.Prefix)
			}
		}
		if m := v.byIdx[l.Master]; m != nil && l.Master != 0 {
			li.Master = m.Name
		}
		if l.Kind == "veth" && l.PeerIndex > 0 {
			li.Peer = v.peer(l, all)
		}
		if l.Kind == "vxlan" {
			li.VXLAN = v.vxlan(l)
		}
		ni.Links = append(ni.Links, li)
	}
	return ni
}

// peer finds a veth's other end: here, or in the inspected namespace whose id (as this
// namespace numbers it) the link reports.
func (v *view) peer(l *rtnl.Link, all []*view) *PeerRef {
	if l.PeerNetNSID < 0 {
		if p := v.byIdx[l.PeerIndex]; p != nil {
			return &PeerRef{Namespace: v.ns.String(), Name: p.Name}
		}
		return nil
	}
	other := v.byNSID(l.PeerNetNSID, all)
	if other == nil {
		return &PeerRef{Name: fmt.Sprintf("if%d", l.PeerIndex)} // in a namespace not inspected
	}
	if p := other.byIdx[l.PeerIndex]; p != nil {
		return &PeerRef{Namespace: other.ns.String(), Name: p.Name}
	}
	return nil
}

// byNSID returns the inspected namespace that v calls id, asking the kernel for the
// ids of the others only until it is found.
func (v *view) byNSID(id int, all []*view) *view {
	if o, ok := v.nsids[id]; ok {
		return o
	}
	for _, o := range all {
		if o == v || v.asked[o] {
			continue
		}
		v.asked[o] = true
		got := -1
		_ = v.ns.useRaw(func(c *rtnl.Conn, _ int) error {
			return o.ns.useRaw(func(_ *rtnl.Conn, fd int) (err error) {
				got, err = c.NSID(fd)
				return err
			})
		})
		if got >= 0 {
			v.nsids[got] = o
			if got == id {
				return o
			}
		}
	}
	return nil
}

func (v *view) vxlan(l *rtnl.Link) *VXLANInfo {
	x := rtnl.ParseVXLAN(l.Data)
	info := &VXLANInfo{VNI: x.VNI, Port: x.Port}
	if u := v.byIdx[x.Underlay]; u != nil && x.Underlay != 0 {
		info.Underlay = u.Name
	}
	info.Remotes = rtnl.Remotes(v.fdb, l.Index)
	return info
}
