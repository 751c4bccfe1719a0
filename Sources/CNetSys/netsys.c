#define _GNU_SOURCE
#include "CNetSys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

const int NSYS_CLONE_NEWNET = CLONE_NEWNET;
const int NSYS_CLONE_NEWNS = CLONE_NEWNS;
const int NSYS_CLONE_NEWUSER = CLONE_NEWUSER;

int nsys_setns(int fd, int nstype) { return setns(fd, nstype); }
int nsys_unshare(int flags) { return unshare(flags); }
pid_t nsys_gettid(void) { return (pid_t)syscall(SYS_gettid); }
int nsys_pipe2(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

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

static void bind_etc(const char *name) {
    /* As iproute2's bind_etc: /etc/netns/NAME/X is bound over /etc/X. */
    char dir[4096];
    int n = snprintf(dir, sizeof dir, "/etc/netns/%s", name);
    if (n <= 0 || (size_t)n >= sizeof dir) return;
    DIR *d = opendir(dir);   /* not strictly async-signal-safe; iproute2 does the same */
    if (d == NULL) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char src[4096], dst[4096];
        if (snprintf(src, sizeof src, "%s/%s", dir, e->d_name) >= (int)sizeof src) continue;
        if (snprintf(dst, sizeof dst, "/etc/%s", e->d_name) >= (int)sizeof dst) continue;
        mount(src, dst, "none", MS_BIND, NULL);
    }
    closedir(d);
}

pid_t nsys_spawn_in_netns(int netns_fd, const char *name, char *const argv[],
                          int in_fd, int out_fd, int err_fd, int report_fd) {
    pid_t pid = fork();
    if (pid != 0) return pid;

    /* Child. Default signal dispositions, as a fresh program expects. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) sigaction(s, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) child_fail(report_fd, 'd');
    if (setns(netns_fd, CLONE_NEWNET) < 0) child_fail(report_fd, 'n');
    if (unshare(CLONE_NEWNS) < 0) child_fail(report_fd, 'u');
    /* Don't let our mounts propagate back to the parent's namespace. */
    if (mount("", "/", "none", MS_SLAVE | MS_REC, NULL) < 0) child_fail(report_fd, 'm');
    /* A sysfs that shows this namespace's devices. */
    if (umount2("/sys", MNT_DETACH) == 0 || errno == EINVAL || errno == ENOENT) {
        unsigned long flags = 0;
        if (mount(name ? name : "sysfs", "/sys", "sysfs", flags, NULL) < 0) {
            /* Read-only fallback, as iproute2 does when sysfs is locked. */
            mount(name ? name : "sysfs", "/sys", "sysfs", MS_RDONLY, NULL);
        }
    }
    if (name != NULL) bind_etc(name);
    execvp(argv[0], argv);
    child_fail(report_fd, 'e');
    return -1;
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

int nsys_enter_sandbox(int user, const char **step) {
    uid_t uid = geteuid();
    gid_t gid = getegid();
    int flags = CLONE_NEWNET | CLONE_NEWNS | (user ? CLONE_NEWUSER : 0);
    *step = user ? "unshare(CLONE_NEWUSER|CLONE_NEWNET|CLONE_NEWNS)" : "unshare(CLONE_NEWNET|CLONE_NEWNS)";
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
    *step = NULL;
    return 0;
}
