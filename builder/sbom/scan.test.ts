import { describe, expect, it } from 'vitest';
import { memoryTree } from './memory-tree.js';
import { scanTree } from './scan.js';
import { parseBuildInfo } from './gobin.js';

const STATUS = `Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library
 shared libraries

Package: removed-one
Status: deinstall ok not-installed
Architecture: amd64
Version: 1.0

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2024a-0+deb12u1
`;

/** A minimal ELF64 little-endian file with a `.go.buildinfo` section holding `mod`. */
function goElf(version: string, mod: string): Buffer {
  const uvarint = (n: number): Buffer => {
    const out: number[] = [];
    while (n >= 0x80) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    return Buffer.from(out);
  };
  const sentinel = Buffer.alloc(16, 0x30);
  const modBytes = Buffer.concat([sentinel, Buffer.from(mod), sentinel]);
  const head = Buffer.alloc(32);
  Buffer.from('\xff Go buildinf:', 'latin1').copy(head);
  head[14] = 8;
  head[15] = 2;
  const info = Buffer.concat([head, uvarint(version.length), Buffer.from(version), uvarint(modBytes.length), modBytes]);
  const names = Buffer.from('\0.shstrtab\0.go.buildinfo\0');
  const infoOff = 64;
  const namesOff = infoOff + info.length;
  const shoff = namesOff + names.length;
  const sh = Buffer.alloc(64 * 3);
  const section = (i: number, name: number, off: number, size: number): void => {
    sh.writeUInt32LE(name, i * 64);
    sh.writeBigUInt64LE(BigInt(off), i * 64 + 0x18);
    sh.writeBigUInt64LE(BigInt(size), i * 64 + 0x20);
  };
  section(1, 1, namesOff, names.length);
  section(2, 11, infoOff, info.length);
  const eh = Buffer.alloc(64);
  eh.writeUInt32BE(0x7f454c46, 0);
  eh[4] = 2;
  eh[5] = 1;
  eh.writeBigUInt64LE(BigInt(shoff), 0x28);
  eh.writeUInt16LE(64, 0x3a);
  eh.writeUInt16LE(3, 0x3c);
  eh.writeUInt16LE(1, 0x3e);
  return Buffer.concat([eh, info, names, sh]);
}

describe('sbom scanners', () => {
  it('dpkg: installed packages with purl, arch and the md5sums files; not-installed ones left out', () => {
    const r = scanTree(
      memoryTree({
        '/etc/os-release': 'ID=debian\nVERSION_ID="12"\n',
        '/var/lib/dpkg/status': STATUS,
        '/var/lib/dpkg/info/libc6:amd64.md5sums': '0123456789abcdef0123456789abcdef  lib/x86_64-linux-gnu/libc.so.6\n',
      }),
    );
    expect(r.distro).toEqual({ id: 'debian', versionId: '12' });
    expect(r.packages.map((p) => `${p.name} ${p.version} ${p.arch}`)).toEqual([
      'libc6 2.36-9+deb12u4 amd64',
      'tzdata 2024a-0+deb12u1 all',
    ]);
    expect(r.packages[0]!.purl).toBe(
      'pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc',
    );
    expect(r.packages[0]!.files).toEqual([
      {
        path: '/lib/x86_64-linux-gnu/libc.so.6',
        checksum: { algorithm: 'MD5', value: '0123456789abcdef0123456789abcdef' },
      },
    ]);
  });

  it('dpkg status.d (distroless): one paragraph per file, md5sums beside', () => {
    const r = scanTree(
      memoryTree({
        '/var/lib/dpkg/status.d/base-files': 'Package: base-files\nVersion: 12.4\nArchitecture: amd64\n',
        '/var/lib/dpkg/status.d/base-files.md5sums': 'ffffffffffffffffffffffffffffffff  etc/debian_version\n',
      }),
    );
    expect(r.packages.map((p) => [p.name, p.version, p.files.length])).toEqual([['base-files', '12.4', 1]]);
  });

  it('apk: name, version, arch, license and files with their SHA-1', () => {
    const r = scanTree(
      memoryTree({
        '/etc/os-release': 'ID=alpine\nVERSION_ID=3.20.0\n',
        '/lib/apk/db/installed':
          'C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\nL:MIT\no:musl\nF:lib\nR:ld-musl-x86_64.so.1\nZ:Q1' +
          Buffer.alloc(20, 1).toString('base64') +
          '\n\nP:busybox\nV:1.36.1-r29\nA:x86_64\nL:GPL-2.0-only\nF:bin\nR:busybox\n\n',
      }),
    );
    expect(r.packages.map((p) => `${p.name}@${p.version} ${p.license}`)).toEqual([
      'musl@1.2.5-r0 MIT',
      'busybox@1.36.1-r29 GPL-2.0-only',
    ]);
    expect(r.packages[0]!.files[0]).toEqual({
      path: '/lib/ld-musl-x86_64.so.1',
      checksum: { algorithm: 'SHA1', value: '01'.repeat(20) },
    });
    expect(r.packages[1]!.purl).toBe('pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64&distro=alpine-3.20.0');
  });

  it('npm: node_modules packages, scoped and nested, each name@version once', () => {
    const pj = (name: string, version: string, license = 'MIT'): string => JSON.stringify({ name, version, license });
    const r = scanTree(
      memoryTree({
        '/app/package.json': pj('app', '1.0.0'),
        '/app/node_modules/a/package.json': pj('a', '1.0.0'),
        '/app/node_modules/a/node_modules/b/package.json': pj('b', '2.0.0', 'ISC'),
        '/app/node_modules/b/package.json': pj('b', '1.0.0'),
        '/app/node_modules/@s/c/package.json': pj('@s/c', '3.0.0'),
        '/app/node_modules/@s/c/lib/package.json': '{"type":"module"}',
        '/other/node_modules/a/package.json': pj('a', '1.0.0'),
      }),
    );
    expect(r.packages.map((p) => `${p.name}@${p.version}`).sort()).toEqual([
      '@s/c@3.0.0',
      'a@1.0.0',
      'b@1.0.0',
      'b@2.0.0',
    ]);
    expect(r.packages.find((p) => p.name === '@s/c')!.purl).toBe('pkg:npm/%40s/c@3.0.0');
  });

  it('python: dist-info METADATA and RECORD, egg-info PKG-INFO', () => {
    const r = scanTree(
      memoryTree({
        '/usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO':
          'Metadata-Version: 1.2\nName: six\nVersion: 1.16.0\nLicense: MIT\n',
        '/usr/local/lib/python3.11/site-packages/Flask_Cors-4.0.0.dist-info/METADATA':
          'Metadata-Version: 2.1\nName: Flask_Cors\nVersion: 4.0.0\nLicense: MIT\n\nName: not-this\n',
        '/usr/local/lib/python3.11/site-packages/Flask_Cors-4.0.0.dist-info/RECORD': `flask_cors/__init__.py,sha256=${Buffer.alloc(32, 2).toString('base64url')},120\nflask_cors-4.0.0.dist-info/RECORD,,\n`,
      }),
    );
    expect(r.packages.map((p) => `${p.name}@${p.version} ${p.purl}`).sort()).toEqual([
      'Flask_Cors@4.0.0 pkg:pypi/flask-cors@4.0.0',
      'six@1.16.0 pkg:pypi/six@1.16.0',
    ]);
    const flask = r.packages.find((p) => p.name === 'Flask_Cors')!;
    expect(flask.files[0]).toEqual({
      path: '/usr/local/lib/python3.11/site-packages/flask_cors/__init__.py',
      checksum: { algorithm: 'SHA256', value: '02'.repeat(32) },
    });
  });

  it('go: the main module and deps from an executable ELF .go.buildinfo; not from a non-executable file', () => {
    const mod =
      'path\texample.com/cmd/tool\nmod\texample.com/cmd\tv1.2.3\th1:x=\ndep\tgolang.org/x/sys\tv0.1.0\th1:y=\n' +
      'dep\tgithub.com/old/dep\tv1.0.0\n=>\tgithub.com/new/dep\tv1.1.0\th1:z=\nbuild\t-compiler=gc\n';
    const elf = goElf('go1.22.1', mod);
    const r = scanTree(
      memoryTree({ '/usr/bin/tool': { data: elf, mode: 0o755 }, '/data/tool.bin': { data: elf, mode: 0o644 } }),
    );
    expect(r.packages.map((p) => `${p.name}@${p.version} ${p.foundIn}`)).toEqual([
      'example.com/cmd@v1.2.3 /usr/bin/tool',
      'golang.org/x/sys@v0.1.0 /usr/bin/tool',
      'github.com/new/dep@v1.1.0 /usr/bin/tool',
    ]);
    expect(r.packages[1]!.purl).toBe('pkg:golang/golang.org/x/sys@v0.1.0');
    expect(parseBuildInfo(Buffer.from('not go'))).toBeUndefined();
  });

  it('an image with no package database (busybox alone) has no packages and no error', () => {
    const r = scanTree(
      memoryTree({ '/bin/busybox': { data: Buffer.from('\x7fELF\x02\x01'.padEnd(80, '\0'), 'latin1'), mode: 0o755 } }),
    );
    expect(r.packages).toEqual([]);
  });
});
