/**
 * The client half of `census`: finds the command, parses its options, resolves the connection,
 * runs it, and turns what happened into an exit code (see EXIT).
 */
import { parseArgs } from 'node:util';
import { KnownServers, readConfig, resolveConnection, resolvePaths, SessionStore, DEFAULT_URL, type Connection, type FileConfig } from './config.ts';
import type { Command, Ctx, OptionSpec, Values } from './command.ts';
import { appserverAdd, appserverList, appserverRemove, appserverTest, appserverTypes } from './commands/appservers.ts';
import { identityAdd, identityList, identityRemove } from './commands/identities.ts';
import { inventoryShow } from './commands/inventory.ts';
import { jobCancel, jobList, jobRun, jobStatus } from './commands/jobs.ts';
import { login, logout } from './commands/login.ts';
import { sessionList, sessionLog, sessionShow } from './commands/sessions.ts';
import { roleAdd, roleEdit, roleList, roleShow } from './commands/roles.ts';
import { userAdd, userDisable, userEnable, userGrant, userList, userPasswd, userRemove, userRevoke } from './commands/users.ts';
import { keyCreate, keyList, keyRevoke, keyShow } from './commands/keys.ts';
import { audit } from './commands/audit.ts';
import { alertAck, alertList } from './commands/alerts.ts';
import { webhookAdd, webhookDeliveries, webhookList, webhookResend, webhookTest } from './commands/webhooks.ts';
import { hypervisorInventory, hypervisorList, hypervisorRegister, hypervisorRemove, hypervisorShow, hypervisorTest, hypervisorUpdate } from './commands/hypervisors.ts';
import { vmList } from './commands/vms.ts';
import { siteCreate, siteDelete, siteList, siteUpdate, workerList } from './commands/sites.ts';
import { CliError, EXIT, UsageError } from './errors.ts';
import { Api, Transport } from './http.ts';
import { processIo, type Io } from './io.ts';

export const COMMANDS: Command[] = [
  login, logout,
  jobList, jobStatus, jobRun, jobCancel,
  sessionList, sessionShow, sessionLog,
  appserverList, appserverAdd, appserverRemove, appserverTest, appserverTypes,
  identityList, identityAdd, identityRemove,
  inventoryShow,
  hypervisorList, hypervisorRegister, hypervisorShow, hypervisorUpdate, hypervisorRemove, hypervisorTest, hypervisorInventory,
  vmList,
  siteList, siteCreate, siteUpdate, siteDelete, workerList,
  userList, userAdd, userDisable, userEnable, userRemove, userPasswd, userGrant, userRevoke,
  roleList, roleShow, roleAdd, roleEdit,
  keyList, keyCreate, keyShow, keyRevoke,
  audit,
  alertList, alertAck,
  webhookAdd, webhookList, webhookTest, webhookDeliveries, webhookResend,
];

const GROUPS = [...new Set(COMMANDS.map((c) => c.words[0]!))];

export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  url: { type: 'string' },
  user: { type: 'string' },
  password: { type: 'string' },
  config: { type: 'string' },
  insecure: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

export const EXIT_CODES_HELP = `Exit codes:
  0  success; with --wait: the job session ended COMPLETED
  1  error: the server refused (its message and HTTP status are shown), or the connection or
     certificate check failed
  2  usage error: unknown command or option, missing or malformed argument, nothing to log in with
  3  the job session ended PARTIAL (some tasks failed)
  4  the job session ended FAILED (no task completed); appserver test: a check FAILED
  5  the job session was CANCELLED
  6  --timeout ran out while the session was still running (it goes on on the server)`;

const CONNECTION_HELP = `Connection (every client command; a flag wins over the environment, which wins over the config file):
  --url URL        the Census server (env CENSUS_URL; default ${DEFAULT_URL})
  --user U         user name (env CENSUS_USER)
  --password P     password (env CENSUS_PASSWORD)
  --insecure       accept a self-signed certificate and pin its SHA-256 fingerprint on first use;
                   later a different certificate there is refused (env CENSUS_INSECURE=1)
  --config FILE    the config file (env CENSUS_CONFIG; default $XDG_CONFIG_HOME/census/config.json,
                   that is ~/.config/census/config.json)
  --json           raw API JSON for scripts (lists: one JSON array of the items)
After \`census login\` the saved server, user and login session are used without flags.`;

const usageLine = (c: Command) => `census ${c.words.join(' ')}${c.synopsis ? ` ${c.synopsis}` : ''}`;

export function commandUsage(c: Command): string {
  return [
    `Usage: ${usageLine(c)}`,
    '',
    `${c.summary.charAt(0).toUpperCase()}${c.summary.slice(1)}.`,
    ...(c.help ? ['', c.help] : []),
    '',
    'Connection: --url URL, --user U, --password P, --insecure, --config FILE; --json for JSON (census --help).',
  ].join('\n');
}

function groupUsage(group: string): string {
  const list = COMMANDS.filter((c) => c.words[0] === group);
  return ['Usage:', ...list.map((c) => `  ${usageLine(c)}`), '', 'census ' + group + ' COMMAND --help shows the options of one command.'].join('\n');
}

export function clientHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => `census ${c.words.join(' ')}`.length));
  return [
    'Usage: census COMMAND [options]',
    '',
    'Commands that talk to a running Census server over its API:',
    ...COMMANDS.map((c) => `  ${`census ${c.words.join(' ')}`.padEnd(width)}  ${c.summary}`),
    '',
    'Commands that run Census itself, or work on its data directly:',
    `  ${'census server'.padEnd(width)}  the API server (census server --help)`,
    `  ${'census worker'.padEnd(width)}  a worker on the PostgreSQL task queue (census worker --help)`,
    `  ${'census backup'.padEnd(width)}  copy the data and its secret key into one file, while the server runs`,
    `  ${'census restore'.padEnd(width)}  put a backup into a data dir (census restore --help)`,
    `  ${'census rotate-key'.padEnd(width)}  seal the stored credentials under a new key (census rotate-key --help)`,
    '',
    'census COMMAND --help shows the options of one command.',
    '',
    CONNECTION_HELP,
    '',
    EXIT_CODES_HELP,
    '',
    'Files: config.json, sessions.json (login sessions) and known_servers.json (pinned certificates)',
    'in $XDG_CONFIG_HOME/census (default ~/.config/census), all readable only by you.',
  ].join('\n');
}

/** Every option any command knows, so a first pass can find the command words. */
function allOptions(): Record<string, OptionSpec> {
  const all: Record<string, OptionSpec> = { ...GLOBAL_OPTIONS };
  for (const c of COMMANDS) Object.assign(all, c.options ?? {});
  return all;
}

function parse(args: string[], options: Record<string, OptionSpec>, strict: boolean, usage?: string) {
  try {
    return parseArgs({ args, options, strict, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''), usage);
  }
}

function findCommand(args: string[]): { command?: Command; group?: string; help: boolean } {
  const first = parse(args, allOptions(), false);
  const [group, sub] = first.positionals;
  const help = first.values.help === true;
  if (group === undefined) return { help };
  if (!GROUPS.includes(group)) throw new UsageError(`unknown command "${group}"`, clientHelp());
  const single = COMMANDS.find((c) => c.words.length === 1 && c.words[0] === group);
  if (single) return { command: single, group, help };
  if (sub === undefined) {
    if (help) return { group, help };
    throw new UsageError(`census ${group} needs a command`, groupUsage(group));
  }
  const command = COMMANDS.find((c) => c.words[0] === group && c.words[1] === sub);
  if (!command) throw new UsageError(`unknown command "${group} ${sub}"`, groupUsage(group));
  return { command, group, help };
}

export async function runClient(argv: string[], io: Io = processIo()): Promise<number> {
  let api: Api | undefined;
  try {
    const found = findCommand(argv);
    if (!found.command) {
      io.out.write(`${found.group ? groupUsage(found.group) : clientHelp()}\n`);
      return EXIT.OK;
    }
    const command = found.command;
    const usage = commandUsage(command);
    if (found.help) {
      io.out.write(`${usage}\n`);
      return EXIT.OK;
    }
    const { values, positionals } = parse(argv, { ...GLOBAL_OPTIONS, ...(command.options ?? {}) }, true, usage);
    const args = positionals.slice(command.words.length);
    const wanted = command.args ?? [];
    if (args.length < wanted.length) throw new UsageError(`missing ${wanted.slice(args.length).join(' ')}`, usage);
    if (args.length > wanted.length && !command.variadic) throw new UsageError(`unexpected argument "${args[wanted.length]}"`, usage);

    const v = values as Values;
    const paths = resolvePaths(io.env, typeof v.config === 'string' ? v.config : undefined);
    let fileConfig: FileConfig | undefined;
    let connection: Connection | undefined;
    const resolveConn = (): Connection => {
      if (connection) return connection;
      fileConfig ??= readConfig(paths.config);
      const s = (name: string) => (typeof v[name] === 'string' ? (v[name] as string) : undefined);
      connection = resolveConnection({
        url: s('url'),
        user: command.ownCredentials ? undefined : s('user'),
        password: command.ownCredentials ? undefined : s('password'),
        insecure: v.insecure === true,
      }, io.env, fileConfig, paths.config);
      return connection;
    };
    const ctx: Ctx = {
      io,
      json: v.json === true,
      values: v,
      args,
      usage,
      paths,
      connection: resolveConn,
      api(override) {
        if (api) return api;
        const conn = { ...resolveConn(), ...override };
        const transport = new Transport(conn.url, conn.insecure, new KnownServers(paths.knownServers), (m) => io.err.write(`census: ${m}\n`));
        api = new Api(transport, conn, new SessionStore(paths.sessions), io.now);
        return api;
      },
      print: (...lines) => {
        io.out.write(`${lines.join('\n')}\n`);
      },
      printJson: (value) => {
        io.out.write(`${JSON.stringify(value, null, 2)}\n`);
      },
    };
    const code = await command.run(ctx);
    return code ?? EXIT.OK;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err.write(`census: ${err.message}\n\n${err.usage ?? clientHelp()}\n`);
      return EXIT.USAGE;
    }
    if (err instanceof CliError) {
      io.err.write(`census: ${err.message}\n`);
      return err.code;
    }
    io.err.write(`census: ${(err as Error)?.message ?? String(err)}\n`);
    return EXIT.ERROR;
  } finally {
    await api?.close().catch(() => undefined);
  }
}
