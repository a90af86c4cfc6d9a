// RUN --mount=type=bind from a hostile Buildfile and context, in both isolations: a source symlink (`/x -> /` in a
// stage, `lnk -> /` in the context) stays inside its stage or context; rw=true writes go to a throwaway overlay, never
// into a store layer or the context; the clean-up of mount points does not follow a symlink the RUN planted
// (BuildKit's CVE-2024-23652); a context bind shows the context filtered by .dockerignore. A victim directory on the
// host must come out unchanged, and its secret must never reach the build's output.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { lstat, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RegistryFixture } from '../fixtures/registry.js';
import { closeBuildEnv, makeBuildEnv } from '../builder/helpers/env.js';
import type { Tsb } from '../builder/helpers/tsb.js';

let registry: RegistryFixture;
let root: string;
let work: string;
let tsb: Tsb;
let victim: string;
const SECRET = 'host-secret-7f3a9c';

beforeAll(async () => {
  ({ registry, root, work, tsb } = await makeBuildEnv('run-mounts'));
});
afterAll(async () => {
  await closeBuildEnv({ registry, root, work });
});

/** Every entry under `dir` with its type, mode and content (files) or target (symlinks). */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(dir, r));
      const what = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : await readFile(join(dir, r), 'utf8');
      out.push(`${r} ${st.mode.toString(8)} ${what}`);
      if (st.isDirectory()) await walk(r);
    }
  };
  await walk('');
  return out;
}

async function context(
  name: string,
  buildfile: string,
  files: Record<string, string> = {},
  links: Record<string, string> = {},
): Promise<string> {
  const dir = join(work, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Buildfile'), buildfile);
  for (const [f, c] of Object.entries(files)) {
    await mkdir(join(dir, f, '..'), { recursive: true });
    await writeFile(join(dir, f), c);
  }
  for (const [l, t] of Object.entries(links)) await symlink(t, join(dir, l));
  return dir;
}

describe.each(['chroot', 'pivot'] as const)('RUN bind mounts (%s isolation)', (isolation) => {
  let n = 0;
  let before: string[];
  const build = (dir: string): { code: number; out: string } => {
    const r = tsb(['build', '--isolation', isolation, '--progress=json', '-t', `mounts-${isolation}-${n++}`, dir]);
    // the error is the stream's last event: its message, decoded, joins the output the checks search
    const errors = `${r.stdout}\n${r.stderr}`
      .split('\n')
      .filter((l) => l.startsWith('{"type":"error"'))
      .map((l) => (JSON.parse(l) as { message: string }).message);
    return { code: r.code, out: [r.stdout, r.stderr, ...errors].join('\n') };
  };

  beforeEach(async () => {
    victim = join(work, `victim-${isolation}-${n}`);
    await rm(victim, { recursive: true, force: true });
    await mkdir(join(victim, 'sub'), { recursive: true });
    await writeFile(join(victim, 'secret'), SECRET);
    await writeFile(join(victim, 'f'), SECRET);
    before = await snapshot(victim);
  });
  const victimUnchanged = async (): Promise<void> => expect(await snapshot(victim)).toEqual(before);

  it('a stage symlink /x -> / is the stage root, read-only and with rw=true', async () => {
    const dir = await context(
      `stage-link-${isolation}`,
      [
        'FROM busybox:latest AS s',
        'RUN ln -s / /x',
        'FROM busybox:latest',
        `RUN --mount=type=bind,from=s,source=/x,target=/m cat /m${victim}/secret; ls /m/bin/busybox`,
        `RUN --mount=type=bind,from=s,source=/x,target=/m,rw=true sh -c 'cat /m${victim}/secret; echo pwned > /m${victim}/made; rm -f /m${victim}/f; mkdir -p /m${victim}/sub/d; true'`,
        '',
      ].join('\n'),
    );
    const r = build(dir);
    expect(r.out).not.toContain(SECRET);
    expect(r.out).toContain('/m/bin/busybox'); // the stage's own root is what was mounted
    expect(r.code).toBe(0);
    await victimUnchanged();
  });

  it('a context symlink source lnk -> / is the context root; rw=true writes do not reach the context', async () => {
    const dir = await context(
      `ctx-link-${isolation}`,
      [
        'FROM busybox:latest',
        `RUN --mount=type=bind,source=lnk,target=/m cat /m${victim}/secret /m/data.txt 2>/dev/null; true`,
        `RUN --mount=type=bind,source=lnk,target=/m,rw=true sh -c 'echo pwned > /m${victim}/made; echo pwned > /m/data.txt; echo pwned > /m/new.txt; cat /m/data.txt' 2>/dev/null`,
        'RUN --mount=type=bind,target=/m cat /m/data.txt',
        '',
      ].join('\n'),
      { 'data.txt': 'original\n' },
      { lnk: '/' },
    );
    const ctxBefore = await snapshot(dir);
    const r = build(dir);
    expect(r.out).not.toContain(SECRET);
    expect(r.code).toBe(0);
    const lines = r.out
      .split('\n')
      .filter((l) => l.includes('step-output'))
      .map((l) => (JSON.parse(l) as { line: string }).line);
    expect(lines).toEqual(['original', 'pwned', 'original']); // writable inside the RUN, discarded after it
    expect(await snapshot(dir)).toEqual(ctxBefore);
    await victimUnchanged();
  });

  it('a missing source is an error naming the source and the line', async () => {
    const dir = await context(
      `ctx-missing-${isolation}`,
      ['FROM busybox:latest', `RUN --mount=type=bind,source=lnk/secret,target=/m cat /m`, ''].join('\n'),
      {},
      { lnk: victim },
    );
    const r = build(dir);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/source "\/lnk\/secret" not found in the build context/);
    expect(r.out).toMatch(/line 2|:2\b/);
    expect(r.out).not.toContain(SECRET);
    await victimUnchanged();
  });

  it('rw=true on a one-layer from= view leaves the store layer as it was for later builds', async () => {
    const a = await context(
      `layer-rw-${isolation}`,
      [
        'FROM busybox:latest AS s',
        'FROM busybox:latest',
        `RUN --mount=type=bind,from=s,target=/m,rw=true sh -c 'echo pwned > /m/planted-${isolation}; echo pwned > /m/etc/motd-${isolation}; cat /m/planted-${isolation}'`,
        `RUN --mount=type=bind,from=s,source=/etc/group,target=/g,rw=true sh -c 'echo pwned-${isolation} >> /g; tail -n 1 /g'`,
        '',
      ].join('\n'),
    );
    const r1 = build(a);
    expect(r1.code).toBe(0);
    expect(r1.out).toContain('pwned');
    expect(r1.out).toContain(`"line":"pwned-${isolation}"`); // a single file is writable too, in a private copy
    const b = await context(
      `layer-after-${isolation}`,
      [
        'FROM busybox:latest',
        `RUN ls / /etc > /dev/null; cat /planted-${isolation} /etc/motd-${isolation} /etc/group 2>&1; echo checked`,
        '',
      ].join('\n'),
    );
    const r2 = build(b);
    expect(r2.code).toBe(0);
    expect(r2.out).toContain('checked');
    expect(r2.out).not.toContain('pwned');
  });

  it("the clean-up of a mount point does not follow a symlink the RUN put in its parent's place (CVE-2024-23652)", async () => {
    const dir = await context(
      `cleanup-race-${isolation}`,
      [
        'FROM busybox:latest',
        `RUN --mount=type=bind,source=data.txt,target=/a/f sh -c 'mv /a /a2 && ln -s ${victim} /a'`,
        '',
      ].join('\n'),
      { 'data.txt': 'bound\n' },
    );
    const r = build(dir);
    expect(r.code).toBe(0);
    await victimUnchanged();
  });

  it('a context bind mount shows the context filtered by .dockerignore', async () => {
    const dir = await context(
      `ignored-${isolation}`,
      [
        'FROM busybox:latest',
        `RUN --mount=type=bind,target=/ctx sh -c 'cat /ctx/kept.txt /ctx/secret.txt /ctx/lnk /ctx/private/key /ctx/sub/keep.txt /ctx/sub/drop.log; ls -A /ctx /ctx/sub; echo ${isolation}; true'`,
        '',
      ].join('\n'),
      {
        'kept.txt': 'kept\n',
        'secret.txt': SECRET,
        'private/key': SECRET,
        'sub/keep.txt': 'sub kept\n',
        'sub/drop.log': SECRET,
        '.dockerignore': 'secret.txt\nprivate\n**/*.log\n',
      },
      { lnk: 'secret.txt' },
    );
    const r = build(dir);
    expect(r.code).toBe(0);
    expect(r.out).toContain('kept');
    expect(r.out).toContain('sub kept');
    expect(r.out).not.toContain(SECRET);
    expect(r.out).not.toMatch(/"line":"(secret\.txt|private|drop\.log)"/);
    const missing = await context(
      `ignored-src-${isolation}`,
      ['FROM busybox:latest', `RUN --mount=type=bind,source=secret.txt,target=/s cat /s # ${isolation}`, ''].join('\n'),
      { 'secret.txt': SECRET, '.dockerignore': 'secret.txt\n' },
    );
    const m = build(missing);
    expect(m.code).not.toBe(0);
    expect(m.out).toMatch(/source "\/secret\.txt" not found in the build context \(or excluded by \.dockerignore\)/);
    expect(m.out).not.toContain(SECRET);
  });
});
