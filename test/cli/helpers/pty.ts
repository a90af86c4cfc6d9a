// Runs a command on a real pseudo-terminal (a private tmux server), recording every byte it writes and the screen
// it leaves. The command starts only once the recording is in place; the tmux server is killed afterwards.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PtyResult {
  /** Everything written to the terminal, escape sequences included. */
  raw: string;
  /** The terminal's screen after the command ended, one string per row (trailing blanks trimmed). */
  screen: string[];
  status: number;
}

export interface PtyOptions {
  columns: number;
  rows: number;
  cwd: string;
  timeoutMs?: number;
  env?: Record<string, string>;
  /** Type these keys (tmux key names, e.g. `C-c`) once the output contains `when`. */
  keys?: { when: string; send: string };
}

export async function runOnPty(command: string, opts: PtyOptions): Promise<PtyResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tsbuild-pty-'));
  const sock = `tsbuild-test-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const go = join(dir, 'go');
  const statusFile = join(dir, 'status');
  const rawFile = join(dir, 'raw');
  const envs = Object.entries(opts.env ?? {})
    .map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'; `)
    .join('');
  const script = join(dir, 'run.sh');
  // The script survives a Ctrl-C meant for the command (a trap with a handler is reset to default in children).
  writeFileSync(
    script,
    `trap 'true' INT\ncd '${opts.cwd}'\nwhile [ ! -e '${go}' ]; do sleep 0.05; done\n${envs}${command}\necho $? > '${statusFile}.tmp'; mv '${statusFile}.tmp' '${statusFile}'\nsleep 600\n`,
  );
  const tmux = (...args: string[]) =>
    execFileSync('tmux', ['-L', sock, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  try {
    tmux('new-session', '-d', '-s', 'pty', '-x', String(opts.columns), '-y', String(opts.rows), `bash '${script}'`);
    tmux('pipe-pane', '-t', 'pty', '-o', `cat >> '${rawFile}'`);
    writeFileSync(go, '');
    const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
    let keys = opts.keys;
    while (!existsSync(statusFile)) {
      if (keys && existsSync(rawFile) && readFileSync(rawFile, 'utf8').includes(keys.when)) {
        tmux('send-keys', '-t', 'pty', keys.send);
        keys = undefined;
      }
      if (Date.now() > deadline)
        throw new Error(`command did not finish on the pty within ${opts.timeoutMs ?? 120_000} ms: ${command}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 300)); // let pipe-pane drain
    const screen = tmux('capture-pane', '-p', '-t', 'pty')
      .split('\n')
      .map((l) => l.trimEnd());
    while (screen.length > 0 && screen[screen.length - 1] === '') screen.pop();
    const raw = existsSync(rawFile) ? readFileSync(rawFile, 'utf8') : '';
    return { raw, screen, status: Number(readFileSync(statusFile, 'utf8').trim()) };
  } finally {
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
