// Headless Chromium (Debian's `chromium`) on a local file: its rendered DOM, and a screenshot. A throwaway profile
// directory; no network services (sync, updates, background requests) are contacted.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';

const run = promisify(execFile);

async function chromium(args: string[]): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), 'tsbuild-chromium-'));
  try {
    const { stdout } = await run(
      'chromium',
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile}`,
        ...args,
      ],
      { maxBuffer: 64 * 1024 * 1024, timeout: 90_000 },
    );
    return stdout;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

export function dumpDom(file: string): Promise<string> {
  return chromium(['--dump-dom', pathToFileURL(file).href]);
}

export async function screenshot(file: string, png: string): Promise<void> {
  await chromium([`--screenshot=${png}`, '--window-size=1280,900', pathToFileURL(file).href]);
}
