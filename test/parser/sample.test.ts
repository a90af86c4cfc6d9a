// A realistic multi-stage Buildfile (test/parser/fixtures), and every sample Buildfile shipped in samples/.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseBuildfile } from '../../parser/parse.js';
import { dumpInstruction } from '../../parser/dump.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');

describe('fixtures/multi-stage.Buildfile', () => {
  const text = readFileSync(join(here, 'fixtures', 'multi-stage.Buildfile'), 'utf8');
  const r = parseBuildfile(text, 'multi-stage.Buildfile');

  it('reads the syntax directive', () => {
    expect(r.directives).toEqual({ syntax: 'docker/dockerfile:1.7', escape: '\\', check: null });
  });

  it('gives each instruction with its split and its lines', () => {
    expect(r.instructions.map((i) => `${i.line}-${i.endLine} ${dumpInstruction(i)}`)).toEqual([
      '3-3 (arg "GO_VERSION=1.22")',
      '5-5 (from ["--platform=$BUILDPLATFORM"] "golang:${GO_VERSION}-alpine" "AS" "build")',
      '6-6 (workdir "/src")',
      '7-8 (env "CGO_ENABLED" "0" "=" "GOFLAGS" "\\"-trimpath -mod=readonly\\"" "=")',
      '9-9 (copy "go.mod" "go.sum" "./")',
      '10-12 (run ["--mount=type=cache,target=/go/pkg/mod"] "go mod download")',
      '13-13 (copy "." ".")',
      '14-17 (run "<<EOF")',
      '19-19 (from "alpine:3.19")',
      '20-21 (label "org.opencontainers.image.source" "\\"https://example.com/app\\"" "=" "maintainer" "\\"ops@example.com\\"" "=")',
      '22-22 (run "addgroup -S app && adduser -S -G app app")',
      '23-23 (copy ["--from=build" "--chown=app:app" "--chmod=0755"] "/out/app" "/usr/local/bin/app")',
      '24-26 (copy "<<-EOT" "/etc/app/config.yaml")',
      '27-27 (user "app")',
      '28-28 (expose "8080/tcp")',
      '29-29 (volume "/var/lib/app")',
      '30-30 (healthcheck ["--interval=30s" "--timeout=3s"] "CMD" "app" "health")',
      '31-31 (stopsignal "SIGTERM")',
      '32-32 (entrypoint "/usr/local/bin/app")',
      '33-33 (cmd "serve")',
    ]);
  });

  it('carries the heredoc bodies', () => {
    expect(r.instructions[7]!.heredocs).toEqual([
      { name: 'EOF', content: 'set -eu\ngo build -o /out/app ./cmd/app\n', expand: true, chomp: false },
    ]);
    expect(r.instructions[12]!.heredocs).toEqual([
      { name: 'EOT', content: 'listen: ":8080"\n', expand: true, chomp: true },
    ]);
  });
});

describe('samples/', () => {
  const samples = join(repo, 'samples');
  const files = existsSync(samples)
    ? readdirSync(samples, { recursive: true, encoding: 'utf8' }).filter((f) => /(^|\/)Buildfile$/.test(f))
    : [];

  it.each(files)('samples/%s parses', (f) => {
    const r = parseBuildfile(readFileSync(join(samples, f), 'utf8'), f);
    expect(r.instructions.length).toBeGreaterThan(0);
    expect(r.instructions.some((i) => i.keyword === 'FROM')).toBe(true);
  });
});
