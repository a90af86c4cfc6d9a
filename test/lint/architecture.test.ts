// tsbuild/architecture reports upward and deep imports between the parts (fixtures in scripts/lint/fixtures/).
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, test } from 'vitest';
import architecture from '../../scripts/lint/architecture.mjs';

const root = fileURLToPath(new URL('../../scripts/lint/fixtures/', import.meta.url));

async function lint(file: string): Promise<string[]> {
  const eslint = new ESLint({
    cwd: root,
    overrideConfigFile: true,
    overrideConfig: [
      {
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser },
        plugins: { tsbuild: { rules: { architecture } } },
        rules: { 'tsbuild/architecture': ['error', { root }] },
      },
    ],
  });
  const [result] = await eslint.lintFiles([file]);
  return result!.messages.map((m) => m.message);
}

describe('tsbuild/architecture', () => {
  test('an upward import (parser → builder) is an error', async () => {
    expect(await lint('parser/upward.ts')).toEqual([expect.stringMatching(/parser\/ may not import builder\//)]);
  });

  test("a deep import past another part's index.ts is an error", async () => {
    expect(await lint('builder/deep.ts')).toEqual([
      expect.stringMatching(/through store\/index\.ts, not store\/blobs\.js/),
    ]);
  });

  test('a dynamic import is checked too', async () => {
    expect(await lint('builder/dynamic.ts')).toEqual([expect.stringMatching(/through store\/index\.ts/)]);
  });

  test('downward imports through the index and imports within a part pass', async () => {
    expect(await lint('cli/ok.ts')).toEqual([]);
  });
});
