// Image references parsed as Docker parses them (distribution/reference's normalized names): `busybox` →
// docker.io/library/busybox:latest. Parsed once into plain data; every other module takes an ImageRef.
import { TsbuildError } from './errors.js';
import type { Digest } from './types.js';

export interface ImageRef {
  /** Registry host[:port]; `docker.io` for Docker Hub. */
  registry: string;
  /** Repository path, e.g. `library/busybox`. */
  repository: string;
  /** Tag; `latest` when neither tag nor digest was given. */
  tag?: string;
  digest?: Digest;
}

export class ImageRefError extends TsbuildError {
  override name = 'ImageRefError';
  constructor(
    readonly input: string,
    reason: string,
  ) {
    super('BAD_REFERENCE', `invalid image reference "${input}": ${reason}`);
  }
}

export const DOCKER_HUB = 'docker.io';
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const DOMAIN =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$|^\[[a-fA-F0-9:]+\](?::[0-9]+)?$/;

/** Parses `name[:tag][@digest]` and normalizes it (docker.io, library/, latest). */
export function parseReference(input: string): ImageRef {
  const s = input.trim();
  if (s === '') throw new ImageRefError(input, 'empty reference');
  if (s.length > 255 + 128 + 80) throw new ImageRefError(input, 'too long');
  let rest = s;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!DIGEST.test(d)) throw new ImageRefError(input, `"${d}" is not a valid digest`);
    if (!/^sha256:[a-f0-9]{64}$/.test(d))
      throw new ImageRefError(input, `unsupported digest "${d}" (sha256:<64 hex> expected)`);
    digest = d as Digest;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new ImageRefError(input, `"${tag}" is not a valid tag`);
  }
  let registry = DOCKER_HUB;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.toLowerCase() !== first) {
      if (!DOMAIN.test(first)) throw new ImageRefError(input, `"${first}" is not a valid registry host`);
      registry = first;
      path = rest.slice(slash + 1);
    }
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (path === '') throw new ImageRefError(input, 'missing repository name');
  if (path.toLowerCase() !== path) throw new ImageRefError(input, 'repository name must be lowercase');
  for (const c of path.split('/')) {
    if (!COMPONENT.test(c)) throw new ImageRefError(input, `"${c}" is not a valid repository path component`);
  }
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  if (!tag && !digest) tag = 'latest';
  return { registry, repository: path, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** `registry/repository` — the name without tag or digest. */
export function repositoryName(ref: ImageRef): string {
  return `${ref.registry}/${ref.repository}`;
}

/** Fully normalized string: `docker.io/library/busybox:latest`, `host:5000/a/b@sha256:…`. */
export function formatReference(ref: ImageRef): string {
  return `${repositoryName(ref)}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** Docker's short form for display: `busybox:latest`, `user/app:1`, `host:5000/a/b:tag`. */
export function familiarName(ref: ImageRef): string {
  let name = repositoryName(ref);
  if (ref.registry === DOCKER_HUB) name = ref.repository.replace(/^library\//, '');
  return `${name}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** Normalizes a user-given name to the store's tag key. */
export function normalizeName(input: string): string {
  return formatReference(parseReference(input));
}
