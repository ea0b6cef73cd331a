// A preprocessing worker thread (runtime/data/prepare.ts preprocessAll): volumes in, cache entries out.
import { parentPort } from 'node:worker_threads';
import { serve, type WorkerRequest } from './prepare.js';

if (!parentPort) throw new Error('internal: preprocess_worker.js runs only as a worker thread');
const port = parentPort;
port.on('message', (req: WorkerRequest) => port.postMessage(serve(req)));
