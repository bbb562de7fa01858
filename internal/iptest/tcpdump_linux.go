package iptest

import (
	"os"
	"os/exec"
	"syscall"
)

// Tcpdump reads a capture back with `tcpdump -nr file args...` run as uid 1000 of a user
// namespace of its own: as root, tcpdump drops privileges with setgroups(2), which a
// user namespace (as in an unprivileged run of the suite) refuses, and reading a file
// needs no privilege anyway.
func Tcpdump(file string, args ...string) ([]byte, error) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		return nil, err
	}
	cmd := exec.Command("tcpdump", append([]string{"-nr", file}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 1000, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 1000, HostID: os.Getgid(), Size: 1}},
		Credential:  &syscall.Credential{Uid: 1000, Gid: 1000, NoSetGroups: true},
	}
	return cmd.CombinedOutput()
}
