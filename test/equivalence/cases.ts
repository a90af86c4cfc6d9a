// Buildfiles whose final rootfs and config must match BuildKit's. Contexts are made by code (links, modes).
export type FileSpec =
  | string
  | { content: string; mode?: number }
  | { symlink: string }
  | { hardlink: string }
  | { dir: true; mode?: number };

export interface Case {
  name: string;
  buildfile: string;
  files: Record<string, FileSpec>;
  buildArgs?: Record<string, string>;
  /** Shell run in the context after the files are written (archives for ADD). */
  prepare?: string;
}

const tree: Record<string, FileSpec> = {
  'dir/a.txt': 'a\n',
  'dir/sub/b.txt': { content: 'b\n', mode: 0o600 },
  'dir/sub/run.sh': { content: '#!/bin/sh\necho run\n', mode: 0o755 },
  'dir/link-to-a': { symlink: 'a.txt' },
  'dir/abs-link': { symlink: '/etc/passwd' },
  'dir/hard-a': { hardlink: 'dir/a.txt' },
  'dir/empty': { dir: true, mode: 0o700 },
  'x.txt': 'x\n',
  'y.txt': 'y\n',
  'notes.md': 'notes\n',
  'docs/keep.md': 'keep\n',
  'docs/deep/drop.md': 'drop\n',
  'docs/deep/keep.txt': 'keep too\n',
  'logs/app.log': 'log\n',
};

export const CASES: Case[] = [
  {
    name: 'copy-dir-vs-contents',
    files: tree,
    buildfile: [
      'FROM busybox:latest',
      'COPY dir /contents/',
      'COPY dir /contents-noslash',
      'COPY dir/ /contents-trailing/',
      'COPY . /all/',
    ].join('\n'),
  },
  {
    name: 'copy-wildcards-and-files',
    files: tree,
    buildfile: [
      'FROM busybox:latest',
      'COPY *.txt /wild/',
      'COPY x.txt /single-file',
      'COPY x.txt y.txt /two/',
      'COPY x.txt /tmp/',
      'COPY dir/sub/*.sh /scripts/',
      'COPY x.txt relative-no-workdir',
      'WORKDIR /w',
      'COPY y.txt .',
      'COPY y.txt sub/',
    ].join('\n'),
  },
  {
    name: 'copy-chown-chmod-links',
    files: tree,
    buildfile: [
      'FROM busybox:latest',
      'COPY --chown=nobody:nogroup dir /owned/',
      'COPY --chown=65534 x.txt /owned-num.txt',
      'COPY --chmod=600 x.txt /moded.txt',
      'COPY --chown=nobody:nogroup --chmod=750 dir/sub /both/',
      'RUN ln -s /etc/group /made-link && ln /bin/busybox /made-hardlink',
    ].join('\n'),
  },
  {
    name: 'dockerignore-exceptions',
    files: { ...tree, '.dockerignore': '**/*.md\n!docs/keep.md\nlogs\n*.txt\n!y.txt\n' },
    buildfile: ['FROM busybox:latest', 'COPY . /ctx/'].join('\n'),
  },
  {
    name: 'workdir-user-whiteouts',
    files: tree,
    buildfile: [
      'FROM busybox:latest',
      'RUN mkdir -p /gone/deep && echo 1 > /gone/deep/f && echo keep > /keep && mkdir /opq && echo o > /opq/old',
      'RUN rm -rf /gone && rm -rf /opq && mkdir /opq && echo n > /opq/new',
      'WORKDIR /work/dir',
      'USER nobody',
      'WORKDIR /as-nobody',
      'RUN touch /tmp/made-by-nobody && id -u > /tmp/uid',
      'USER root',
      'WORKDIR relative',
      'RUN pwd > /pwd.txt && rm /etc/group',
    ].join('\n'),
  },
  {
    name: 'arg-env-substitution',
    files: tree,
    buildArgs: { FROM_CLI: 'cli-value' },
    buildfile: [
      'ARG GLOBAL=global-default',
      'FROM busybox:latest',
      'ARG GLOBAL',
      'ARG FROM_CLI=default',
      'ARG UNSET',
      'ENV A=a-value B="spaced value" C=${A}-c',
      "ENV D=${UNSET:-fallback} E=${A:+alt} F='$A'",
      'WORKDIR /${A}',
      'COPY x.txt /${B}/${FROM_CLI}.txt',
      'LABEL l1=${C} "l 2"="${GLOBAL}"',
      'EXPOSE 8080 9090/udp',
      'VOLUME ["/data"]',
      'ENTRYPOINT ["/bin/echo"]',
      'CMD ["hello"]',
      'RUN echo "$A|$B|$C|$D|$E|$F|$GLOBAL|$FROM_CLI|$UNSET" > /vars.txt',
    ].join('\n'),
  },
  {
    name: 'add-archives',
    files: tree,
    prepare:
      'mkdir -p arch/in && echo t > arch/in/t.txt && tar -czf arch.tgz arch && tar -cjf arch.tbz2 arch && tar -cJf arch.txz arch && rm -rf arch',
    buildfile: [
      'FROM busybox:latest',
      'ADD x.txt /added/',
      'ADD arch.tgz /tgz/',
      'ADD arch.tbz2 /tbz',
      'ADD arch.txz /txz/',
      'RUN mkdir /multi && cd /multi && echo t > t.txt',
    ].join('\n'),
  },
];
