package userns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/privilege"
	"github.com/nstopo/nstopo/netnsx"
)

var inside bool

// Enter makes the rest of the program able to create network namespaces. With the
// capabilities already (CAP_SYS_ADMIN and CAP_NET_ADMIN), it returns nil at once. In the
// child it started, it sets up the mounts and returns nil. Otherwise it re-executes the
// program in new user, network and mount namespaces, waits for it, and exits with its
// status: it does not return (with the environment variable [Off] set to "1", it returns
// nil and changes nothing). It returns an error, wrapping netnsx.ErrNotSupported,
// when the kernel refuses unprivileged user namespaces; the program then goes on
// unprivileged. Call it before anything else in main: flags are passed on unparsed, and
// everything done before it is done twice.
func Enter() error {
	if os.Getenv(env) == "1" {
		_ = os.Unsetenv(env)
		if err := setupChild(); err != nil {
			return fmt.Errorf("userns: set up mounts: %w", err)
		}
		if err := loUp(); err != nil {
			return fmt.Errorf("userns: lo up: %w", err)
		}
		inside = true
		return nil
	}
	if Privileged() || os.Getenv(Off) == "1" {
		return nil
	}
	return reexec()
}

// Inside reports whether this process is the child that Enter started.
func Inside() bool { return inside }

// Privileged reports whether the process has, in its user namespace, the capabilities
// that making network namespaces needs: CAP_SYS_ADMIN and CAP_NET_ADMIN.
func Privileged() bool { return privilege.Has() }

func setupChild() error {
	// Mounts made from here on stay in this mount namespace.
	if err := unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	const runDir = "/run/netns"
	if _, err := os.Stat(runDir); err == nil {
		return mountTmpfs(runDir)
	}
	// A user namespace cannot create /run/netns in the host's /run: hide /run instead.
	if err := mountTmpfs("/run"); err != nil {
		return err
	}
	return os.Mkdir(runDir, 0o755)
}

// loUp brings up lo in the child's network namespace, which is new and so starts with
// lo down: as under netnsx.New, loopback services (an embedded etcd, a test server on
// 127.0.0.1) work as they do outside.
func loUp() error {
	ns, err := netnsx.Host() // the namespace this process started in: the new one
	if err != nil {
		return err
	}
	defer ns.Close()
	lo, err := ns.Link("lo")
	if err != nil {
		return err
	}
	return lo.Up()
}

func mountTmpfs(dir string) error {
	if err := unix.Mount("nstopo", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	return nil
}

func reexec() error {
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), env+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		Pdeathsig:   syscall.SIGKILL, // the child never outlives this process
	}
	// Catch the signals before starting, so none is lost to the default action between.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGQUIT, unix.SIGHUP, unix.SIGUSR1, unix.SIGUSR2)
	// Pdeathsig fires when the thread that forked the child ends: keep this goroutine on
	// its thread, which then lives as long as the wait below.
	runtime.LockOSThread()
	if err := cmd.Start(); err != nil {
		runtime.UnlockOSThread()
		signal.Stop(sigs)
		return fmt.Errorf("userns: enter a user namespace: %w: %w", netnsx.ErrNotSupported, explain(err))
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err := cmd.Wait()
	signal.Stop(sigs)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		fmt.Fprintf(os.Stderr, "userns: %v\n", err)
		os.Exit(1)
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		// Die as the child did, so that the shell and `go test` see the same.
		signal.Reset(ws.Signal())
		_ = unix.Kill(os.Getpid(), ws.Signal())
		time.Sleep(time.Second) // delivery is asynchronous; exit as a shell would if it never comes
		os.Exit(128 + int(ws.Signal()))
	}
	os.Exit(ws.ExitStatus())
	return nil
}

// explain names the setting that keeps unprivileged user namespaces off.
func explain(err error) error {
	read := func(p string) string {
		b, _ := os.ReadFile(p)
		return strings.TrimSpace(string(b))
	}
	switch {
	case read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
		return fmt.Errorf("%w (AppArmor restricts unprivileged user namespaces: kernel.apparmor_restrict_unprivileged_userns=1; "+
			"allow them with `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`, or run as root)", err)
	case read("/proc/sys/user/max_user_namespaces") == "0":
		return fmt.Errorf("%w (user namespaces are disabled: user.max_user_namespaces=0; "+
			"enable them with `sysctl -w user.max_user_namespaces=15000`, or run as root)", err)
	case read("/proc/sys/kernel/unprivileged_userns_clone") == "0":
		return fmt.Errorf("%w (unprivileged user namespaces are disabled: kernel.unprivileged_userns_clone=0; "+
			"enable them with `sysctl -w kernel.unprivileged_userns_clone=1`, or run as root)", err)
	}
	return fmt.Errorf("%w (the kernel refused a new user namespace; run as root)", err)
}
