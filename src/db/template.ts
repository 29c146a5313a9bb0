// The migrated embedded database made when the bundle is built (make-template.ts), for fast starts in memory and on
// an empty data folder. Absent (a checkout run through tsx, before any build), a start runs initdb as before.
import fs from 'node:fs';
import { projectPath } from '../lib/paths.js';
import { BytesBlob } from './bytes-blob.js';

export const PGLITE_TEMPLATE = projectPath('dist', 'pglite-template.tar');

/** The template's contents for PGlite's loadDataDir, or undefined when there is none. */
export function pgliteTemplate(): Blob | undefined {
  try {
    return BytesBlob.of(fs.readFileSync(PGLITE_TEMPLATE), { type: 'application/x-tar', shared: true });
  } catch {
    return undefined;
  }
}
