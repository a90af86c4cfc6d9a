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

/** A context whose directories have the modes that used to leak onto an existing destination. */
const modedTree: Record<string, FileSpec> = {
  'bin/tool': { content: '#!/bin/sh\n', mode: 0o755 },
  'priv/secret': { content: 's\n', mode: 0o600 },
  'priv/inner/deep.txt': 'deep\n',
  'x.txt': 'x\n',
};

CASES.push(
  {
    name: 'copy-dest-dir-context',
    // a context made by mktemp -d: `COPY . .` must not make WORKDIR 0700
    prepare: 'chmod 700 .',
    files: {
      ...modedTree,
      bin: { dir: true, mode: 0o775 },
      priv: { dir: true, mode: 0o700 },
      'priv/inner': { dir: true, mode: 0o750 },
    },
    buildfile: [
      'FROM busybox:latest',
      'RUN mkdir -p /usr/local/bin /exist-chown /exist-chmod && chmod 711 /exist-chown && chown 5:6 /exist-chown && chmod 701 /exist-chmod',
      'COPY bin/ /usr/local/bin/',
      'COPY priv/ /new-priv/',
      'COPY priv /new-noslash',
      'COPY --chown=500:600 priv/ /exist-chown/',
      'COPY --chown=500:600 priv /new-chown/deep/',
      'COPY --chmod=750 priv/ /exist-chmod/',
      'COPY --chmod=750 priv/ /new-chmod/a/',
      'COPY --chown=7:8 x.txt /missing/parents/file.txt',
      'COPY --chown=7:8 --chmod=640 priv/ /missing2/parents/dir/',
      'ADD priv/ /add-new/',
      'ADD --chown=9:9 priv /usr/local/bin/',
      'WORKDIR /app',
      'COPY . .',
    ].join('\n'),
  },
  {
    name: 'copy-dest-dir-from-stage',
    files: modedTree,
    buildfile: [
      'FROM busybox:latest AS src',
      'RUN mkdir -p /s/in && echo f > /s/in/f && chmod 700 /s && chmod 750 /s/in && chown -R 300:400 /s',
      'FROM busybox:latest',
      'RUN mkdir -p /exist && chown 500:600 /exist && chmod 770 /exist',
      'COPY --from=src /s /exist',
      'COPY --from=src /s/ /from-new/',
      'COPY --from=src --chown=11:12 /s /from-chown/x/',
      'COPY --from=src --chown=11:12 /s /exist/',
      'COPY --from=src --chmod=755 /s /from-chmod',
    ].join('\n'),
  },
  {
    // entries copied into a set-group-ID directory keep their own group (the kernel would give them the directory's)
    name: 'copy-into-setgid-dirs',
    files: {},
    buildfile: [
      'FROM busybox:latest AS src',
      'RUN mkdir -p /d/sub/deeper && chgrp 50 /d/sub && chmod 2775 /d/sub && echo f > /d/sub/f && mkdir /d/sub/dd && ln -s f /d/sub/l && chgrp -h 0 /d/sub/f /d/sub/dd /d/sub/l && chmod 755 /d/sub/dd',
      'FROM busybox:latest',
      'RUN mkdir -p /sg && chgrp 60 /sg && chmod 2770 /sg',
      'COPY --from=src /d /x',
      'COPY --from=src /d/sub /sg/',
      'COPY --from=src /d/sub/f /sg/one',
    ].join('\n'),
  },
  {
    name: 'add-archive-dest-dirs',
    files: modedTree,
    prepare: 'chmod 700 priv && tar -czf priv.tgz -C priv . && tar -czf named.tgz priv',
    buildfile: [
      'FROM busybox:latest',
      'RUN mkdir -p /exist && chmod 751 /exist && chown 3:4 /exist',
      'ADD --chown=7:8 named.tgz /missing/tgz/',
      'ADD priv.tgz /exist/',
      'ADD priv.tgz /new-dot/',
    ].join('\n'),
  },
  {
    name: 'run-hostname-and-groups',
    files: {},
    buildfile: [
      'FROM busybox:latest',
      "RUN echo 'app:x:1000:1000::/tmp:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' >> /etc/group && echo 'extra:x:2000:app' >> /etc/group",
      'RUN hostname > /hostname.txt && cat /etc/hosts > /hosts.txt && id > /id-root.txt',
      'RUN (cat /etc/hostname || echo none) > /etc-hostname.txt',
      'USER 1000:1000',
      'RUN id > /tmp/id-numeric.txt',
      'USER app',
      'RUN id > /tmp/id-name.txt',
      'USER 1000',
      'RUN id > /tmp/id-uid.txt',
    ].join('\n'),
  },
  {
    name: 'empty-layers',
    files: { 'x.txt': 'x\n', empty: { dir: true }, stub: '' },
    buildfile: [
      'FROM busybox:latest',
      // BuildKit leaves a changed etc/ in a RUN's layer when it had to make the mount points of these two
      'COPY stub /etc/hosts',
      'COPY stub /etc/resolv.conf',
      'RUN true',
      'ENV A=1',
      'LABEL a=b',
      'WORKDIR /',
      'WORKDIR /tmp',
      'WORKDIR /new',
      'WORKDIR /new',
      'COPY empty/ /tmp/',
      'ADD empty/ /tmp/',
      'EXPOSE 80',
      'USER root',
      'STOPSIGNAL SIGINT',
      'COPY x.txt /x.txt',
      'RUN echo hi',
    ].join('\n'),
  },
  {
    name: 'config-and-history',
    files: { 'x.txt': 'x\n' },
    buildfile: [
      'ARG TOP=top',
      'FROM busybox:latest AS base',
      'RUN echo base > /base.txt',
      'FROM busybox:latest',
      'ARG TOP',
      'ARG ONE=1 TWO',
      'ENV E1=ev',
      'ARG SUB=${E1}-x',
      'RUN echo "$SUB" > /sub.txt',
      'SHELL ["/bin/sh", "-ec"]',
      'VOLUME /data /logs',
      'VOLUME ["/json"]',
      'HEALTHCHECK --interval=5m --timeout=3s CMD wget -q localhost || exit 1',
      'COPY --from=base /base.txt /copied.txt',
      'COPY --from=base --chown=1:2 --chmod=600 /base.txt /copied2.txt',
      'ENTRYPOINT echo entry',
      'CMD echo cmd',
    ].join('\n'),
  },
  {
    name: 'metadata-history',
    files: {},
    buildfile: [
      'FROM busybox:latest',
      'MAINTAINER someone <a@b.c>',
      'ONBUILD RUN echo triggered',
      'USER nobody:nogroup',
      'STOPSIGNAL SIGUSR1',
      'ENV Q="quoted value" R=plain',
      'LABEL "with space"="v 1" k=v',
      'EXPOSE 7000-7001/udp 80',
      'WORKDIR relative/dir',
    ].join('\n'),
  },
  {
    name: 'config-exec-form',
    files: {},
    buildfile: ['FROM busybox:latest', 'ENTRYPOINT ["/bin/echo"]', 'CMD ["hi"]', 'HEALTHCHECK NONE'].join('\n'),
  },
  {
    name: 'config-entrypoint-shell',
    files: {},
    buildfile: [
      'FROM busybox:latest',
      'HEALTHCHECK --interval=90s --timeout=1500ms --start-period=2m --retries=3 CMD ["true"]',
      'ENTRYPOINT echo entry',
    ].join('\n'),
  },
  {
    name: 'config-cmd-exec',
    files: {},
    buildfile: ['FROM busybox:latest', 'CMD ["echo", "hi"]'].join('\n'),
  },
  {
    name: 'from-scratch',
    files: { 'x.txt': 'x\n' },
    // /etc: docker create makes it in the container it exports
    buildfile: ['FROM scratch', 'COPY x.txt /', 'COPY x.txt /etc/', 'CMD ["/x.txt"]'].join('\n'),
  },
);
