// The app's credentials as the command-line tools find them (npm run token, npm run import): STREAM_API_KEY and
// STREAM_API_SECRET, else the ones generated on the embedded database's first start (mirrored in
// DATA_DIR/credentials.json, since a running server holds the database itself).
import fs from 'node:fs';
import path from 'node:path';
import { storedGeneratedCredentials } from '../app-settings/store.js';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { DataDirLockedError } from '../db/lock.js';
import { readCredentialsFile } from './credentials-file.js';

/** The configured credentials, else the generated ones: from the file the server keeps, else from the database. */
export async function configuredCredentials(): Promise<{ apiKey: string; apiSecret: string }> {
  const config = loadConfig();
  if (config.apiKey && config.apiSecret) return { apiKey: config.apiKey, apiSecret: config.apiSecret };
  if (config.apiKey || config.apiSecret) throw new Error('set both STREAM_API_KEY and STREAM_API_SECRET, or neither');
  if (config.databaseUrl) throw new Error('STREAM_API_KEY and STREAM_API_SECRET are required with DATABASE_URL');
  const mirrored = readCredentialsFile(config.dataDir);
  if (mirrored) return mirrored;
  const notStarted = `no credentials in ${config.dataDir}: start the server once (npm start), or set STREAM_API_KEY and STREAM_API_SECRET`;
  if (!fs.existsSync(path.join(config.dataDir, 'pgdata'))) throw new Error(notStarted);
  let database;
  try {
    database = await openDatabase({ dataDir: config.dataDir });
  } catch (error) {
    if (error instanceof DataDirLockedError) throw new Error(`${error.message}; its credentials file is missing: restart the server to write it`);
    throw error;
  }
  try {
    const stored = await storedGeneratedCredentials(database.db).catch(() => undefined);
    if (!stored) throw new Error(notStarted);
    return stored;
  } finally {
    await database.close();
  }
}

