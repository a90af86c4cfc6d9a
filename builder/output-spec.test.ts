import { describe, expect, it } from 'vitest';
import { UsageError } from '../oci/index.js';
import { OUTPUT_KEYS, OutputSpecError, parseOutputSpec, splitCsv } from './output-spec.js';

const refused = (text: string): OutputSpecError => {
  try {
    parseOutputSpec(text);
  } catch (e) {
    expect(e).toBeInstanceOf(OutputSpecError);
    expect(e).toBeInstanceOf(UsageError);
    return e as OutputSpecError;
  }
  throw new Error(`"${text}" was accepted`);
};

describe('splitCsv (Go encoding/csv, as buildx reads --output)', () => {
  it('splits on commas, keeps quoted commas and doubled quotes', () => {
    expect(splitCsv('a=1,b=2')).toEqual(['a=1', 'b=2']);
    expect(splitCsv('type=image,"name=r/a:1,r/b:1",push=true')).toEqual([
      'type=image',
      'name=r/a:1,r/b:1',
      'push=true',
    ]);
    expect(splitCsv('"x=say ""hi"""')).toEqual(['x=say "hi"']);
    expect(splitCsv('a=1,')).toEqual(['a=1', '']);
    expect(splitCsv('')).toEqual(['']);
  });

  it('refuses a bare quote, an unclosed quote and text after a closing quote', () => {
    expect(() => splitCsv('name=a"b')).toThrow(/quote inside the unquoted field/);
    expect(() => splitCsv('type=image,"name=a')).toThrow(/not closed/);
    expect(() => splitCsv('"name=a"x,type=image')).toThrow(/after the quoted field/);
  });
});

describe('parseOutputSpec', () => {
  it('reads docker’s shorthands: -o DIR is local, -o - is a tar on stdout', () => {
    expect(parseOutputSpec('out/dir')).toEqual({ type: 'local', dest: 'out/dir' });
    expect(parseOutputSpec('-')).toEqual({ type: 'tar', dest: '-' });
  });

  it('type=image: name= (comma-separated when quoted) and push=', () => {
    expect(parseOutputSpec('type=image')).toEqual({ type: 'image' });
    expect(parseOutputSpec('type=image,name=reg:5000/a:1,push=true')).toEqual({
      type: 'image',
      names: ['reg:5000/a:1'],
      push: true,
    });
    expect(parseOutputSpec('type=image,"name=reg/a:1, reg/b:2",push=false')).toEqual({
      type: 'image',
      names: ['reg/a:1', 'reg/b:2'],
      push: false,
    });
    expect(parseOutputSpec('TYPE=Image,Push=1').type).toBe('image');
  });

  it('type=registry is type=image,push=true; push=false contradicts it', () => {
    expect(parseOutputSpec('type=registry,name=reg/a:1')).toEqual({ type: 'image', names: ['reg/a:1'], push: true });
    expect(parseOutputSpec('type=registry,name=reg/a:1,push=true')).toEqual({
      type: 'image',
      names: ['reg/a:1'],
      push: true,
    });
    expect(refused('type=registry,push=false').message).toMatch(/push=false contradicts type=registry/);
  });

  it('type=local and type=tar take dest=; tar and oci without dest go to stdout, local and docker refuse', () => {
    expect(parseOutputSpec('type=local,dest=/tmp/x')).toEqual({ type: 'local', dest: '/tmp/x' });
    expect(parseOutputSpec('type=tar,dest=f.tar')).toEqual({ type: 'tar', dest: 'f.tar' });
    expect(parseOutputSpec('type=tar,dest=-')).toEqual({ type: 'tar', dest: '-' });
    expect(parseOutputSpec('type=tar')).toEqual({ type: 'tar', dest: '-' });
    expect(parseOutputSpec('type=oci')).toEqual({ type: 'oci', dest: '-' });
    expect(refused('type=local').message).toMatch(/type=local needs dest=DIR/);
    expect(refused('type=docker').message).toMatch(/type=docker needs dest=FILE/);
    expect(refused('type=local,dest=').message).toMatch(/dest= is empty/);
  });

  it('type=oci and type=docker take dest= and name=', () => {
    expect(parseOutputSpec('type=oci,dest=a.tar,name=app:1')).toEqual({ type: 'oci', dest: 'a.tar', names: ['app:1'] });
    expect(parseOutputSpec('type=docker,dest=-,"name=app:1,app:2"')).toEqual({
      type: 'docker',
      dest: '-',
      names: ['app:1', 'app:2'],
    });
  });

  it('reads the layer compression keys of image, registry, oci and docker outputs', () => {
    expect(parseOutputSpec('type=registry,name=r/a:1,compression=zstd,force-compression=true')).toEqual({
      type: 'image',
      push: true,
      names: ['r/a:1'],
      layers: { compression: { type: 'zstd', force: true } },
    });
    expect(parseOutputSpec('type=oci,dest=x.tar,compression=uncompressed')).toEqual({
      type: 'oci',
      dest: 'x.tar',
      layers: { compression: { type: 'uncompressed' } },
    });
    expect(refused('type=image,compression=gzip,compression-level=12').message).toMatch(/gzip levels are 0 to 9/);
    expect(refused('type=docker,dest=x,oci-mediatypes=true').message).toMatch(
      /type=docker does not take oci-mediatypes/,
    );
  });

  it('refuses an unknown key, naming the key and the output type', () => {
    for (const [text, key, type] of [
      ['type=image,unpack=true', 'unpack', 'image'],
      ['type=registry,name=r/a:1,store=false', 'store', 'registry'],
      ['type=local,dest=x,compression=zstd', 'compression', 'local'],
      ['type=tar,dest=x,force-compression=true', 'force-compression', 'tar'],
      ['type=local,dest=x,platform-split=false', 'platform-split', 'local'],
      ['type=tar,dest=x,name=a:1', 'name', 'tar'],
      ['type=oci,dest=x,tar=false', 'tar', 'oci'],
      ['type=docker,dest=x,push=true', 'push', 'docker'],
    ] as const) {
      const e = refused(text);
      expect(e.message).toContain(`${key}= is not supported for type=${type}`);
      expect(e.message).toContain(text);
    }
  });

  it('refuses an unknown type, a missing type, a field without =, a key given twice and bad values', () => {
    expect(refused('type=cacheonly').message).toMatch(/type=cacheonly is not supported \(image, registry, local/);
    expect(refused('dest=out').message).toMatch(/type= is required/);
    expect(refused('type=local,out').message).toMatch(/"out" is not KEY=VALUE/);
    expect(refused('type=local,,dest=x').message).toMatch(/"" is not KEY=VALUE/);
    expect(refused('type=local,dest=a,dest=b').message).toMatch(/dest= is given twice/);
    expect(refused('type=image,push=maybe').message).toMatch(/push=maybe: expected true or false/);
    expect(refused('type=image,name=').message).toMatch(/name= is empty/);
    expect(refused('type=image,name=a b:1').message).toMatch(/name=a b:1: /);
    expect(refused('type=image,name="a').message).toMatch(/not a CSV record/);
    expect(refused('').message).toMatch(/empty/);
  });

  it('has a row table for every output type (the README’s -o table is checked against it)', () => {
    expect(Object.keys(OUTPUT_KEYS).sort()).toEqual(['docker', 'image', 'local', 'oci', 'registry', 'tar']);
    for (const rows of Object.values(OUTPUT_KEYS)) expect(Object.keys(rows)).not.toContain('type');
  });
});
