// What the SBOM scanners find in an image: packages with the facts their own databases record.

export type PackageKind = 'deb' | 'apk' | 'npm' | 'python' | 'go';

/** A file a package database says the package owns, with the checksum it records (if any). */
export interface OwnedFile {
  path: string;
  checksum?: { algorithm: 'MD5' | 'SHA1' | 'SHA256'; value: string };
}

export interface FoundPackage {
  kind: PackageKind;
  name: string;
  version: string;
  /** Package URL (https://github.com/package-url/purl-spec). */
  purl: string;
  arch?: string;
  /** The license as the database records it (not necessarily an SPDX expression). */
  license?: string;
  /** Where in the image the record was read (the database file, the package.json, the binary). */
  foundIn: string;
  files: OwnedFile[];
}

/**
 * The image's files as the scanners read them: paths are absolute inside the image, resolved inside its root
 * (never outside), reads bounded. Undefined for what is missing or not of the asked kind.
 */
export interface ImageTree {
  /** A regular file's bytes, at most `max` of them (a larger file is undefined: a database that big is refused). */
  read(path: string, max?: number): Buffer | undefined;
  /** A regular file opened for reads at offsets (the caller closes it), or undefined. */
  openFile(path: string): ImageFile | undefined;
  /**
   * A directory's entries (symbolic links are reported as such and never followed by `walk`). A file's mode and
   * size are read only when `stat(name)` says so (0 otherwise): most files need neither, and a stat each adds up.
   */
  list(
    path: string,
    stat?: (name: string) => boolean,
  ): { name: string; kind: 'dir' | 'file' | 'link' | 'other'; mode: number; size: number }[] | undefined;
}

/** A file of the image open for reads at offsets (a binary's headers, without reading the whole of it). */
export interface ImageFile {
  readonly size: number;
  /** `len` bytes at `offset` (fewer at the end of the file). */
  readAt(offset: number, len: number): Buffer;
  close(): void;
}

/** `os-release` facts for purl qualifiers (`distro=debian-12`). */
export interface Distro {
  id: string;
  versionId?: string;
}
