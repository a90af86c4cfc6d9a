// BuildKit's shell-word tests: envVarTest (single-word expansion, Unix and All lines) and wordsTest (splitting).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExpandError, expandWord, expandWords } from '../../parser/index.js';
import { conformanceRoot } from './corpus.js';

const base = join(conformanceRoot, 'buildkit-parser', 'shell');

interface Case {
  line: number;
  input: string;
  expected: string;
}

function envVarCases(): Case[] {
  const out: Case[] = [];
  readFileSync(join(base, 'envVarTest'), 'utf8')
    .split('\n')
    .forEach((text, i) => {
      if (text.trim() === '' || text.trimStart().startsWith('#')) return;
      const [platform, input, ...rest] = text.split('|');
      const p = platform!.trim();
      if (p === 'W') return; // Windows-only expectations
      if (p !== 'A' && p !== 'U') throw new Error(`envVarTest:${i + 1}: unknown platform ${p}`);
      out.push({ line: i + 1, input: input!.trim(), expected: rest.join('|').trim() });
    });
  return out;
}

const ENV = { PWD: '/home', SHELL: 'bash', KOREAN: '한국어', NULL: '' };
const envVar = envVarCases();

describe('shell/envVarTest', () => {
  it('has the Unix/All lines', () => expect(envVar.length).toBeGreaterThan(200));

  it.each(envVar)('line $line: $input → $expected', ({ input, expected }) => {
    if (expected === 'error') expect(() => expandWord(input, ENV)).toThrow(ExpandError);
    else expect(expandWord(input, ENV)).toBe(expected);
  });
});

interface WordsCase {
  line: number;
  input: string;
  expected: string;
  env: Record<string, string>;
}

function wordsCases(): WordsCase[] {
  const out: WordsCase[] = [];
  const env: Record<string, string> = {};
  readFileSync(join(base, 'wordsTest'), 'utf8')
    .split('\n')
    .forEach((text, i) => {
      if (text.trim() === '' || text.startsWith('#')) return;
      if (text.startsWith('ENV ')) {
        const kv = text.slice(4);
        const eq = kv.indexOf('=');
        env[kv.slice(0, eq)] = kv.slice(eq + 1);
        return;
      }
      const bar = text.indexOf('|');
      out.push({
        line: i + 1,
        input: text.slice(0, bar).trim(),
        expected: text.slice(bar + 1).replace(/^ +/, ''),
        env: { ...env },
      });
    });
  return out;
}

const words = wordsCases();

describe('shell/wordsTest', () => {
  it('has its lines', () => expect(words.length).toBeGreaterThan(20));

  it.each(words)('line $line: $input → $expected', ({ input, expected, env }) => {
    if (expected === 'error') expect(() => expandWords(input, env)).toThrow(ExpandError);
    else expect(expandWords(input, env).join(',')).toBe(expected);
  });
});
