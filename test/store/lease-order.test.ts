// The lease protocol against a prune in another process (store/leases.ts): a lease written while a prune marks
// and sweeps waits until that prune ends, and a decision taken before its lease is taken again when a prune began
// in between. The prune here is a real child process announcing itself the way `tsbuild prune` does.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { Digest } from '../../oci/types.js';
import { openStore } from '../../store/index.js';
import { Leases, readGcState } from '../../store/leases.js';
import { cleanupTemps, tempDir } from './helpers.js';

const LEASES = fileURLToPath(new URL('../../dist/store/leases.js', import.meta.url));
afterAll(cleanupTemps);

/**
 * A child that announces a prune and prints "marking"; it answers "ping" with "pong" while marking, and ends the
 * prune on "end", then exits.
 */
function fakePrune(root: string): {
  started: Promise<void>;
  ping: () => Promise<void>;
  finish: () => Promise<unknown>;
} {
  const src = `import { beginCollection } from ${JSON.stringify(LEASES)};
    const end = await beginCollection(${JSON.stringify(root)});
    console.log('marking');
    process.stdin.on('data', async (d) => {
      if (String(d).includes('ping')) console.log('pong');
      if (String(d).includes('end')) { await end(); process.exit(0); }
    });`;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', src], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((r) => proc.on('exit', r));
  let out = '';
  const waiters: { word: string; resolve: () => void }[] = [];
  proc.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    for (const w of waiters.splice(0))
      if (out.includes(w.word)) w.resolve();
      else waiters.push(w);
  });
  const seen = (word: string): Promise<void> =>
    new Promise((resolve) => (out.includes(word) ? resolve() : waiters.push({ word, resolve })));
  return {
    started: seen('marking'),
    ping: () => {
      out = out.replace(/pong/g, '');
      proc.stdin!.write('ping\n');
      return seen('pong');
    },
    finish: () => {
      proc.stdin!.write('end\n');
      return exited;
    },
  };
}

describe('leases against a running prune', () => {
  it('a new lease waits until the prune that may have missed it has ended', async () => {
    const root = join(await tempDir(), 'store');
    const store = await openStore(root);
    try {
      const prune = fakePrune(root);
      await prune.started;
      let leased = false;
      const lease = store.blobs.has(`sha256:${'ab'.repeat(32)}` as Digest).then(() => (leased = true));
      // a round trip to the prune process: had the lease not waited, it would have been taken long before
      await prune.ping();
      expect(leased).toBe(false);
      await prune.finish();
      await lease;
      expect(leased).toBe(true);
      // a digest leased already is not waited for again: it was in the lease before any later prune began
      const again = fakePrune(root);
      await again.started;
      await store.blobs.has(`sha256:${'ab'.repeat(32)}` as Digest);
      await again.finish();
    } finally {
      await store.close();
    }
  });

  it('a prune that began between a decision and its lease makes the decision be taken again', async () => {
    const root = join(await tempDir(), 'store');
    await openStore(root).then((s) => s.close());
    const leases = new Leases(root);
    try {
      let calls = 0;
      const result = await leases.hold(
        async () => {
          calls++;
          if (calls === 1) {
            // a whole prune runs after the decision was taken and before it is leased
            const prune = fakePrune(root);
            await prune.started;
            await prune.finish();
          }
          return `sha256:${String(calls).repeat(64)}`;
        },
        (d) => [d],
      );
      expect(calls).toBe(2);
      expect(result).toBe(`sha256:${'2'.repeat(64)}`);
      expect(readGcState(root)).toEqual({ epoch: 1 });
    } finally {
      await leases.close();
    }
  });
});
