import { describe, expect, it } from 'vitest';
import { helperArgv, type HelperCall } from './helper.js';

const call: HelperCall = {
  proc: '/c/rootfs/proc',
  nofile: 1024,
  seccompFile: '/c/seccomp.bpf',
  procReadonly: ['/proc/sys', '/proc/bus'],
  procMaskedFiles: ['/proc/kcore'],
  procMaskedDirs: [],
  root: '/c/rootfs',
  cwd: '/work',
  uid: 1000,
  gid: 100,
  groups: [],
  caps: 'a80425fb',
  args: ['/bin/sh', '-c', 'true'],
};

describe('helperArgv: the positional layout tsbuild-exec.c reads', () => {
  it('puts the 13 fields, --, FILE twice (file and argv0) and the arguments in order', () => {
    const argv = helperArgv('/h/tsbuild-exec', call);
    expect(argv).toEqual([
      '/h/tsbuild-exec',
      String(process.pid),
      '/c/rootfs/proc',
      '1024',
      '/c/seccomp.bpf',
      '/proc/sys,/proc/bus',
      '/proc/kcore',
      '',
      '/c/rootfs',
      '/work',
      '1000',
      '100',
      '-',
      'a80425fb',
      '--',
      '/bin/sh',
      '/bin/sh',
      '-c',
      'true',
    ]);
    // the C side checks argv[14] == "--" once the leading options are consumed
    expect(argv[14]).toBe('--');
  });

  it('puts --netns and --sysfs before the positional fields, only when given', () => {
    const argv = helperArgv('/h/x', { ...call, netns: '/proc/1/fd/9', sysfs: '/c/rootfs/sys', groups: [10, 20] });
    expect(argv.slice(0, 6)).toEqual([
      '/h/x',
      '--netns',
      '/proc/1/fd/9',
      '--sysfs',
      '/c/rootfs/sys',
      String(process.pid),
    ]);
    expect(argv.slice(4)[14]).toBe('--');
    expect(argv).toContain('10,20');
    expect(helperArgv('/h/x', { ...call, netns: '/n' })).toEqual([
      '/h/x',
      '--netns',
      '/n',
      ...helperArgv('/h/x', call).slice(1),
    ]);
  });
});
