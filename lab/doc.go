// Package lab builds a whole topology from one description, as containerlab does from a
// topology file and Mininet from a Topo: nodes (network namespaces), bridges in them,
// veth links between "node:ifname" endpoints, VXLAN overlays, routes, impairments and
// commands, made all or nothing by Build and owned by the Lab it returns.
package lab
