// The README's two commands are its first content after the title, and CI runs the second one (`.ci/run`).
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const read = (p: string) => readFileSync(`${repo}/${p}`, 'utf8');
const RUN_SAMPLE = 'npm ci && bash samples/hello/run.sh';
const RUN_TESTS = 'bash .ci/install-deps && npm ci && npm test';

/** Shell lines that run something: no comments, no blank lines. */
function commandLines(script: string): string[] {
  return script
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

describe('README', () => {
  it('starts with the title and then the two commands, exactly', () => {
    const lines = read('README.md').split('\n');
    expect(lines[0]).toBe('# tsbuild');
    const content = lines.slice(1).filter((l) => l.trim() !== '');
    expect(content[0]!.trim()).toBe(RUN_SAMPLE);
    expect(content[1]!.trim()).toBe(RUN_TESTS);
    // As a code block: indented, so they copy and paste as they are.
    expect(content[0]).toMatch(/^ {4}\S/);
    expect(content[1]).toMatch(/^ {4}\S/);
  });

  it('.ci/run runs the test command verbatim (or its three parts, in order)', () => {
    const lines = commandLines(read('.ci/run'));
    if (lines.includes(RUN_TESTS)) return;
    const parts = RUN_TESTS.split(' && ');
    const at = parts.map((p) => lines.findIndex((l) => l === p || l.split(' && ').includes(p)));
    expect(
      at.every((i) => i >= 0),
      `.ci/run must run: ${parts.join(', ')}`,
    ).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  });

  it('the files the commands name exist', () => {
    expect(existsSync(`${repo}/.ci/install-deps`)).toBe(true);
    expect(existsSync(`${repo}/samples/hello/run.sh`)).toBe(true);
    expect(JSON.parse(read('package.json')).scripts.test).toBeTypeOf('string');
  });

  it('.ci/install-deps installs what the CLI tests use (tmux for the pty, chromium for the report)', () => {
    const deps = read('.ci/install-deps');
    expect(deps).toMatch(/\btmux\b/);
    expect(deps).toMatch(/\bchromium\b/);
  });
});

describe('README programmatic API example', () => {
  it('type-checks against the package as users import it (from its npm name, `tsbuild-oci`)', async () => {
    const { execFile } = await import('node:child_process');
    const { writeFileSync, rmSync } = await import('node:fs');
    const block = /```ts\n([\s\S]*?)```/.exec(read('README.md'));
    expect(block, 'README has a ```ts example').not.toBeNull();
    const { name } = JSON.parse(read('package.json')) as { name: string };
    expect(block![1]).toContain(`from '${name}'`);
    // Inside the package, so its name resolves to this package through its "exports" (self-reference).
    const file = `${repo}/.readme-example-${process.pid}.ts`;
    writeFileSync(file, `export {};\n${block![1]}`);
    try {
      const out = await new Promise<{ code: number; text: string }>((resolve) => {
        execFile(
          `${repo}/node_modules/.bin/tsc`,
          [
            '--noEmit',
            '--strict',
            '--module',
            'nodenext',
            '--moduleResolution',
            'nodenext',
            '--target',
            'es2022',
            '--skipLibCheck',
            '--types',
            'node',
            file,
          ],
          { cwd: repo },
          (err, stdout, stderr) => resolve({ code: err ? 1 : 0, text: stdout + stderr }),
        );
      });
      expect(out.text).toBe('');
      expect(out.code).toBe(0);
    } finally {
      rmSync(file, { force: true });
    }
  });
});
