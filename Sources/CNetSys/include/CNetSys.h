// CNetSys: the few Linux calls Swift's Glibc module does not export
// (they need _GNU_SOURCE), and the fork+exec child of `ns:exec`, which must
// run only async-signal-safe code between fork and exec.
#ifndef NSLUA_CNETSYS_H
#define NSLUA_CNETSYS_H

#include <sys/types.h>

int nsys_setns(int fd, int nstype);
int nsys_unshare(int flags);
pid_t nsys_gettid(void);
int nsys_pipe2(int fds[2]);   // pipe2(O_CLOEXEC)

/// 1 when the calling thread has CAP_NET_ADMIN and CAP_SYS_ADMIN (effective),
/// 0 when it lacks one, -1 when it cannot tell.
int nsys_has_admin_caps(void);
/// pidfd_open(2): an fd that becomes readable when `pid` exits (Linux 5.3+).
int nsys_pidfd_open(pid_t pid);

extern const int NSYS_CLONE_NEWNET;
extern const int NSYS_CLONE_NEWNS;
extern const int NSYS_CLONE_NEWUSER;
extern const int NSYS_CLONE_NEWPID;
/// open(2)'s O_TMPFILE: a file with no name until linkat gives it one.
extern const int NSYS_O_TMPFILE;

/// A PID namespace for the programs exec starts, so that teardown can end
/// them all, however they detach (setsid, double fork): its pid 1 is a
/// reaper that dies with the calling thread, and when it dies the kernel
/// kills everything in the namespace. Returns the reaper's pid, with an fd
/// of the namespace in *ns_fd (setns(*ns_fd, CLONE_NEWPID) before a fork
/// makes the child be born there; setns(own_fd, ...) after it puts the
/// thread back: a thread whose children go elsewhere cannot make threads)
/// and in *alive_fd an fd to keep open while the namespace is used. -1 with
/// errno if it cannot be made (no CAP_SYS_ADMIN).
pid_t nsys_start_pid_namespace(int own_fd, int *ns_fd, int *alive_fd);

/// Starts `argv[0]` (searched in PATH, with environment `envp`) inside the
/// network namespace `netns_fd` the way `ip netns exec` does: setns, a
/// private mount namespace with / made a slave, a fresh sysfs on /sys, and
/// /etc/netns/NAME/X bound over /etc/X for each X in `etc` (NULL-terminated,
/// listed by the caller). stdin/stdout/stderr of the child are the given fds.
/// The child leads a process group of its own (its pid), and dies with the
/// calling thread (PR_SET_PDEATHSIG): a program nslua started never outlives
/// a killed nslua. `report_fd` is a CLOEXEC pipe: if exec fails, the child
/// writes "step:errno" to it and exits 127. Returns the pid, or -1 with errno.
pid_t nsys_spawn_in_netns(int netns_fd, const char *name, char *const etc[], char *const argv[], char *const envp[],
                          int in_fd, int out_fd, int err_fd, int report_fd);

/// The same for an interactive program (`ns:shell()`): it keeps nslua's
/// stdin, stdout and stderr, and, on a terminal, its process group becomes
/// the terminal's foreground (Ctrl-C and Ctrl-Z go to it, not to nslua).
pid_t nsys_spawn_interactive_in_netns(int netns_fd, const char *name, char *const etc[], char *const argv[],
                                      char *const envp[], int report_fd);

/// Saves the terminal's settings (before handing it over), and gives the
/// terminal back to nslua's process group with those settings (after).
void nsys_terminal_save(void);
void nsys_terminal_restore(void);

/// getrandom(2).
long nsys_getrandom(void *buf, unsigned long n);

/// O_NONBLOCK on `fd`.
int nsys_set_nonblocking(int fd);

/// Moves the calling process (which must still be single-threaded) into a
/// sandbox: private network and mount namespaces (and a user namespace
/// mapping the caller to root when `user` is set), / made private, a tmpfs on
/// /run/netns (or on /run when /run/netns cannot be made), a fresh sysfs.
/// Returns 0, or -1 with errno and `step` naming what failed.
int nsys_enter_sandbox(int user, const char **step);

/// The first half of `ip tuntap add dev NAME mode tun|tap` in the network
/// namespace `netns_fd` (-1: the caller's), on a thread of its own (a tun
/// device is born in its creator's namespace): the device, made with
/// IFF_TUN_EXCL (never someone else's of that name), alive as long as the
/// returned fd is open. `actual` gets its name (the kernel expands "%d"),
/// *index its ifindex. -1 with errno on failure.
int nsys_tun_open(int netns_fd, const char *name, int tap, char actual[16], int *index);
/// The second half: owner and group (-1: none), persistent, and the fd
/// closed. 0, or -1 with errno (the fd is closed all the same, and a device
/// not made persistent goes with it).
int nsys_tun_persist(int fd, long uid, long gid);

#endif
