/*
 * tsbuild-exec: starts a container's command (chroot isolation). The parent (Node) has mounted the rootfs and made
 * the UTS/IPC/NET namespaces; this helper does what util-linux `setpriv --pdeathsig … unshare --mount --pid --fork
 * --kill-child --propagation private --mount-proc` would, then what no stock tool does in one go without losing
 * the working directory:
 *
 *   read the seccomp filter -> pdeathsig -> unshare(mount, pid) -> propagation private -> fork; the parent waits and
 *   reports PID 1's exit status or re-raises its death signal; PID 1: pdeathsig -> mount /proc -> chroot(ROOT) ->
 *   read-only and masked /proc paths (runc's readonlyPaths/maskedPaths) -> chdir(WD) -> close fds >= 3 -> fresh
 *   session keyring -> drop the bounding set to CAPS -> setgroups/setresgid/setresuid -> effective/permitted = CAPS
 *   (root) or none, inheritable/ambient none -> no_new_privs -> pdeathsig -> umask 022 -> RLIMIT_NOFILE -> seccomp
 *   filter -> execvp(FILE, ARGV) with PATH from the environment it was given (the container's).
 *
 * usage: tsbuild-exec [--netns PATH] [--sysfs PATH] PARENTPID PROC NOFILE SECCOMP PROC_RO PROC_MASKED_FILES PROC_MASKED_DIRS ROOT WD UID GID
 *                     GROUPS(comma list or -) CAPS(hex) -- FILE ARGV0 [ARGS...]
 * SECCOMP is a file of struct sock_filter (made by runtime/seccomp/), or - for none.
 * PROC - (copy snapshots, runtime/run-plain.ts): no namespace can be made (an unprivileged container): no mount or
 * PID namespace, no /proc, no fork; the helper chroots and drops privileges in place, then execs. A keyring call
 * the environment's own seccomp profile refuses is then let pass (the filter applied below refuses it too).
 * PROC shared:PATH (rootless in a container whose /proc is masked, runtime/mode.ts): the kernel refuses a fresh
 * procfs there (EPERM), so the current /proc is bound recursively at PATH, its masks included; the command sees the
 * container's processes (no process sandbox), still in its own PID namespace.
 * PROC_RO, PROC_MASKED_FILES, PROC_MASKED_DIRS: comma lists of /proc paths (inside ROOT) made read-only, masked with
 * /dev/null, masked with an empty read-only tmpfs. The policy is runtime/mounts.ts's PROC_* lists (one source for both
 * isolations); runtime/run.ts passes them.
 * Leading options, for a rootless run (runtime/userns.ts): --netns PATH joins that network namespace before anything
 * else (Node, in a user namespace, cannot step into it and back); --sysfs PATH mounts sysfs at PATH in the new mount
 * namespace, from inside that network namespace (sysfs shows the devices of its mounter's), or binds /sys there when
 * a fresh sysfs is refused (inside a container whose /sys is masked, as podman does). One exec instead of nsenter's
 * and a mount's: they were most of a rootless RUN's extra cost.
 * Exit 127/126 with a message on stderr when FILE cannot be executed, like a shell.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void die(const char *what, const char *arg) {
  fprintf(stderr, "tsbuild-exec: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(errno));
  exit(125);
}

/* /proc/self/setgroups says deny: a user namespace whose gid map an unprivileged user wrote. */
static int setgroups_denied(void) {
  char buf[8] = {0};
  int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  return n >= 4 && strncmp(buf, "deny", 4) == 0;
}

/* Waits for PID 1 and leaves the same way it did: its exit code, or death by its signal. */
static int supervise(pid_t child) {
  int status;
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR) die("waitpid", NULL);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  int sig = WTERMSIG(status);
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  kill(getpid(), sig);
  return 128 + sig;
}

/* Reads the whole filter file (before chroot: it lives on the host side). */
static struct sock_fprog read_filter(const char *path) {
  struct sock_fprog prog = {0, NULL};
  if (strcmp(path, "-") == 0) return prog;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) die("open seccomp filter", path);
  struct stat st;
  if (fstat(fd, &st) != 0) die("stat seccomp filter", path);
  if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0 || st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
    errno = EINVAL;
    die("seccomp filter size", path);
  }
  struct sock_filter *buf = malloc((size_t)st.st_size);
  if (!buf) die("malloc", NULL);
  for (size_t got = 0; got < (size_t)st.st_size;) {
    ssize_t n = read(fd, (char *)buf + got, (size_t)st.st_size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die("read seccomp filter", path);
    got += (size_t)n;
  }
  close(fd);
  prog.len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
  prog.filter = buf;
  return prog;
}

int main(int argc, char **argv) {
  const char *netns = NULL, *sysfs = NULL;
  while (argc > 2 && (strcmp(argv[1], "--netns") == 0 || strcmp(argv[1], "--sysfs") == 0)) {
    if (argv[1][2] == 'n') netns = argv[2];
    else sysfs = argv[2];
    argv += 2;
    argc -= 2;
  }
  if (argc < 17 || strcmp(argv[14], "--") != 0) {
    fprintf(stderr, "usage: tsbuild-exec [--netns PATH] [--sysfs PATH] PARENTPID PROC NOFILE SECCOMP PROC_RO PROC_MASKED_FILES PROC_MASKED_DIRS "
                    "ROOT WD UID GID GROUPS CAPS -- FILE ARGV0 [ARGS...]\n");
    return 125;
  }
  pid_t parent = (pid_t)strtol(argv[1], NULL, 10);
  const char *proc = argv[2];
  rlim_t nofile = (rlim_t)strtoull(argv[3], NULL, 10);
  struct sock_fprog filter = read_filter(argv[4]);
  char *readonly_paths = argv[5], *masked_files = argv[6], *masked_dirs = argv[7];
  argv += 7;
  argc -= 7;
  /* Die with tsbuild, even if it was SIGKILLed before we got here. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) die("pdeathsig", NULL);
  if (getppid() != parent) return 125;
  if (netns) {
    int fd = open(netns, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("open network namespace", netns);
    if (setns(fd, CLONE_NEWNET) != 0) die("join network namespace", netns);
    close(fd);
  }
  int plain = strcmp(proc, "-") == 0;
  int shared = strncmp(proc, "shared:", 7) == 0;
  if (shared) proc += 7;
  if (!plain) {
    if (unshare(CLONE_NEWNS | CLONE_NEWPID) != 0) die("unshare", NULL);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("make mounts private", NULL);
    pid_t child = fork();
    if (child < 0) die("fork", NULL);
    if (child > 0) return supervise(child);
    /* PID 1 of the new namespace: dies when the supervising parent does. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) die("pdeathsig", NULL);
    if (shared) {
      if (mount("/proc", proc, NULL, MS_BIND | MS_REC, NULL) != 0) die("bind /proc at", proc);
    } else if (mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
      die("mount", proc);
    if (sysfs && mount("sysfs", sysfs, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0 &&
        mount("/sys", sysfs, NULL, MS_BIND | MS_REC, NULL) != 0)
      die("mount sysfs at", sysfs);
  }

  const char *root = argv[1], *wd = argv[2];
  uid_t uid = (uid_t)strtoul(argv[3], NULL, 10);
  gid_t gid = (gid_t)strtoul(argv[4], NULL, 10);
  uint64_t caps = strtoull(argv[6], NULL, 16);

  gid_t groups[256];
  size_t ngroups = 0;
  if (strcmp(argv[5], "-") != 0) {
    for (char *s = argv[5], *tok; (tok = strsep(&s, ",")) != NULL && ngroups < 256;)
      if (*tok) groups[ngroups++] = (gid_t)strtoul(tok, NULL, 10);
  }

  if (chroot(root) != 0) die("chroot", root);
  if (chdir("/") != 0) die("chdir", "/");
  if (plain) readonly_paths = masked_files = masked_dirs = "";
  for (char *s = readonly_paths, *p; (p = strsep(&s, ",")) != NULL;) {
    if (!*p) continue;
    if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) != 0) {
      if (errno == ENOENT) continue;
      die("bind", p);
    }
    if (mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) die("remount read-only", p);
  }
  for (char *s = masked_files, *p; (p = strsep(&s, ",")) != NULL;)
    if (*p && mount("/dev/null", p, NULL, MS_BIND, NULL) != 0 && errno != ENOENT) die("mask", p);
  for (char *s = masked_dirs, *p; (p = strsep(&s, ",")) != NULL;)
    if (*p && mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL) != 0 && errno != ENOENT) die("mask", p);
  if (chdir(wd) != 0) die("chdir", wd);
  if (syscall(SYS_close_range, 3, ~0U, 0) != 0) die("close_range", NULL);
  /* runc's order: a fresh anonymous session keyring before the user switch, so no key of the host's is in reach. */
  /* ENOSYS: a kernel without keyrings has no host keys to hide (runc lets it pass too). */
  if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0 && errno != ENOSYS && !(plain && errno == EPERM))
    die("join session keyring", NULL);

  for (int cap = 0; cap <= 63; cap++) {
    if (caps & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) die("drop capability from bounding set", NULL);
  }
  /* A rootless run mapping only the user's own ids has setgroups denied (the kernel's rule for such a map): with no
   * groups to set, the groups the user had stay, as under rootless podman; asked for groups, it fails. */
  if (setgroups(ngroups, groups) != 0 && !(errno == EPERM && ngroups == 0 && setgroups_denied())) die("setgroups", argv[5]);
  if (setresgid(gid, gid, gid) != 0) die("setresgid", argv[4]);
  if (setresuid(uid, uid, uid) != 0) die("setresuid", argv[3]);

  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  if (uid == 0) {
    data[0].effective = data[0].permitted = (uint32_t)caps;
    data[1].effective = data[1].permitted = (uint32_t)(caps >> 32);
  }
  if (syscall(SYS_capset, &hdr, data) != 0) die("capset", NULL);
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) die("clear ambient", NULL);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("no_new_privs", NULL);
  /* setresuid cleared the parent-death signal unshare set; set it again so the tree dies with unshare. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) die("pdeathsig", NULL);
  umask(022);
  if (nofile > 0) {
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
      if (nofile < lim.rlim_max) lim.rlim_max = nofile;
      lim.rlim_cur = lim.rlim_max;
      if (setrlimit(RLIMIT_NOFILE, &lim) != 0) die("setrlimit nofile", NULL);
    }
  }

  /* Last: from here on only what Docker's profile allows (execve is in it). Needs no_new_privs, set above. */
  if (filter.filter && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &filter) != 0) die("seccomp", NULL);

  execvp(argv[8], &argv[9]);
  int err = errno;
  fprintf(stderr, "tsbuild-exec: %s: %s\n", argv[8], strerror(err));
  return err == ENOENT ? 127 : 126;
}
