// Docker's default seccomp profile as data: moby/moby profiles/seccomp/default.json (generated from
// profiles/seccomp/default_linux.go, read at commit 00f3d189e420d485e42d15fe494f96d272284e0e). The names and the
// conditions are copied from there; only x86_64 and aarch64 are kept, and the rules for other architectures dropped.
// Default action ERRNO(EPERM); a group with `caps` applies only when the container holds one of them.

export type SeccompArch = 'x86_64' | 'aarch64';

/** A condition on the low 32 bits of one argument (every argument Docker's profile checks is an int or flags). */
export type ArgCondition =
  | { index: number; op: 'eq'; value: number }
  | { index: number; op: 'ne'; value: number }
  | { index: number; op: 'masked-eq'; mask: number; value: number };

export interface SyscallRule {
  names: string[];
  /** Allow, or fail with this errno (clone3 → ENOSYS so that libc falls back to clone, whose flags can be checked). */
  action: 'allow' | { errno: number };
  /** Allowed only when this argument condition holds (rules for the same name are alternatives). */
  arg?: ArgCondition;
  /** Only when the container has one of these capabilities (Docker's `includes.caps`). */
  caps?: string[];
  /** Not when the container has one of these capabilities (Docker's `excludes.caps`). */
  unlessCaps?: string[];
  /** Only on these architectures. */
  arches?: SeccompArch[];
}

export const EPERM = 1;
export const ENOSYS = 38;

/** CLONE_NEWNS | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWCGROUP: clone may not make namespaces. */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;
const AF_VSOCK = 40;

const ALLOWED = `accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32 clock_adjtime
clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep clock_nanosleep_time64
close close_range connect copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old
epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat
faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64
fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync
ftruncate ftruncate64 futex futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64 getegid getegid32
geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid
getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid
getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init
inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get
ioprio_set io_setup io_submit io_uring_enter io_uring_register io_uring_setup ipc kill landlock_add_rule
landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listxattr llistxattr
_llseek lremovexattr lseek lsetxattr lstat lstat64 madvise membarrier memfd_create memfd_secret mincore mkdir mkdirat
mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock
munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause pidfd_open
pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2
prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv
recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat renameat2 restart_syscall
rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam sched_get_priority_max
sched_get_priority_min sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity
sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid
setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid
setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid
setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall
socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill
time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64
timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64
ugetrlimit umask uname unlink unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid
write writev`;

const words = (s: string): string[] => s.split(/\s+/).filter(Boolean);

export const DEFAULT_PROFILE: readonly SyscallRule[] = [
  { names: words(ALLOWED), action: 'allow' },
  // Docker: minKernel 4.8 (before it, ptrace could bypass seccomp); every kernel we run on is newer.
  { names: ['process_vm_readv', 'process_vm_writev', 'ptrace'], action: 'allow' },
  { names: ['socket'], action: 'allow', arg: { index: 0, op: 'ne', value: AF_VSOCK } },
  ...[0x0, 0x8, 0x20000, 0x20008, 0xffffffff].map((value): SyscallRule => ({
    names: ['personality'],
    action: 'allow',
    arg: { index: 0, op: 'eq', value },
  })),
  {
    names: ['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls'],
    action: 'allow',
    arches: ['aarch64'],
  },
  { names: ['arch_prctl'], action: 'allow', arches: ['x86_64'] },
  { names: ['modify_ldt'], action: 'allow', arches: ['x86_64'] },
  { names: ['open_by_handle_at'], action: 'allow', caps: ['DAC_READ_SEARCH'] },
  {
    names:
      words(`bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr move_mount
      open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog umount umount2 unshare`),
    action: 'allow',
    caps: ['SYS_ADMIN'],
  },
  {
    names: ['clone'],
    action: 'allow',
    arg: { index: 0, op: 'masked-eq', mask: CLONE_NAMESPACE_FLAGS, value: 0 },
    unlessCaps: ['SYS_ADMIN'],
  },
  { names: ['clone3'], action: { errno: ENOSYS }, unlessCaps: ['SYS_ADMIN'] },
  { names: ['reboot'], action: 'allow', caps: ['SYS_BOOT'] },
  { names: ['chroot'], action: 'allow', caps: ['SYS_CHROOT'] },
  { names: ['delete_module', 'init_module', 'finit_module'], action: 'allow', caps: ['SYS_MODULE'] },
  { names: ['acct'], action: 'allow', caps: ['SYS_PACCT'] },
  {
    names: ['kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev', 'ptrace'],
    action: 'allow',
    caps: ['SYS_PTRACE'],
  },
  { names: ['iopl', 'ioperm'], action: 'allow', caps: ['SYS_RAWIO'] },
  { names: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64'], action: 'allow', caps: ['SYS_TIME'] },
  { names: ['vhangup'], action: 'allow', caps: ['SYS_TTY_CONFIG'] },
  {
    names: ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node'],
    action: 'allow',
    caps: ['SYS_NICE'],
  },
  { names: ['syslog'], action: 'allow', caps: ['SYSLOG'] },
  { names: ['bpf'], action: 'allow', caps: ['BPF'] },
  { names: ['perf_event_open'], action: 'allow', caps: ['PERFMON'] },
];
