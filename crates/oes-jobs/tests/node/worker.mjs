// A Node BullMQ worker: fails every job's first try, then succeeds; prints what it saw as JSON
// once `count` jobs have completed.
// Usage: REDIS_URL=... node worker.mjs <prefix> <queue> <count>
import { Worker } from 'bullmq';
import IORedis from 'ioredis';

const [prefix, name, count] = process.argv.slice(2);
const connection = new IORedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  maxRetriesPerRequest: null,
});
const calls = [];
let completed = 0;
const done = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('timed out waiting for jobs')), 20000);
  const worker = new Worker(
    name,
    async (job) => {
      calls.push({ id: job.id, name: job.name, data: job.data, attemptsMade: job.attemptsMade });
      if (job.attemptsMade === 0) throw new Error('node says retry');
    },
    { prefix, connection },
  );
  worker.on('completed', () => {
    completed += 1;
    if (completed === Number(count)) {
      clearTimeout(timer);
      resolve(worker);
    }
  });
});
const worker = await done;
await worker.close();
await connection.quit();
console.log(JSON.stringify({ calls }));
