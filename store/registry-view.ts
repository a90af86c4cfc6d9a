// The store under the flat names the registry glue reads and writes through: oci's BlobSink and BlobSource, and
// registry-client's PullTarget and PushSource (which the result satisfies structurally). A view, not a contract:
// each member is one call on a part of the Store.
import type { Readable } from 'node:stream';
import type { BlobSink, BlobSource, Descriptor, Digest, LayerCompression, RemoteBlobSource } from '../oci/index.js';
import type { ExpectedDiffID, LazyBlob, Store } from './api.js';

export interface RegistryView extends BlobSink, BlobSource {
  readBytes(digest: Digest): Promise<Buffer>;
  putBytes(bytes: Uint8Array, mediaType: string, expectedDigest?: Digest): Promise<Descriptor>;
  addLazyBlob(descriptor: Descriptor, source: RemoteBlobSource): Promise<void>;
  ensureBlob(digest: Digest): Promise<void>;
  lazyBlob(digest: Digest): Promise<LazyBlob | undefined>;
  tag(name: string, target: Descriptor): Promise<void>;
  unpackLayer(layer: Descriptor, expectDiffID?: ExpectedDiffID): Promise<{ diffID: Digest; dir: string }>;
  unpackLayerStream(
    layer: Descriptor,
    src: Readable,
    expectDiffID?: ExpectedDiffID,
  ): Promise<{ diffID: Digest; dir: string }>;
  diffIDOf(layer: Descriptor): Promise<Digest | undefined>;
  compressedLayer(layer: Descriptor, compression?: LayerCompression): Promise<Descriptor>;
}

export function registryView(store: Store): RegistryView {
  const { blobs, images, layers } = store;
  return {
    hasBlob: (d) => blobs.has(d),
    writeBlob: (src, expected) => blobs.put(src, expected),
    openBlob: (d) => blobs.open(d),
    blobSize: (d) => blobs.size(d),
    readBytes: (d) => blobs.read(d),
    putBytes: (bytes, mediaType, expectedDigest) => blobs.putBytes(bytes, mediaType, expectedDigest),
    addLazyBlob: (descriptor, source) => blobs.addLazy([{ descriptor, source }]),
    ensureBlob: (d) => blobs.fetch(d),
    lazyBlob: (d) => blobs.lazySource(d),
    tag: (name, target) => images.tag(name, target),
    unpackLayer: (layer, expect) => layers.unpack(layer, expect),
    unpackLayerStream: (layer, src, expect) => layers.unpackStream(layer, src, expect),
    diffIDOf: (layer) => layers.diffIDOf(layer),
    compressedLayer: (layer, compression) => layers.compressed(layer, compression),
  };
}
