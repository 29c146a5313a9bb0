// `npm run openapi`: writes openapi.yaml at the repository root from the route schemas.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { generateOpenapi } from './openapi.js';

const target = fileURLToPath(new URL('../openapi.yaml', import.meta.url));
await writeFile(target, await generateOpenapi());
console.log(`wrote ${target}`);
