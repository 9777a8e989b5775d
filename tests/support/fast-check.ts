// One seed per test process, printed, so any failing property can be replayed with FC_SEED=<seed>.
import fc from 'fast-check';

export const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : (Date.now() ^ (process.pid << 8)) >>> 1;
let announced = false;

/** fast-check parameters with the shared seed; prints the seed once per process. */
export function fcParams<T>(numRuns: number, extra: fc.Parameters<T> = {}): fc.Parameters<T> {
  if (!announced) {
    console.log(`# fast-check seed ${seed} (replay with FC_SEED=${seed})`);
    announced = true;
  }
  return { seed, numRuns, ...extra };
}
