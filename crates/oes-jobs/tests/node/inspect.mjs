// Reads a queue with Node BullMQ; prints counts and the given jobs as JSON.
// Usage: REDIS_URL=... node inspect.mjs <prefix> <queue> <jobId>...
import { Queue } from 'bullmq';
import IORedis from 'ioredis';

const [prefix, name, ...ids] = process.argv.slice(2);
// BullMQ 6 under ESM wants a ready client rather than connection options.
const connection = new IORedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  maxRetriesPerRequest: null,
});
const queue = new Queue(name, {
  prefix,
  connection,
});
const counts = await queue.getJobCounts();
const jobs = {};
for (const id of ids) {
  const job = await queue.getJob(id);
  jobs[id] = job
    ? {
        id: job.id,
        name: job.name,
        data: job.data,
        opts: job.opts,
        priority: job.priority,
        delay: job.delay,
        attemptsMade: job.attemptsMade,
        failedReason: job.failedReason ?? null,
        state: await job.getState(),
      }
    : null;
}
await queue.close();
await connection.quit();
console.log(JSON.stringify({ counts, jobs }));
