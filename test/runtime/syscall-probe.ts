// A static program that tries one system call per word of its command line and prints `NAME ok [value]` or
// `NAME errno N`, so a test can see what a container may do. Compiled once per test file into a lowerdir (/bin/probe).
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const SOURCE = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *name, long rc, const char *value) {
  if (rc < 0) printf("%s errno %d\n", name, errno);
  else printf("%s ok%s%s\n", name, value ? " " : "", value ? value : "");
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (int i = 1; i < argc; i++) {
    const char *w = argv[i];
    char buf[256] = "";
    if (!strcmp(w, "unshare-user")) report(w, unshare(CLONE_NEWUSER), NULL);
    else if (!strcmp(w, "unshare-mount")) report(w, unshare(CLONE_NEWNS), NULL);
    else if (!strcmp(w, "mount")) report(w, mount("none", "/tmp", "tmpfs", 0, NULL), NULL);
    else if (!strcmp(w, "personality")) report(w, personality(ADDR_NO_RANDOMIZE), NULL);
    else if (!strcmp(w, "userfaultfd")) report(w, syscall(SYS_userfaultfd, 1 /* UFFD_USER_MODE_ONLY */), NULL);
    else if (!strcmp(w, "socket-vsock")) report(w, socket(40 /* AF_VSOCK */, SOCK_STREAM, 0), NULL);
    else if (!strcmp(w, "clone3")) report(w, syscall(SYS_clone3, NULL, 0), NULL);
    else if (!strcmp(w, "kcmp")) report(w, syscall(SYS_kcmp, getpid(), getpid(), 0, 0, 0), NULL);
    else if (!strcmp(w, "keyctl-session")) {
      long id = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* KEY_SPEC_SESSION_KEYRING */, 0);
      snprintf(buf, sizeof buf, "%ld", id);
      report(w, id, buf);
    } else if (!strncmp(w, "keyctl-read=", 12)) {
      long n = syscall(SYS_keyctl, 11 /* KEYCTL_READ */, atol(w + 12), buf, sizeof buf - 1);
      if (n >= 0) buf[n < (long)sizeof buf - 1 ? n : (long)sizeof buf - 1] = 0;
      report("keyctl-read", n, buf);
    } else if (!strncmp(w, "keyctl-search=", 14)) {
      long id = syscall(SYS_keyctl, 10 /* KEYCTL_SEARCH */, -3, "user", w + 14, 0);
      snprintf(buf, sizeof buf, "%ld", id);
      report("keyctl-search", id, buf);
    } else if (!strncmp(w, "fchdir=", 7)) {
      /* fchdir=FD:FILE: step through an inherited fd and read FILE there */
      int fd = atoi(w + 7);
      const char *file = strchr(w, ':') + 1;
      if (fchdir(fd) != 0) { report("fchdir", -1, NULL); continue; }
      int f = open(file, O_RDONLY);
      long n = f < 0 ? -1 : read(f, buf, sizeof buf - 1);
      if (n >= 0) buf[n] = 0;
      report("fchdir", n, buf);
    } else printf("%s unknown\n", w);
  }
  return 0;
}
`;

/** A lowerdir holding bin/probe (static), to stack above a busybox rootfs. */
export async function makeProbeLayer(dir: string): Promise<string> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  await writeFile(join(dir, 'probe.c'), SOURCE);
  execFileSync('cc', ['-static', '-O1', '-o', join(dir, 'bin/probe'), join(dir, 'probe.c')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return dir;
}

/** `NAME ok|errno N [value]` lines as a map from NAME to the rest. */
export function probeResults(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^(\S+) (.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}
