// The fuzz suite's `users-v2` shard (test/fuzz/suite.ts: SHARDS says which routes it takes).
import { defineFuzzSuite } from './suite.js';

await defineFuzzSuite('users-v2');
