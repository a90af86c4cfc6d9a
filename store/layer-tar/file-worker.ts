// FileWriter's own worker thread (file-writer.ts), for unpacks without HashWriter's: one message per session; serves
// the ring until the session stops. Started from its compiled file (worker-file.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { FILE_CTRL as C, type FileServerData } from './file-protocol.js';
import { fileServer } from './file-server.js';

const data = workerData as FileServerData;
const server = fileServer(data);
const ctrl = new Int32Array(data.fileCtrlBuf);
parentPort!.on('message', () => {
  for (;;) {
    const seq = Atomics.load(ctrl, C.PSEQ);
    if (server.step()) continue;
    if (Atomics.load(ctrl, C.WSTATE) !== C.RUNNING) return;
    // a bump after `seq` was read ends the wait at once, announced or not
    Atomics.store(ctrl, C.SLEEPING, 1);
    Atomics.wait(ctrl, C.PSEQ, seq);
    Atomics.store(ctrl, C.SLEEPING, 0);
  }
});
