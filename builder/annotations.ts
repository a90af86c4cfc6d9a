// `--annotation [TYPE[PLATFORM]:]KEY=VALUE`, as buildx reads it: TYPE `manifest` (the default), `index` or
// `manifest-descriptor` (its entry in the index), each for every platform or, with `[os/arch]`, for that platform
// only. The OCI standard annotations tsbuild knows are added beside them (standardAnnotations). `index-descriptor`
// (the OCI layout's index.json entry) and any other type are refused, naming it.
import { formatPlatform, parsePlatform, UsageError, type Platform } from '../oci/index.js';

export interface Annotations {
  manifest: Record<string, string>;
  index: Record<string, string>;
  manifestDescriptor: Record<string, string>;
}

export class AnnotationError extends UsageError {
  override name = 'AnnotationError';
  constructor(value: string, message: string) {
    super(`--annotation ${value}: ${message}`, {
      hint: 'write --annotation KEY=VALUE, or prefix it with manifest:, index: or manifest-descriptor: (optionally [os/arch])',
    });
  }
}

const TYPES = { manifest: 'manifest', index: 'index', 'manifest-descriptor': 'manifestDescriptor' } as const;

/** The annotations that apply to an image of `platform`. */
export function parseAnnotations(list: string[], platform: Platform): Annotations {
  const out: Annotations = { manifest: {}, index: {}, manifestDescriptor: {} };
  const want = formatPlatform(platform);
  for (const a of list) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new AnnotationError(a, 'expected KEY=VALUE');
    const head = a.slice(0, eq);
    const value = a.slice(eq + 1);
    // TYPE[PLATFORM]:KEY — a key may itself hold colons (`org.example:x`) only when no known type precedes it
    const m = /^([a-z-]+)(?:\[([^\]]*)\])?:(.+)$/.exec(head);
    let type: keyof typeof TYPES = 'manifest';
    let key = head;
    let only: string | undefined;
    if (m && (m[1]! in TYPES || m[2] !== undefined || m[1] === 'index-descriptor')) {
      if (!(m[1]! in TYPES))
        throw new AnnotationError(a, `"${m[1]}" annotations are not supported (manifest, index, manifest-descriptor)`);
      type = m[1] as keyof typeof TYPES;
      key = m[3]!;
      if (m[2] !== undefined) {
        try {
          only = formatPlatform(parsePlatform(m[2]));
        } catch (e) {
          throw new AnnotationError(a, `platform "${m[2]}": ${(e as Error).message}`);
        }
      }
    }
    if (key.trim() === '') throw new AnnotationError(a, 'empty key');
    if (only !== undefined && only !== want) continue;
    out[TYPES[type]][key] = value;
  }
  return out;
}

export function hasAny(a: Annotations): boolean {
  return Object.keys(a.manifest).length + Object.keys(a.index).length + Object.keys(a.manifestDescriptor).length > 0;
}

/**
 * The OCI standard annotations tsbuild knows for the image (image-spec annotations.md): created (the config's time:
 * SOURCE_DATE_EPOCH when set), source and revision (a git checkout's remote and commit), base.name and base.digest
 * (the final stage's base image). The caller's own manifest annotations win over them.
 */
export function standardAnnotations(facts: {
  created?: string;
  source?: { uri: string; gitCommit?: string };
  base?: { name: string; digest: string };
}): Record<string, string> {
  const out: Record<string, string> = {};
  if (facts.created) out['org.opencontainers.image.created'] = facts.created;
  if (facts.source?.gitCommit) {
    if (!facts.source.uri.startsWith('context:')) out['org.opencontainers.image.source'] = facts.source.uri;
    out['org.opencontainers.image.revision'] = facts.source.gitCommit;
  }
  if (facts.base) {
    out['org.opencontainers.image.base.name'] = facts.base.name;
    out['org.opencontainers.image.base.digest'] = facts.base.digest;
  }
  return out;
}
