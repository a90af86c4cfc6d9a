// One stream to two consumers (a blob being written and the same bytes being unpacked), with backpressure from
// both; a failure on either side fails both.
import { PassThrough, type Readable } from 'node:stream';

export async function tee(
  src: Readable,
  a: (s: Readable) => Promise<unknown>,
  b: (s: Readable) => Promise<unknown>,
): Promise<void> {
  const pa = new PassThrough({ highWaterMark: 1 << 20 });
  const pb = new PassThrough({ highWaterMark: 1 << 20 });
  // A consumer may still be setting up (no 'error' listener yet) when a download fails; without these the failure
  // would be an uncaught exception instead of the rejection each consumer sees when it reads the destroyed stream.
  const ignore = (): void => undefined;
  pa.on('error', ignore);
  pb.on('error', ignore);
  src.on('error', (e) => {
    pa.destroy(e);
    pb.destroy(e);
  });
  src.pipe(pa);
  src.pipe(pb);
  const fail = (e: unknown): never => {
    src.destroy();
    pa.destroy();
    pb.destroy();
    throw e;
  };
  await Promise.all([a(pa).catch(fail), b(pb).catch(fail)]);
}
