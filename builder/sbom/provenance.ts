// The SLSA provenance of a build as an in-toto Statement v1 with the SLSA Provenance v1 predicate, laid out as
// BuildKit's (externalParameters.configSource and .request, resolvedDependencies for the materials), so tools
// that read BuildKit's provenance find the same fields. `min` records what identifies the inputs; `max` adds the
// build arguments, the secret and ssh ids (never their values) and the Buildfile's instructions. With
// SOURCE_DATE_EPOCH the times are the epoch and nothing random is written: the same build gives the same bytes.
import { isoSeconds } from './spdx.js';

export const PROVENANCE_PREDICATE = 'https://slsa.dev/provenance/v1';
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';

/** An in-toto Statement v1 of `predicate` about `subjects` (digests `sha256:…`), as every statement is written. */
export function inTotoStatement(
  predicateType: string,
  subjects: readonly { name: string; digest: string }[],
  predicate: unknown,
): Record<string, unknown> {
  return {
    _type: STATEMENT_TYPE,
    predicateType,
    subject: subjects.map((s) => ({ name: s.name, digest: { sha256: s.digest.replace(/^sha256:/, '') } })),
    predicate,
  };
}
/**
 * tsbuild's own build type (a Buildfile built as docs/attestations.md describes; its parameters are laid out as
 * BuildKit's `https://mobyproject.org/buildkit@v1`, but the builder is not BuildKit, so it does not claim that type).
 */
export const BUILD_TYPE = 'urn:tsbuild:build-type:buildfile:v1';
export const BUILDER_ID = 'urn:tsbuild:builder:local';

export interface Subject {
  /** `pkg:docker/NAME@TAG?platform=…` as BuildKit names it, or `_` for an unnamed image. */
  name: string;
  /** The image manifest's digest (`sha256:…`). */
  digest: string;
}

export interface Material {
  uri: string;
  digest: Record<string, string>;
}

export interface ProvenanceInput {
  mode: 'min' | 'max';
  subjects: Subject[];
  /** The context: a git checkout's remote and commit, or a local directory. */
  context: { uri: string; gitCommit?: string };
  /** The Buildfile's path within the context, and its sha256. */
  buildfile: { path: string; sha256: string; text?: string };
  target?: string;
  platform: string;
  /** Every base image and `COPY --from`/`--mount from=` image, by digest. */
  materials: Material[];
  buildArgs: Record<string, string>;
  secretIds: string[];
  startedOn: Date;
  finishedOn: Date;
  /** SOURCE_DATE_EPOCH, when set: the times are clamped to it and no invocation id is written. */
  epoch?: number;
  /** No RUN step had a network (every one ran with --network=none). */
  hermetic: boolean;
  toolVersion: string;
  invocationId?: string;
}

export function provenanceStatement(p: ProvenanceInput): Record<string, unknown> {
  const at = (d: Date): string => isoSeconds(p.epoch !== undefined ? new Date(p.epoch * 1000) : d);
  const args: Record<string, string> = {};
  if (p.target) args.target = p.target;
  if (p.mode === 'max') for (const [k, v] of Object.entries(p.buildArgs).sort()) args[`build-arg:${k}`] = v;
  const contextDep: Record<string, unknown> = {
    uri: p.context.uri,
    ...(p.context.gitCommit ? { digest: { gitCommit: p.context.gitCommit } } : {}),
  };
  return inTotoStatement(PROVENANCE_PREDICATE, p.subjects, {
    buildDefinition: {
      buildType: BUILD_TYPE,
      externalParameters: {
        configSource: {
          uri: p.context.uri,
          ...(p.context.gitCommit ? { digest: { gitCommit: p.context.gitCommit } } : {}),
          path: p.buildfile.path,
        },
        request: {
          frontend: 'dockerfile.v0',
          args,
          ...(p.mode === 'max' && p.secretIds.length > 0 ? { secrets: p.secretIds.map((id) => ({ id })) } : {}),
          locals: [{ name: 'context' }, { name: 'dockerfile' }],
        },
      },
      internalParameters: {
        builderPlatform: p.platform,
        buildfileDigest: { sha256: p.buildfile.sha256 },
        ...(p.mode === 'max' && p.buildfile.text !== undefined ? { buildfile: p.buildfile.text } : {}),
      },
      resolvedDependencies: [
        ...[...p.materials].sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0)),
        ...(p.context.gitCommit ? [contextDep] : []),
      ],
    },
    runDetails: {
      builder: { id: BUILDER_ID, version: { tsbuild: p.toolVersion } },
      metadata: {
        ...(p.epoch === undefined && p.invocationId ? { invocationId: p.invocationId } : {}),
        startedOn: at(p.startedOn),
        finishedOn: at(p.finishedOn),
        // BuildKit's names for the same facts, which its readers look for
        buildkit_hermetic: p.hermetic,
        buildkit_completeness: { request: true, resolvedDependencies: true },
        buildkit_reproducible: p.epoch !== undefined,
      },
    },
  });
}

/** BuildKit's subject name: `pkg:docker/REPO@TAG?platform=OS%2FARCH`. */
export function subjectName(name: string | undefined, platform: string): string {
  if (!name) return '_';
  const at = name.lastIndexOf(':');
  const slash = name.lastIndexOf('/');
  const [repo, tag] = at > slash ? [name.slice(0, at), name.slice(at + 1)] : [name, 'latest'];
  return `pkg:docker/${repo}@${tag}?platform=${encodeURIComponent(platform)}`;
}
