package rtnl

// Hooks let the bridge, veth and vxlan packages reach what netnsx keeps unexported.
// netnsx installs them in its init; ns and link arguments are *netnsx.NS (nil is refused)
// and *netnsx.Link, typed any here because this package cannot import netnsx.
var (
	// UseNS runs fn with the namespace's connection and file descriptor while holding
	// the namespace open; it fails on a closed or deleted namespace.
	UseNS func(ns any, fn func(c *Conn, fd int) error) error
	// NewLink wraps a link read from ns into a *netnsx.Link.
	NewLink func(ns any, l *Link) any
	// LinkInfo returns a *netnsx.Link's namespace, index and kind.
	LinkInfo func(link any) (ns any, index int, kind string)
	// SameNS reports whether two *netnsx.NS are one namespace (never for nil).
	SameNS func(a, b any) bool
)
