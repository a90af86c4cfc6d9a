import { describe, expect, it } from 'vitest';
import { UsageError } from './errors.js';
import { mediaTypesFor, parseOutputLayers } from './output-layers.js';

const usage = (f: () => unknown, msg: RegExp): void => {
  expect(f).toThrow(UsageError);
  expect(f).toThrow(msg);
};

describe('--output layer keys', () => {
  it('gives nothing when an output has none of them', () => {
    expect(parseOutputLayers('oci', { type: 'oci', dest: 'x.tar' })).toBeUndefined();
    expect(parseOutputLayers('local', { type: 'local', dest: 'out' })).toBeUndefined();
  });

  it('reads compression, level, force and media types', () => {
    expect(
      parseOutputLayers('image', {
        compression: 'zstd',
        'compression-level': '19',
        'force-compression': 'true',
        'oci-mediatypes': 'true',
      }),
    ).toEqual({ compression: { type: 'zstd', level: 19, force: true }, ociMediaTypes: true });
    expect(parseOutputLayers('oci', { compression: 'uncompressed' })).toEqual({
      compression: { type: 'uncompressed' },
    });
    expect(parseOutputLayers('docker', { 'compression-level': '9' })).toEqual({
      compression: { type: 'gzip', level: 9 },
    });
    expect(parseOutputLayers('registry', { 'force-compression': 'false' })).toEqual({
      compression: { type: 'gzip', force: false },
    });
    expect(parseOutputLayers('image', { 'oci-mediatypes': 'false' })).toEqual({
      compression: { type: 'gzip' },
      ociMediaTypes: false,
    });
  });

  it('refuses the keys on outputs that write files, naming them', () => {
    usage(() => parseOutputLayers('local', { compression: 'zstd' }), /type=local does not take compression=/);
    usage(() => parseOutputLayers('tar', { 'force-compression': 'true' }), /type=tar does not take force-compression=/);
  });

  it('refuses values it cannot honour', () => {
    usage(() => parseOutputLayers('image', { compression: 'estargz' }), /estargz is not supported/);
    usage(() => parseOutputLayers('image', { compression: 'lz4' }), /compression=lz4 is not supported/);
    usage(
      () => parseOutputLayers('image', { compression: 'gzip', 'compression-level': '10' }),
      /gzip levels are 0 to 9/,
    );
    usage(
      () => parseOutputLayers('image', { compression: 'zstd', 'compression-level': '23' }),
      /zstd levels are 0 to 22/,
    );
    usage(() => parseOutputLayers('image', { 'compression-level': 'fast' }), /compression-level=fast/);
    usage(
      () => parseOutputLayers('image', { compression: 'uncompressed', 'compression-level': '3' }),
      /means nothing with compression=uncompressed/,
    );
    usage(() => parseOutputLayers('image', { 'force-compression': 'yes' }), /expected true or false/);
    usage(() => parseOutputLayers('docker', { 'oci-mediatypes': 'true' }), /type=docker does not take oci-mediatypes/);
    usage(() => parseOutputLayers('oci', { 'oci-mediatypes': 'false' }), /oci-mediatypes=false/);
  });

  it('turns OCI media types on for zstd with a warning, as BuildKit', () => {
    const forced = mediaTypesFor({ compression: { type: 'zstd' }, ociMediaTypes: false });
    expect(forced.ociMediaTypes).toBe(true);
    expect(forced.warning).toMatch(/forcibly turning on oci-mediatypes/);
    expect(mediaTypesFor({ compression: { type: 'gzip' }, ociMediaTypes: false })).toEqual({ ociMediaTypes: false });
    expect(mediaTypesFor({ compression: { type: 'zstd' } })).toEqual({});
  });
});
