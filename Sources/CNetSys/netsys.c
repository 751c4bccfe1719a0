#define _GNU_SOURCE
#include "CNetSys.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <poll.h>
#include <termios.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <pthread.h>
#include <sys/ioctl.h>

const int NSYS_CLONE_NEWNET = CLONE_NEWNET;
const int NSYS_CLONE_NEWNS = CLONE_NEWNS;
const int NSYS_CLONE_NEWUSER = CLONE_NEWUSER;
const int NSYS_CLONE_NEWPID = CLONE_NEWPID;
const int NSYS_O_TMPFILE = O_TMPFILE;

int nsys_setns(int fd, int nstype) { return setns(fd, nstype); }
int nsys_unshare(int flags) { return unshare(flags); }
pid_t nsys_gettid(void) { return (pid_t)syscall(SYS_gettid); }
int nsys_pipe2(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int nsys_has_admin_caps(void) {
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &hdr, data) != 0) return -1;
    unsigned eff = data[0].effective;
    return (eff & (1u << CAP_NET_ADMIN)) && (eff & (1u << CAP_SYS_ADMIN)) ? 1 : 0;
}

long nsys_getrandom(void *buf, unsigned long n) { return (long)getrandom(buf, n, 0); }

int nsys_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int nsys_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/* Child side: only async-signal-safe calls until exec. */
static void child_fail(int report_fd, char step) {
    char msg[16];
    int e = errno, n = 0;
    char digits[12];
    int d = 0;
    msg[n++] = step;
    msg[n++] = ':';
    if (e == 0) digits[d++] = '0';
    while (e > 0 && d < 11) { digits[d++] = (char)('0' + e % 10); e /= 10; }
    while (d > 0) msg[n++] = digits[--d];
    (void)!write(report_fd, msg, (size_t)n);
    _exit(127);
}

/* The child side of both spawns, after fork: dies with nslua, default
 * signals, then into the namespace the way `ip netns exec` goes (a private
 * mount namespace, / a slave, a fresh /sys, /etc/netns/NAME/X over /etc/X
 * for each X in `etc`, listed by the parent: no allocation after fork in a
 * threaded process), then exec. Only async-signal-safe calls. */
static void enter_and_exec(pid_t parent, int netns_fd, const char *name, char *const etc[],
                           char *const argv[], char *const envp[], int report_fd) {
    /* The death signal is armed, then the parent checked (it may have died in between). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) child_fail(report_fd, 'p');
    /* Born in exec's PID namespace, the parent is outside it: getppid() is 0
     * while it lives (an orphan would have the namespace's reaper, pid 1). */
    pid_t pp = getppid();
    if (pp != parent && pp != 0) _exit(127);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) sigaction(s, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (setns(netns_fd, CLONE_NEWNET) < 0) child_fail(report_fd, 'n');
    if (unshare(CLONE_NEWNS) < 0) child_fail(report_fd, 'u');
    /* Don't let our mounts propagate back to the parent's namespace. */
    if (mount("", "/", "none", MS_SLAVE | MS_REC, NULL) < 0) child_fail(report_fd, 'm');
    /* A /proc of the PID namespace it is born in (exec's own): ps, pgrep and
     * $$ agree with what the program sees. */
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);   /* over the old one: none is lost if this fails */
    /* A sysfs that shows this namespace's devices. */
    if (umount2("/sys", MNT_DETACH) == 0 || errno == EINVAL || errno == ENOENT) {
        if (mount(name ? name : "sysfs", "/sys", "sysfs", 0, NULL) < 0) {
            /* Read-only fallback, as iproute2 does when sysfs is locked. */
            mount(name ? name : "sysfs", "/sys", "sysfs", MS_RDONLY, NULL);
        }
    }
    for (int i = 0; name != NULL && etc != NULL && etc[i] != NULL; i++) {
        char src[4096], dst[4096];
        if (snprintf(src, sizeof src, "/etc/netns/%s/%s", name, etc[i]) >= (int)sizeof src) continue;
        if (snprintf(dst, sizeof dst, "/etc/%s", etc[i]) >= (int)sizeof dst) continue;
        mount(src, dst, "none", MS_BIND, NULL);
    }
    execvpe(argv[0], argv, envp);
    child_fail(report_fd, 'e');
}

pid_t nsys_spawn_in_netns(int netns_fd, const char *name, char *const etc[], char *const argv[], char *const envp[],
                          int in_fd, int out_fd, int err_fd, int report_fd) {
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid > 0) setpgid(pid, pid);   /* also done by the child: whichever runs first */
    if (pid != 0) return pid;
    setpgid(0, 0);
    if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) child_fail(report_fd, 'd');
    enter_and_exec(parent, netns_fd, name, etc, argv, envp, report_fd);
    return -1;
}

pid_t nsys_spawn_interactive_in_netns(int netns_fd, const char *name, char *const etc[], char *const argv[],
                                      char *const envp[], int report_fd) {
    pid_t parent = getpid();
    int tty = isatty(STDIN_FILENO);
    pid_t pid = fork();
    if (pid > 0) {
        setpgid(pid, pid);
        if (tty) tcsetpgrp(STDIN_FILENO, pid);   /* the terminal is its */
    }
    if (pid != 0) return pid;
    setpgid(0, 0);
    if (tty) {
        /* Take the terminal (a background group must not be stopped for it). */
        sigset_t ttou, old;
        sigemptyset(&ttou);
        sigaddset(&ttou, SIGTTOU);
        sigprocmask(SIG_BLOCK, &ttou, &old);
        tcsetpgrp(STDIN_FILENO, getpid());
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
    enter_and_exec(parent, netns_fd, name, etc, argv, envp, report_fd);
    return -1;
}

static struct termios g_saved_termios;
static int g_have_termios = 0;

void nsys_terminal_save(void) {
    g_have_termios = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &g_saved_termios) == 0;
}

void nsys_terminal_restore(void) {
    if (!isatty(STDIN_FILENO)) return;
    /* nslua is a background group until this, so SIGTTOU is held meanwhile. */
    sigset_t ttou, old;
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    sigprocmask(SIG_BLOCK, &ttou, &old);
    tcsetpgrp(STDIN_FILENO, getpgrp());
    if (g_have_termios) tcsetattr(STDIN_FILENO, TCSADRAIN, &g_saved_termios);
    sigprocmask(SIG_SETMASK, &old, NULL);
}

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* The sandbox's outer process: it only waits for the inner one (pid 1 of
 * the sandbox's PID namespace) and passes signals on. */
static volatile pid_t g_sandbox_child = 0;

static void forward_signal(int sig, siginfo_t *si, void *ctx) {
    (void)ctx;
    /* From the terminal (SI_KERNEL) the inner process got it too. */
    if (si != NULL && si->si_code == SI_KERNEL) return;
    if (g_sandbox_child > 0) kill(g_sandbox_child, sig);
}

static void wait_for_sandbox(pid_t child) {
    g_sandbox_child = child;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = forward_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    int status = 0;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) _exit(1);
    }
    if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
    int sig = WTERMSIG(status);
    signal(sig, SIG_DFL);
    kill(getpid(), sig);
    _exit(128 + sig);
}

int nsys_enter_sandbox(int user, const char **step) {
    uid_t uid = geteuid();
    gid_t gid = getegid();
    int flags = CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID | (user ? CLONE_NEWUSER : 0);
    *step = user ? "unshare(CLONE_NEWUSER|CLONE_NEWNET|CLONE_NEWNS|CLONE_NEWPID)" : "unshare(CLONE_NEWNET|CLONE_NEWNS|CLONE_NEWPID)";
    if (unshare(flags) < 0) return -1;
    if (user) {
        char map[64];
        *step = "writing /proc/self/setgroups";
        if (write_file("/proc/self/setgroups", "deny") < 0 && errno != ENOENT) return -1;
        *step = "writing /proc/self/uid_map";
        snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
        if (write_file("/proc/self/uid_map", map) < 0) return -1;
        *step = "writing /proc/self/gid_map";
        snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
        if (write_file("/proc/self/gid_map", map) < 0) return -1;
    }
    *step = "making / private";
    if (mount("", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0) return -1;
    *step = "mounting a private /run/netns";
    mkdir("/run/netns", 0755);
    if (mount("nslua-sandbox", "/run/netns", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755") < 0) {
        /* No /run/netns and no right to make it: a private /run instead. */
        if (mount("nslua-sandbox", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0) return -1;
        if (mkdir("/run/netns", 0755) < 0 && errno != EEXIST) return -1;
    }
    /* A sysfs of the sandbox's own network namespace (best effort). */
    if (umount2("/sys", MNT_DETACH) == 0 || errno == EINVAL)
        mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);

    /* The rest runs as pid 1 of a PID namespace of its own: when it ends,
     * however it ends, the kernel kills every process left in it (programs
     * exec started and whatever they started), so nothing outlives the
     * sandbox. It dies with the outer process (PDEATHSIG; the pipe tells it
     * if the outer one was gone before that was armed). */
    int alive[2];
    *step = "pipe";
    if (pipe2(alive, O_CLOEXEC) < 0) return -1;
    *step = "fork";
    pid_t child = fork();
    if (child < 0) return -1;
    if (child > 0) {
        close(alive[0]);
        wait_for_sandbox(child);   /* never returns */
    }
    close(alive[1]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct pollfd p = { alive[0], POLLIN, 0 };
    if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLIN))) _exit(1);
    close(alive[0]);
    /* A /proc of the sandbox's PID namespace (best effort). */
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    *step = NULL;
    return 0;
}

/* ---- the PID namespace of exec's programs ---------------------------------------- */

pid_t nsys_start_pid_namespace(int own_fd, int *ns_fd, int *alive_fd) {
    int alive[2];
    if (pipe2(alive, O_CLOEXEC) < 0) return -1;
    if (unshare(CLONE_NEWPID) < 0) {
        int e = errno;
        close(alive[0]); close(alive[1]);
        errno = e;
        return -1;
    }
    pid_t pid = fork();
    int e = errno;
    if (pid != 0) (void)setns(own_fd, CLONE_NEWPID);   /* this thread's next children: its own namespace again */
    if (pid < 0) {
        close(alive[0]); close(alive[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        /* pid 1: reaps orphans until it is killed (by teardown, or with the
         * thread that made it); its death kills everything in the namespace. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(alive[1]);
        struct pollfd p = { alive[0], POLLIN, 0 };
        if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLIN))) _exit(0);   /* nslua already gone */
        /* Nothing of nslua's: not the journal's lock, and no namespace fd
         * that would keep a deleted namespace (and its links) alive. */
        if (syscall(SYS_close_range, 0U, ~0U, 0) < 0) {
            struct rlimit rl;
            int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (int)rl.rlim_cur : 1 << 20;
            for (int fd = 0; fd < max; fd++) close(fd);
        }
        sigset_t all, chld;
        sigfillset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        for (;;) {
            while (waitpid(-1, NULL, WNOHANG) > 0) {}
            siginfo_t info;
            sigwaitinfo(&chld, &info);
        }
    }
    close(alive[0]);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        e = errno;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(alive[1]);
        errno = e;
        return -1;
    }
    *ns_fd = fd;
    *alive_fd = alive[1];
    return pid;
}

/* ---- persistent tun/tap devices ----------------------------------------------------- */

struct tun_job {
    int netns_fd;
    const char *name;
    int tap;
    int err;
    int fd;
    int index;
    char actual[IFNAMSIZ];
};

/* On a thread of its own: into the namespace (a tun device is born in its
 * creator's), then TUNSETIFF with IFF_TUN_EXCL (never someone else's device
 * of that name). */
static void *tun_thread(void *arg) {
    struct tun_job *job = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
    if (job->netns_fd >= 0 && setns(job->netns_fd, CLONE_NEWNET) < 0) { job->err = errno; return NULL; }
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) { job->err = errno; return NULL; }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = (short)((job->tap ? IFF_TAP : IFF_TUN) | IFF_NO_PI | IFF_TUN_EXCL);
    strncpy(ifr.ifr_name, job->name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) { job->err = errno; close(fd); return NULL; }
    memcpy(job->actual, ifr.ifr_name, IFNAMSIZ);
    job->actual[IFNAMSIZ - 1] = 0;
    job->index = (int)if_nametoindex(ifr.ifr_name);
    job->fd = fd;
    return NULL;
}

int nsys_tun_open(int netns_fd, const char *name, int tap, char actual[16], int *index) {
    struct tun_job job;
    memset(&job, 0, sizeof job);
    job.netns_fd = netns_fd; job.name = name; job.tap = tap; job.fd = -1;
    pthread_t t;
    int e = pthread_create(&t, NULL, tun_thread, &job);
    if (e != 0) { errno = e; return -1; }
    pthread_join(t, NULL);
    if (job.err != 0) { errno = job.err; return -1; }
    memcpy(actual, job.actual, IFNAMSIZ);
    *index = job.index;
    return job.fd;
}

int nsys_tun_persist(int fd, long uid, long gid) {
    int rc = 0;
    if ((uid >= 0 && ioctl(fd, TUNSETOWNER, (unsigned long)uid) < 0) ||
        (gid >= 0 && ioctl(fd, TUNSETGROUP, (unsigned long)gid) < 0) ||
        ioctl(fd, TUNSETPERSIST, 1UL) < 0) rc = -1;
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}
