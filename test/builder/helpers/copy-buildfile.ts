// The Buildfile the copy-snapshot tests build with overlay and with copy snapshots: RUN writes, a whiteout (`RUN rm`
// of a base file), hard links (new ones and one to a base file), an opaque directory (removed and made again), COPY,
// a chmod of a copied file, WORKDIR, a secret, and checks that the placed /etc/hosts and secret are there only
// while the command runs.
export const COPY_BUILDFILE = [
  'FROM busybox:latest',
  'RUN echo hello > /hello && mkdir -p /data/sub && echo a > /data/sub/a && echo b > /data/b',
  'RUN rm /etc/group',
  'RUN echo x > /linked-a && ln /linked-a /linked-b && ln /etc/passwd /etc/passwd-link',
  'RUN rm -rf /data && mkdir /data && touch /data/x',
  'COPY f.txt /copied/f.txt',
  'RUN chmod 600 /copied/f.txt && ln /copied/f.txt /copied/g.txt && ls /dev/null /etc/hosts > /dev/null',
  'WORKDIR /w',
  'RUN --mount=type=secret,id=s cat /run/secrets/s > /w/secret-copy',
  'RUN test ! -e /run/secrets/s && grep -q buildkitsandbox /etc/hosts && touch /w/ok',
].join('\n');
