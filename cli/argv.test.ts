// The command line as read before commander: the command word past global options and their values, `run`'s
// arguments after IMAGE kept for CMD, JSON mode only for a command that has --progress, and the nearest name.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { commandWord, nearest, stopOptionsAfterImage, wantsJson } from './argv.js';

function program(): Command {
  const p = new Command('tsbuild').option('--root <dir>').option('--debug');
  p.command('build', { isDefault: true })
    .argument('[context]')
    .option('-t, --tag <name>')
    .option('-q, --quiet')
    .option('--progress <mode>');
  p.command('run').argument('<image>').argument('[cmd...]').option('-u, --user <u>').option('--rm');
  p.command('images').option('--json');
  return p;
}

describe('the command line before commander', () => {
  it('finds the command word past global options, their values, and the default command options', () => {
    expect(commandWord(program(), ['--root', '/x', 'psuh'])).toEqual({ word: 'psuh', index: 2 });
    expect(commandWord(program(), ['--root=/x', '--debug', 'images'])).toEqual({ word: 'images', index: 2 });
    expect(commandWord(program(), ['-t', 'Bad Tag', 'ctx'])).toEqual({ word: 'ctx', index: 2 });
    expect(commandWord(program(), ['-q'])).toBeUndefined();
  });

  it('puts -- after run IMAGE, so that options after IMAGE are the command', () => {
    const p = program();
    expect(stopOptionsAfterImage(p, ['run', 'busybox', 'id', '-u'])).toEqual(['run', 'busybox', '--', 'id', '-u']);
    expect(stopOptionsAfterImage(p, ['--root', 'r', 'run', '-u', '0', '--rm', 'img', 'ls', '-l'])).toEqual([
      '--root',
      'r',
      'run',
      '-u',
      '0',
      '--rm',
      'img',
      '--',
      'ls',
      '-l',
    ]);
    // already separated, no command, or not `run`: unchanged
    for (const args of [
      ['run', 'busybox', '--', 'ls', '-e'],
      ['run', '--', 'busybox', 'ls', '-e'],
      ['run', 'busybox'],
      ['build', '-t', 'x', '.'],
    ])
      expect(stopOptionsAfterImage(p, args)).toEqual(args);
  });

  it('is in JSON mode only for a command with --progress given json', () => {
    const p = program();
    expect(wantsJson(p, ['--progress=json', '.'])).toBe(true);
    expect(wantsJson(p, ['build', '--progress', 'json', '.'])).toBe(true);
    expect(wantsJson(p, ['build', '--progress', 'plain', '.'])).toBe(false);
    expect(wantsJson(p, ['run', 'img', 'x', '--progress=json'])).toBe(false);
    expect(wantsJson(p, ['build', '--', '--progress=json'])).toBe(false);
  });

  it('suggests the nearest name: one swap or two edits away, none when ambiguous or far', () => {
    const names = ['build', 'push', 'pull', 'images', 'inspect', 'run', 'rmi', 'save', 'load'];
    expect(nearest('psuh', names)).toBe('push');
    expect(nearest('imgaes', names)).toBe('images');
    expect(nearest('biuld', names)).toBe('build');
    expect(nearest('PUSH', names)).toBe('push');
    expect(nearest('frobnicate', names)).toBeUndefined();
    // pull and push are both one edit from `pusl`
    expect(nearest('pusl', names)).toBeUndefined();
  });
});
