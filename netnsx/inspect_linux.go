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
//
// With none given, the named namespaces are opened one at a time and closed once read,
// so that a machine with 10,000 of them costs a few descriptors, not 20,000; a peer is
// then checked by opening its namespace again by path (see view.peer).
func Inspect(nss ...*NS) (*Snapshot, error) {
	var views []*view
	if len(nss) == 0 {
		var err error
		if views, err = readHostAndNamed(); err != nil {
			return nil, err
		}
		defer views[0].ns.Close() // the host's, kept for the peers
	} else {
		for _, ns := range nss {
			v, err := readOne(ns)
			if err != nil {
				return nil, err
			}
			views = append(views, v)
		}
	}
	peers := map[[2]int][]*view{}
	for _, v := range views {
		for _, l := range v.links {
			if l.Kind == "veth" {
				k := [2]int{l.Index, l.PeerIndex}
				peers[k] = append(peers[k], v)
			}
		}
	}
	snap := &Snapshot{Namespaces: make([]NamespaceInfo, len(views))}
	for i, v := range views {
		snap.Namespaces[i] = v.info(peers)
	}
	return snap, nil
}

// readOne reads the namespace behind ns, which stays open in the view.
func readOne(ns *NS) (*view, error) {
	n, err := resolve(ns)
	var v *view
	if err == nil {
		v, err = n.read()
	}
	if err != nil {
		return nil, fmt.Errorf("netnsx: inspect %s: %w", ns, errdefs.Kernel(err, "CAP_NET_ADMIN"))
	}
	return v, nil
}

// readHostAndNamed reads the host, kept open, and every named namespace, each closed
// once read.
func readHostAndNamed() ([]*view, error) {
	host, err := Host()
	if err != nil {
		return nil, err
	}
	v, err := readOne(host)
	if err != nil {
		_ = host.Close()
		return nil, err
	}
	views := []*view{v}
	names, err := List()
	if err != nil {
		_ = host.Close()
		return nil, err
	}
	for _, name := range names {
		ns, err := Open(name)
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) {
			continue // deleted since List, or a stale file that is no namespace
		}
		if err == nil {
			v, err = readOne(ns)
			if errors.Is(err, ErrNotFound) {
				_ = ns.Close()
				continue
			}
			err = errors.Join(err, ns.Close())
		}
		if err != nil {
			_ = host.Close()
			return nil, err
		}
		v.ns = nil // closed: reopened by path if a peer needs it
		views = append(views, v)
	}
	return views, nil
}

// view is one namespace as read from the kernel, before peers are resolved.
type view struct {
	ns     *NS // open, or nil once closed: then path, dev and ino find it again
	label  string
	path   string
	dev    uint64
	ino    uint64
	links  []*rtnl.Link
	byIdx  map[int]*rtnl.Link
	addrs  []rtnl.Addr
	routes []Route
	fdb    []rtnl.Neigh
	ids    map[*view]int // the ids this namespace gives others, learned on demand

	reopened bool // ns was opened again by handle, for release to close
}

func (ns *NS) read() (*view, error) {
	v := &view{ns: ns, label: ns.String(), path: ns.path, dev: ns.sys.dev, ino: ns.sys.ino,
		byIdx: map[int]*rtnl.Link{}, ids: map[*view]int{}}
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

func (v *view) info(peers map[[2]int][]*view) NamespaceInfo {
	defer v.release()
	ni := NamespaceInfo{Name: v.label, Routes: v.routes}
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
			li.Peer = v.peer(l, peers)
		}
		if l.Kind == "vxlan" {
			li.VXLAN = v.vxlan(l)
		}
		ni.Links = append(ni.Links, li)
	}
	return ni
}

// peer finds a veth's other end: here, or in an inspected namespace. There, the other
// end is a veth reporting the same two indexes the other way round; among such
// candidates (usually one) the kernel's id for the candidate's namespace, as this
// namespace numbers it, decides.
func (v *view) peer(l *rtnl.Link, peers map[[2]int][]*view) *PeerRef {
	if l.PeerNetNSID < 0 {
		if p := v.byIdx[l.PeerIndex]; p != nil {
			return &PeerRef{Namespace: v.label, Name: p.Name}
		}
		return nil
	}
	for _, o := range peers[[2]int{l.PeerIndex, l.Index}] {
		if o != v && v.nsid(o) == l.PeerNetNSID {
			return &PeerRef{Namespace: o.label, Name: o.byIdx[l.PeerIndex].Name}
		}
	}
	return &PeerRef{Name: fmt.Sprintf("if%d", l.PeerIndex)} // in a namespace not inspected
}

// nsid returns the id v gives o's namespace, -1 if none or if either is gone.
func (v *view) nsid(o *view) int {
	if id, ok := v.ids[o]; ok {
		return id
	}
	id := -1
	if ns, err := v.handle(); err == nil {
		_ = ns.useRaw(func(c *rtnl.Conn, _ int) error {
			return o.withFD(func(fd int) (err error) {
				id, err = c.NSID(fd)
				return err
			})
		})
	}
	v.ids[o] = id
	return id
}

// handle returns v's namespace, opened again by path if it was closed after reading
// (and still the same namespace); release closes it again.
func (v *view) handle() (*NS, error) {
	if v.ns != nil {
		return v.ns, nil
	}
	ns, err := openPath(v.path)
	if err != nil {
		return nil, err
	}
	if ns.sys.dev != v.dev || ns.sys.ino != v.ino {
		_ = ns.Close()
		return nil, fmt.Errorf("%s: %w", v.path, ErrNotFound) // another namespace by now
	}
	v.ns, v.reopened = ns, true
	return ns, nil
}

func (v *view) release() {
	if v.reopened {
		_ = v.ns.Close()
		v.ns, v.reopened = nil, false
	}
}

// withFD calls fn with a descriptor of v's namespace: its handle's, or the file opened
// again for the call (and checked to be the same namespace).
func (v *view) withFD(fn func(fd int) error) error {
	if v.ns != nil {
		return v.ns.useRaw(func(_ *rtnl.Conn, fd int) error { return fn(fd) })
	}
	fd, err := unix.Open(v.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Dev != v.dev || st.Ino != v.ino {
		return fmt.Errorf("%s: %w", v.path, ErrNotFound)
	}
	return fn(fd)
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
