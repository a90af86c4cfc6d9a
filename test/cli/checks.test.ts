// Build checks as the user sees them (bin/tsbuild, a real store, FROM scratch so no image is needed): the warnings
// after a build in buildx's format, `--check` (report on stdout, exit 1 when a check fires, nothing built),
// `# check=skip=…`, `# check=error=true`, the BUILDKIT_DOCKERFILE_CHECK build arg, and the JSON events.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repo, 'bin/tsbuild');
const schema = JSON.parse(readFileSync(join(repo, 'docs/build-events.schema.json'), 'utf8')) as object;
const validateEvent = new Ajv({ allErrors: true, strict: true }).compile(schema);

let work: string;
let root: string;
let n = 0;

function tsbuild(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(bin, ['--root', root, ...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A context directory holding `text` as its Dockerfile. */
function context(text: string): string {
  const dir = join(work, `ctx-${++n}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'Dockerfile'), text);
  return dir;
}

const FLAWED = 'FROM scratch as base\nMAINTAINER me\nENV A 1\nCMD echo hi\n';
const CLEAN = 'FROM scratch AS base\nLABEL org.opencontainers.image.authors=me\nENV A=1\nCMD ["echo", "hi"]\n';

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tsbuild-checks-'));
  root = join(work, 'root');
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('build checks', () => {
  it('a build prints buildx’s summary line and one line per warning after its progress', async () => {
    const r = await tsbuild(['build', '--progress=plain', context(FLAWED)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      [
        '',
        ' 4 warnings found (use tsbuild --debug to expand):',
        " - FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)",
        ' - MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label (line 2)',
        ' - LegacyKeyValueFormat: "ENV key=value" should be used instead of legacy "ENV key value" format (line 3)',
        ' - JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals (line 4)',
        '',
      ].join('\n'),
    );
    // the warnings come after the progress
    expect(r.stderr.indexOf('warnings found')).toBeGreaterThan(r.stderr.indexOf('writing image'));
    const clean = await tsbuild(['build', '--progress=plain', context(CLEAN)]);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stderr).not.toContain('warning');
  });

  it('the build report lists the warnings', async () => {
    const report = join(work, 'report.json');
    const r = await tsbuild(['build', '--progress=quiet', '--report', report, context('FROM scratch\nENV A 1\n')]);
    expect(r.code, r.stderr).toBe(0);
    // quiet prints no summary, as buildx's quiet mode
    expect(r.stderr).not.toContain('warning');
    expect((JSON.parse(readFileSync(report, 'utf8')) as { warnings: string[] }).warnings).toEqual([
      'LegacyKeyValueFormat: "ENV key=value" should be used instead of legacy "ENV key value" format (line 2)',
    ]);
  });

  it('--debug expands each warning with its description and URL', async () => {
    const r = await tsbuild(['--debug', 'build', '--progress=plain', context('FROM scratch\nMAINTAINER me\n')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      [
        ' 1 warning found:',
        ' - MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label (line 2)',
        'The MAINTAINER instruction is deprecated, use a label instead to define an image author',
        'More info: https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/',
      ].join('\n'),
    );
  });

  it('--check prints buildx’s check report on stdout, builds nothing and exits 1 when a check fires', async () => {
    const dir = context('FROM scratch as base\nENV A 1\nCMD ["x"]\n');
    const r = await tsbuild(['build', '--check', '-t', 'checked:1', dir]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toBe(
      [
        'Check complete, 2 warnings have been found!',
        '',
        'WARNING: FromAsCasing - https://docs.docker.com/go/dockerfile/rule/from-as-casing/',
        "'as' and 'FROM' keywords' casing do not match",
        `${join(dir, 'Dockerfile')}:1`,
        '--------------------',
        '   1 | >>> FROM scratch as base',
        '   2 |     ENV A 1',
        '   3 |     CMD ["x"]',
        '--------------------',
        '',
        'WARNING: LegacyKeyValueFormat - https://docs.docker.com/go/dockerfile/rule/legacy-key-value-format/',
        '"ENV key=value" should be used instead of legacy "ENV key value" format',
        `${join(dir, 'Dockerfile')}:2`,
        '--------------------',
        '   1 |     FROM scratch as base',
        '   2 | >>> ENV A 1',
        '   3 |     CMD ["x"]',
        '   4 |     ',
        '--------------------',
        '',
      ].join('\n'),
    );
    expect(r.stderr).not.toContain('writing image');
    // nothing was built: the tag names no image
    expect((await tsbuild(['inspect', 'checked:1'])).code).not.toBe(0);

    const clean = await tsbuild(['build', '--check', context(CLEAN)]);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stdout).toBe('Check complete, no warnings found.\n');
  });

  it('--check looks at every stage, a build only at the stages it reaches', async () => {
    const dir = context('FROM scratch AS unused\nENV A 1\nFROM scratch\nENV B=2\n');
    const check = await tsbuild(['build', '--check', dir]);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain('Check complete, 1 warning has been found!');
    const built = await tsbuild(['build', '--progress=plain', dir]);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stderr).not.toContain('LegacyKeyValueFormat');
    // with --target, --check looks at what the target needs
    const last = await tsbuild(['build', '--check', '--target', '1', dir]);
    expect(last.code).toBe(0);
    const first = await tsbuild(['build', '--check', '--target', 'unused', dir]);
    expect(first.code).toBe(1);
    expect(first.stdout).toContain(`${join(dir, 'Dockerfile')}:2`);
  });

  it('--check --progress=json prints one check-warning event a line on stdout', async () => {
    const r = await tsbuild(['build', '--check', '--progress=json', context('FROM scratch\nMAINTAINER me\n')]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const e = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(validateEvent(e), JSON.stringify(validateEvent.errors)).toBe(true);
    expect(e).toMatchObject({ type: 'check-warning', rule: 'MaintainerDeprecated', line: 2, endLine: 2 });
  });

  it('# check=skip=… drops those rules, skip=all every rule', async () => {
    const skip = await tsbuild([
      'build',
      '--progress=plain',
      context(`# check=skip=FromAsCasing,MaintainerDeprecated,JSONArgsRecommended\n${FLAWED}`),
    ]);
    expect(skip.code, skip.stderr).toBe(0);
    expect(skip.stderr).toContain(
      ' 1 warning found (use tsbuild --debug to expand):\n - LegacyKeyValueFormat: "ENV key=value" should be used instead of legacy "ENV key value" format (line 4)\n',
    );
    const all = await tsbuild(['build', '--check', context(`# check=skip=all\n${FLAWED}`)]);
    expect(all.code).toBe(0);
    expect(all.stdout).toBe('Check complete, no warnings found.\n');
  });

  it('# check=error=true fails the build once the warnings are printed, before any step runs', async () => {
    const r = await tsbuild(['build', '--progress=plain', '-t', 'strict:1', context(`# check=error=true\n${FLAWED}`)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(' 4 warnings found');
    expect(r.stderr).toContain(
      'error: lint violation found for rules: FromAsCasing, MaintainerDeprecated, LegacyKeyValueFormat, JSONArgsRecommended',
    );
    expect(r.stderr).not.toContain('ENV A 1 DONE');
    expect((await tsbuild(['inspect', 'strict:1'])).code).not.toBe(0);
    // without a warning, error=true builds
    const ok = await tsbuild(['build', '--progress=plain', '-t', 'strict:2', context(`# check=error=true\n${CLEAN}`)]);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await tsbuild(['inspect', 'strict:2'])).code).toBe(0);
  });

  it('--build-arg BUILDKIT_DOCKERFILE_CHECK overrides the directive', async () => {
    const dir = context(`# check=error=true\n${FLAWED}`);
    const r = await tsbuild(['build', '--progress=plain', '--build-arg', 'BUILDKIT_DOCKERFILE_CHECK=skip=all', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('warning');
    expect(r.stderr).not.toContain('was not consumed');
  });

  it('experimental=… is said not to run, never silently ignored', async () => {
    const dir = context(`# check=experimental=CopyIgnoredFile\n${CLEAN}`);
    const build = await tsbuild(['build', '--progress=plain', dir]);
    expect(build.code, build.stderr).toBe(0);
    expect(build.stderr).toContain(
      "WARNING: check option experimental=CopyIgnoredFile: tsbuild has none of BuildKit's experimental rules",
    );
    const check = await tsbuild(['build', '--check', dir]);
    expect(check.code).toBe(0);
    expect(check.stderr).toContain('WARNING: check option experimental=CopyIgnoredFile');
  });

  it('an unknown check option fails with exit 2 and names itself', async () => {
    const r = await tsbuild(['build', context('# check=skipp=FromAsCasing\nFROM scratch\n')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid check option "skipp"');
  });

  it('--progress=json carries each warning as a check-warning event that the schema accepts', async () => {
    const r = await tsbuild(['build', '--progress=json', context(FLAWED)]);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { type: string; rule?: string; line?: number; url?: string });
    const warnings = events.filter((e) => e.type === 'check-warning');
    expect(warnings.map((w) => [w.rule, w.line])).toEqual([
      ['FromAsCasing', 1],
      ['MaintainerDeprecated', 2],
      ['LegacyKeyValueFormat', 3],
      ['JSONArgsRecommended', 4],
    ]);
    for (const e of events) expect(validateEvent(e), JSON.stringify(validateEvent.errors)).toBe(true);
    // the json mode prints no text summary
    expect(r.stderr).not.toContain('warnings found');
  });
});
