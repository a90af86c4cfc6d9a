// JSON blobs (manifests, configs, indexes) over any Blobs: canonical bytes in, parsed values out.
import type { Descriptor, Digest } from '../oci/index.js';
import type { Blobs } from './api.js';

/** Writes `value` as compact JSON bytes; returns its descriptor with the given media type. */
export function putJSON(blobs: Blobs, value: unknown, mediaType: string): Promise<Descriptor> {
  return blobs.putBytes(Buffer.from(JSON.stringify(value)), mediaType);
}

export async function readJSON<T>(blobs: Blobs, digest: Digest): Promise<T> {
  return JSON.parse((await blobs.read(digest)).toString('utf8')) as T;
}
