// The fuzz suite's `dashboard` shard (test/fuzz/suite.ts: SHARDS says which routes it takes).
import { defineFuzzSuite } from './suite.js';

await defineFuzzSuite('dashboard');
