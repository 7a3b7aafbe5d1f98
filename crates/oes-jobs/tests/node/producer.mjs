// Adds `send-email` jobs the way the Node system does; prints their ids as JSON.
// Usage: REDIS_URL=... node producer.mjs <prefix> <count>
import { Queue } from 'bullmq';
import IORedis from 'ioredis';

const [prefix, count] = process.argv.slice(2);
// BullMQ 6 under ESM wants a ready client rather than connection options.
const connection = new IORedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  maxRetriesPerRequest: null,
});
const queue = new Queue('email', {
  prefix,
  connection,
});
const ids = [];
for (let i = 0; i < Number(count); i++) {
  const job = await queue.add(
    'send-email',
    { to: `student${i}@example.com`, subject: `Exam result ${i}`, html: `<p>Score ${i}</p>` },
    { attempts: 3, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: { age: 3600 } },
  );
  ids.push(job.id);
}
await queue.close();
await connection.quit();
console.log(JSON.stringify({ ids }));
