import { describe, expect, it } from 'vitest';
import { decideMode, formatIdMap, ModeError, subidRange, type ModeFacts } from './mode.js';
import { UsageError } from '../oci/index.js';

const user: ModeFacts = {
  euid: 1001,
  egid: 1001,
  user: 'alice',
  capSysAdmin: false,
  initialUserns: true,
  maxUserNamespaces: 15000,
  userns: { ok: true },
  overlayInUserns: { ok: true },
  newuidmap: true,
  newgidmap: true,
  subuid: { start: 100000, count: 65536 },
  subgid: { start: 200000, count: 65536 },
};
const root: ModeFacts = {
  ...user,
  euid: 0,
  egid: 0,
  user: 'root',
  capSysAdmin: true,
  subuid: undefined,
  subgid: undefined,
};

describe('decideMode', () => {
  it('root with CAP_SYS_ADMIN in the initial user namespace is root, with overlay and chroot', () => {
    const d = decideMode(root);
    expect(d).toMatchObject({ mode: 'root', snapshots: 'overlay', isolation: 'chroot' });
    expect(d.uidMap).toBeUndefined();
    expect(d.reasons[0]).toBe('mode root: euid 0 with CAP_SYS_ADMIN in the initial user namespace');
  });

  it('a user with subordinate ranges is rootless, mapped as podman maps', () => {
    const d = decideMode(user);
    expect(d.mode).toBe('rootless');
    expect(formatIdMap(d.uidMap!)).toBe('0→1001, 1-65535→100000');
    expect(formatIdMap(d.gidMap!)).toBe('0→1001, 1-65535→200000');
    expect(d.singleId).toBeUndefined();
    expect(d.warnings).toEqual([]);
    expect(d.reasons[0]).toBe('mode rootless: not root (euid 1001); user namespaces and overlay in them work');
  });

  it('a small subordinate range maps only what it has', () => {
    const d = decideMode({ ...user, subuid: { start: 100000, count: 1000 } });
    expect(formatIdMap(d.uidMap!)).toBe('0→1001, 1-1000→100000');
  });

  it('a user with no range maps only their own id, warns once and names the fix', () => {
    for (const f of [
      { ...user, subuid: undefined },
      { ...user, newuidmap: false },
    ]) {
      const d = decideMode(f);
      expect(d.mode).toBe('rootless');
      expect(d.singleId).toBe(true);
      expect(formatIdMap(d.uidMap!)).toBe('0→1001');
      expect(d.warnings).toEqual([expect.stringContaining('usermod --add-subuids 100000-165535')]);
    }
    expect(decideMode({ ...user, newuidmap: false }).reasons.join('\n')).toContain('newuidmap missing');
  });

  it('root of a container without CAP_SYS_ADMIN is rootless with its own ids mapped one to one', () => {
    const d = decideMode({ ...root, capSysAdmin: false });
    expect(d.mode).toBe('rootless');
    expect(formatIdMap(d.uidMap!)).toBe('0-65535→0');
    expect(d.reasons[0]).toContain('root without CAP_SYS_ADMIN');
  });

  it('without user namespaces it is unprivileged with copy snapshots, and says which denial', () => {
    const d = decideMode({
      ...user,
      userns: { ok: false, reason: 'seccomp denies unshare(CLONE_NEWUSER) (EPERM)' },
      overlayInUserns: { ok: false },
    });
    expect(d).toMatchObject({ mode: 'unprivileged', snapshots: 'copy', isolation: 'none' });
    expect(d.reasons[0]).toBe(
      'mode unprivileged: not root (euid 1001); no user namespaces: seccomp denies unshare(CLONE_NEWUSER) (EPERM)',
    );
    expect(decideMode({ ...user, maxUserNamespaces: 0 }).reasons[0]).toContain('user.max_user_namespaces is 0');
    expect(decideMode({ ...user, overlayInUserns: { ok: false, reason: 'EPERM' } }).reasons[0]).toContain(
      'no overlay in a user namespace: EPERM',
    );
  });

  it('a mode asked for that cannot work fails at once, naming what is missing', () => {
    expect(() => decideMode(user, 'root')).toThrow(ModeError);
    expect(() => decideMode(user, 'root')).toThrow('not root (euid 1001)');
    expect(() => decideMode({ ...root, capSysAdmin: false }, 'root')).toThrow('root without CAP_SYS_ADMIN');
    const denied = { ...user, userns: { ok: false, reason: 'seccomp denies unshare(CLONE_NEWUSER) (EPERM)' } };
    expect(() => decideMode(denied, 'rootless')).toThrow(/--mode rootless needs .*seccomp denies/);
  });

  it('a mode asked for that works is taken: rootless as root, unprivileged anywhere', () => {
    const d = decideMode(root, 'rootless');
    expect(d.mode).toBe('rootless');
    expect(formatIdMap(d.uidMap!)).toBe('0-65535→0');
    expect(decideMode(root, 'unprivileged').snapshots).toBe('copy');
  });

  it('--isolation: none only with copy snapshots (a usage error otherwise); others as asked', () => {
    expect(() => decideMode(root, 'auto', 'none')).toThrow(UsageError);
    expect(() => decideMode(user, 'auto', 'none')).toThrow('--isolation none is only for copy snapshots');
    expect(decideMode(user, 'unprivileged', 'none').isolation).toBe('none');
    expect(decideMode(user, 'auto', 'pivot').isolation).toBe('pivot');
    expect(decideMode(user, 'auto', 'pivot').reasons).toContain('isolation pivot: asked for (--isolation)');
  });

  it("rootless where a fresh /proc is refused shares the container's /proc, says why and warns once", () => {
    const masked = { ...user, procInUserns: { ok: false, reason: 'mount: /proc: permission denied.' } };
    const d = decideMode(masked);
    expect(d.mode).toBe('rootless');
    expect(d.procShared).toBe(true);
    expect(d.reasons).toContain(
      'proc: masked by the container, RUN shares its /proc (no process sandbox): mount: /proc: permission denied.',
    );
    const procWarnings = d.warnings.filter((w) => w.includes('no process sandbox'));
    expect(procWarnings).toHaveLength(1);
    expect(procWarnings[0]).toContain('procMount: Unmasked');
    expect(procWarnings[0]).toContain('--security-opt unmask=ALL');
    // a fresh /proc works (or was not probed): the sandboxed path, no warning
    for (const f of [{ ...user, procInUserns: { ok: true } }, user]) {
      const s = decideMode(f);
      expect(s.procShared).toBeUndefined();
      expect(s.reasons).toContain('proc: a fresh /proc in a PID namespace per RUN');
      expect(s.warnings.join('\n')).not.toContain('no process sandbox');
    }
  });

  it('never shares /proc outside rootless mode: root on a host, unprivileged', () => {
    const refused = { ok: false, reason: 'EPERM' };
    for (const d of [
      decideMode({ ...root, procInUserns: refused }),
      decideMode({ ...user, procInUserns: refused }, 'unprivileged'),
    ]) {
      expect(d.mode).not.toBe('rootless');
      expect(d.procShared).toBeUndefined();
      expect(d.reasons.join('\n')).not.toContain('proc:');
      expect(d.warnings).toEqual([]);
    }
  });
});

describe('subidRange', () => {
  it('finds the first range by name or uid', () => {
    const text = 'bob:100000:65536\nalice:165536:65536\nalice:300000:10\n1002:400000:5\n';
    expect(subidRange(text, 'alice', 1001)).toEqual({ start: 165536, count: 65536 });
    expect(subidRange(text, 'carol', 1002)).toEqual({ start: 400000, count: 5 });
    expect(subidRange(text, 'dave', 1003)).toBeUndefined();
    expect(subidRange('alice:x:y\n', 'alice', 1)).toBeUndefined();
  });
});
