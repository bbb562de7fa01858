// Package bench builds the star topology of the performance comparison three ways —
// with nstopo, with raw vishvananda/netlink calls (the floor), and with the article's
// `ip` steps (bench/iproute2-star.sh) — for the benchmarks in this package and the
// interleaved comparison in bench/compare. It is internal: harness code, not API.
//
// The star: a bridge br0 (172.16.0.1/16) in a lab namespace and N namespaces, each
// joined to it by a veth whose inner end is eth0 with an address in 172.16.0.0/16,
// everything up; then everything deleted.
package bench
