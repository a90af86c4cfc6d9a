// What `--report` names besides the events: the tsbuild version, the tags, the target platform and the build args
// as given on the command line. Secrets are not taken: the options they come in are never read here.
import { formatPlatform, hostPlatform } from '../../oci/index.js';
import { tsbuildVersion } from '../version.js';
import type { ReportBuildInfo } from './model.js';

export function reportBuildInfo(opts: {
  tags: string[];
  platform?: string;
  buildArgs: Record<string, string>;
}): ReportBuildInfo {
  return {
    version: tsbuildVersion(),
    tags: [...opts.tags],
    platform: opts.platform ?? formatPlatform(hostPlatform()),
    buildArgs: { ...opts.buildArgs },
  };
}
