// podman with the flags this machine needs (runc, explicit ulimits, vfs storage under a test dir), to run pushed
// images of any platform: the other side of the emulation tests.
import { execFileSync, spawnSync } from 'node:child_process';
import { PODMAN_ULIMITS, podmanStorage } from '../fixtures/podman.js';

export function podmanRun(work: string, image: string, platform: string, cmd: string[]): string {
  const storage = podmanStorage(work);
  try {
    return execFileSync(
      'podman',
      [
        ...storage,
        'run',
        '--rm',
        '--pull',
        'always',
        '--tls-verify=false',
        '--platform',
        platform,
        '--network',
        'none',
        ...PODMAN_ULIMITS,
        image,
        ...cmd,
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } finally {
    spawnSync('podman', [...storage, 'rmi', '-af'], { stdio: 'ignore' });
  }
}

/**
 * `podman load -i ARCHIVE` into a store under `work`, then `podman run IMAGE CMD`: load's and run's output, and the
 * digest podman gives the loaded image (an index's when it loaded the OCI layout's index, else the manifest's).
 */
export function podmanLoadRun(
  work: string,
  archive: string,
  image: string,
  cmd: string[],
): { load: string; run: string; digest: string } {
  const storage = podmanStorage(work);
  try {
    const load = execFileSync('podman', [...storage, 'load', '-i', archive], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run = execFileSync(
      'podman',
      [...storage, 'run', '--rm', '--pull', 'never', '--network', 'none', ...PODMAN_ULIMITS, image, ...cmd],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const digest = execFileSync('podman', [...storage, 'image', 'inspect', '--format', '{{.Digest}}', image], {
      encoding: 'utf8',
    }).trim();
    return { load, run, digest };
  } finally {
    spawnSync('podman', [...storage, 'rmi', '-af'], { stdio: 'ignore' });
  }
}
