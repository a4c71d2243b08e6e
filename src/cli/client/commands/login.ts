/** `census login` and `census logout`. */
import { readJsonFile, writeJsonFile } from '../config.ts';
import { flag, str, type Command } from '../command.ts';
import { UsageError } from '../errors.ts';
import { promptHidden, readStdin } from '../io.ts';

export const login: Command = {
  words: ['login'],
  synopsis: '[--url URL] [--user U] [--password P | --password-stdin] [--insecure] [--save-password]',
  summary: 'check the credentials and remember the server, user and login session',
  help: `Logs in (POST /api/endeavour/session) and saves url, user and --insecure in the config file
and the login session in sessions.json, so later commands need no flags. The password is
not saved unless --save-password is given (then it goes into the config file, mode 0600).
Without --password, --password-stdin or CENSUS_PASSWORD it is asked for on the terminal.

  --password-stdin   read the password from standard input
  --save-password    keep the password in the config file (so expired sessions renew themselves)`,
  options: { 'password-stdin': { type: 'boolean' }, 'save-password': { type: 'boolean' } },
  async run(ctx) {
    const conn = ctx.connection();
    if (!conn.user) throw new UsageError('give the user name with --user (or CENSUS_USER)', ctx.usage);
    let password = str(ctx, 'password');
    if (flag(ctx, 'password-stdin')) {
      if (password !== undefined) throw new UsageError('give either --password or --password-stdin', ctx.usage);
      password = await readStdin(ctx.io);
    }
    password ??= conn.password;
    if (password === undefined) {
      if (!ctx.io.stdin.isTTY) throw new UsageError('no password: give --password, --password-stdin or CENSUS_PASSWORD', ctx.usage);
      password = await promptHidden(ctx.io, `Password for ${conn.user} at ${conn.url.origin}: `);
    }
    const api = ctx.api({ password });
    const reply = await api.login();
    api.saveSession();

    const saved = readJsonFile(ctx.paths.config);
    saved.url = conn.url.origin;
    saved.user = conn.user;
    if (conn.insecure) saved.insecure = true;
    else delete saved.insecure;
    if (flag(ctx, 'save-password')) saved.password = password;
    else delete saved.password;
    writeJsonFile(ctx.paths.config, saved);

    if (ctx.json) return ctx.printJson(reply);
    ctx.print(
      `Logged in to ${conn.url.origin} as ${conn.user}.`,
      `Saved the server and user${flag(ctx, 'save-password') ? ' and password' : ''} in ${ctx.paths.config}, the login session in ${ctx.paths.sessions}`,
      '(it ends after 45 minutes without use; then run census login again' + (flag(ctx, 'save-password') ? ', or let the saved password renew it).' : ').'),
    );
  },
};

export const logout: Command = {
  words: ['logout'],
  synopsis: '[--url URL]',
  summary: 'end the saved login session',
  help: 'Ends the login session saved by `census login` (DELETE /api/endeavour/session) and forgets it.\nA password saved with --save-password stays; remove it from the config file yourself.',
  async run(ctx) {
    const conn = ctx.connection();
    const ended = await ctx.api().logout();
    if (ctx.json) return ctx.printJson({ url: conn.url.origin, loggedOut: ended });
    ctx.print(ended ? `Logged out of ${conn.url.origin}.` : `No saved login session for ${conn.url.origin}.`);
  },
};
