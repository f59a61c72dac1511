// One refresh sweep in its own process (as the scheduler replica would run it), so its time and peak memory are
// its own. Prints one JSON line: { ms, queued, batches, maxRssMb }.
import { performance } from 'node:perf_hooks';
import { sweepDueRefreshes } from '../../src/scheduler/refresh.sweep.ts';
import { inProcessService } from './in-process.ts';

const [url, keys, batchSize] = process.argv.slice(2);
const service = await inProcessService(url!, keys!);
const t0 = performance.now();
const result = await sweepDueRefreshes(service.deps, { batchSize: Number(batchSize), maxBatches: 1_000_000 });
const ms = performance.now() - t0;
await service.close();
console.log(JSON.stringify({ ms, ...result, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
