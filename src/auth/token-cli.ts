// `npm run token`: prints a token for the running configuration, for curl and other hand-made requests.
//   npm run -s token                        a server-side token ({"server": true}, as the SDKs make it)
//   npm run -s token -- --user <id>         a user token with iat
//   npm run -s token -- --exp <seconds>     either one, expiring that many seconds from now
// The token goes to stdout, alone, so that TOKEN=$(npm run -s token) captures it; the matching api_key goes to stderr.
// The credentials are found as the server finds them: STREAM_API_KEY/STREAM_API_SECRET, else the ones generated on
// the embedded database's first start (mirrored in DATA_DIR/credentials.json, since a running server holds the
// database itself).
import { parseArgs } from 'node:util';
import { isValidUserId } from '../users/validation.js';
import { configuredCredentials } from './configured-credentials.js';
import { secretKey, signServerToken, signUserToken } from './jwt.js';

const USAGE = `usage: npm run -s token [-- [--user <id>] [--exp <seconds>]]
  (no option)      a server-side token
  --user <id>      a user token for <id>, with iat
  --exp <seconds>  the token expires that many seconds from now
The token is printed on stdout, the api_key on stderr.`;

class UsageError extends Error {}

function parse(argv: string[]): { user?: string; exp?: number } {
  let values: { user?: string; exp?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { user: { type: 'string' }, exp: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) throw new UsageError('');
  if (values.user !== undefined && !isValidUserId(values.user)) {
    throw new UsageError(`--user must be a user id of 1 to 255 letters, digits, "@", "_" or "-", got ${JSON.stringify(values.user)}`);
  }
  let exp: number | undefined;
  if (values.exp !== undefined) {
    exp = Number(values.exp);
    if (!/^\d+$/.test(values.exp) || exp <= 0) throw new UsageError(`--exp must be a whole number of seconds above 0, got ${JSON.stringify(values.exp)}`);
  }
  return { user: values.user, exp };
}

async function main(): Promise<number> {
  let options;
  try {
    options = parse(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (error.message) process.stderr.write(`${error.message}\n`);
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const { apiKey, apiSecret } = await configuredCredentials();
  const key = secretKey(apiSecret);
  const expiry = options.exp === undefined ? {} : { exp: Math.floor(Date.now() / 1000) + options.exp };
  const token =
    options.user === undefined
      ? await signServerToken(key, { expiresInSeconds: options.exp })
      : await signUserToken(options.user, key, { iat: Math.floor(Date.now() / 1000), ...expiry });
  process.stdout.write(`${token}\n`);
  process.stderr.write(`api_key: ${apiKey}\n`);
  return 0;
}

main().then(
  (status) => process.exit(status),
  (error: Error) => {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  },
);
