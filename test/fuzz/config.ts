// The fuzz budget and seed, from the environment. `npm test` runs the CI size with a fixed seed; `npm run fuzz`
// sets FUZZ_SEED=random and a larger FUZZ_RUNS.
//
//   FUZZ_SEED      an integer (default a constant, so CI runs are reproducible), or "random"
//   FUZZ_RUNS      cases per route and caller kind (default: at least 100, and at least 3,000 in all)
//   FUZZ_ONLY      run only the properties whose name contains this text, e.g. "server PATCH /api/v2/users"
//   FUZZ_PATH      replay one case: the path a failure report gives (with its FUZZ_SEED and FUZZ_ONLY)
//   FUZZ_SHRINKS   shrinking steps after a failure (default 150): each one is a request
//   FUZZ_COLLECT   a file: keep going after violations and append each one to it as a JSON line (for triage); the
//                  property still fails at its end if any was found

export const DEFAULT_SEED = 20_250_601;
export const MIN_RUNS_PER_PROPERTY = 100;
export const MIN_RUNS_TOTAL = 3_000;

function integer(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === '') return undefined;
  if (!/^-?\d+$/.test(text)) throw new Error(`${name} must be an integer, not ${JSON.stringify(text)}`);
  return Number(text);
}

export interface FuzzConfig {
  seed: number;
  randomSeed: boolean;
  /** Per property; undefined: computed from the number of properties (see runsPerProperty). */
  runs: number | undefined;
  only: string | undefined;
  path: string | undefined;
  maxShrinks: number;
  collect: string | undefined;
}

export function readConfig(): FuzzConfig {
  const randomSeed = process.env.FUZZ_SEED === 'random';
  return {
    seed: randomSeed ? (Math.random() * 2 ** 31) | 0 : (integer('FUZZ_SEED') ?? DEFAULT_SEED),
    randomSeed,
    runs: integer('FUZZ_RUNS'),
    only: process.env.FUZZ_ONLY || undefined,
    path: process.env.FUZZ_PATH || undefined,
    maxShrinks: integer('FUZZ_SHRINKS') ?? 150,
    collect: process.env.FUZZ_COLLECT || undefined,
  };
}

/** At least MIN_RUNS_PER_PROPERTY per route and caller kind, and at least MIN_RUNS_TOTAL in all. */
export function runsPerProperty(config: FuzzConfig, properties: number): number {
  return config.runs ?? Math.max(MIN_RUNS_PER_PROPERTY, Math.ceil(MIN_RUNS_TOTAL / Math.max(properties, 1)));
}

/** Each property gets its own seed, derived from the run's seed and its name: properties are independent. */
export function propertySeed(seed: number, name: string): number {
  let hash = seed | 0;
  for (let i = 0; i < name.length; i += 1) hash = (Math.imul(hash, 31) + name.charCodeAt(i)) | 0;
  return hash;
}
