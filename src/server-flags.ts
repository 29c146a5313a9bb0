// The command line of `stream-users-server` (and `npm start -- …`): each flag sets a configuration variable, so that a
// flag and its variable (README "Configuration") always mean the same.
export const USAGE = `usage: stream-users-server [options]
  --port N               PORT (default 3030; 0 picks a free port)
  --host ADDRESS         HOST (default 127.0.0.1)
  --memory               DATA_DIR=memory: the embedded database in memory, no files at all
  --data-dir DIR         DATA_DIR (default ./data)
  --database-url URL     DATABASE_URL: PostgreSQL instead of the embedded database
  --import FILE          IMPORT_FILE: load a user file (JSON lines) at start
  --export-on-exit FILE  EXPORT_ON_EXIT: write the users (JSON lines) on SIGINT or SIGTERM
  --json                 print one line, {"url","api_key","api_secret"}, once ready (logs go to stderr)
  --help                 this text`;

export class UsageError extends Error {}

const VALUED: Record<string, string> = {
  '--port': 'PORT',
  '--host': 'HOST',
  '--data-dir': 'DATA_DIR',
  '--database-url': 'DATABASE_URL',
  '--import': 'IMPORT_FILE',
  '--export-on-exit': 'EXPORT_ON_EXIT',
};

export interface ServerFlags {
  /** Configuration variables the flags set; they win over the environment's. */
  env: Record<string, string>;
  json: boolean;
  help: boolean;
}

export function parseServerFlags(argv: readonly string[]): ServerFlags {
  const flags: ServerFlags = { env: {}, json: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    if (name === '--memory' && inline === undefined) flags.env.DATA_DIR = 'memory';
    else if (name === '--json' && inline === undefined) flags.json = true;
    else if ((name === '--help' || name === '-h') && inline === undefined) flags.help = true;
    else if (Object.hasOwn(VALUED, name)) {
      const value = inline ?? argv[++i];
      if (value === undefined || value === '') throw new UsageError(`${name} needs a value`);
      flags.env[VALUED[name]!] = value;
    } else throw new UsageError(`unknown option ${argv[i]}`);
  }
  return flags;
}

/** The process's flags; --help prints the usage and exits 0, a bad flag prints it and exits 2. */
export function parseServerFlagsOrExit(argv: readonly string[]): ServerFlags {
  try {
    const flags = parseServerFlags(argv);
    if (flags.help) {
      console.log(USAGE);
      process.exit(0);
    }
    return flags;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n${USAGE}`);
    process.exit(2);
  }
}
