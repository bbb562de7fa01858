// Package userns lets a program build network topologies without root.
//
// The kernel gives an unprivileged process full capabilities over the network and mount
// namespaces that its own user namespace owns. [Enter] uses that: called first thing in
// main (or through netnsxtest.Main in TestMain), it re-executes the program inside new
// user, network and mount namespaces with the caller's uid and gid mapped to 0, makes /
// a private mount, mounts a tmpfs on /run/netns (on /run where that directory is
// missing) and lets the program go on there; the parent only waits, relays signals and
// exits as the child did. A process that already has the capabilities (root) goes on
// untouched.
//
// What differs inside: everything the program makes lives in a network namespace of its
// own, invisible to the host's `ip netns list` and gone when the program ends, so a
// topology cannot be kept for later; /run is the program's own; processes it starts run
// as uid 0 of the user namespace (the real uid on disk), and tools that drop privilege
// to another user (tcpdump without -Z root) fail there. The host's interfaces cannot be
// reached at all, which is the point. Go cannot enter a new user namespace once it runs
// threads, which is why this re-executes instead of calling unshare(2).
//
// Where unprivileged user namespaces are disabled (user.max_user_namespaces=0, Debian's
// kernel.unprivileged_userns_clone=0, Ubuntu's
// kernel.apparmor_restrict_unprivileged_userns=1), Enter returns an error that names
// the setting and how to change it.
package userns
