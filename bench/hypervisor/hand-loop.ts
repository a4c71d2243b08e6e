/**
 * The floor a script would have: `ssh user@host virsh -r -c URI …` run by hand over the same
 * hosts, reading the same kind of information as Census's collector (the domain list, each
 * domain's XML and disk sizes, the storage pool and network lists), with OpenSSH's client and
 * the host's virsh, and no parsing beyond counting what came back.
 *
 * Two ways of writing that script:
 *  - batched (the floor): two ssh logins per host: `virsh list --all --name`, then ONE virsh run
 *    with every read chained as `dumpxml D; domblkinfo D --all; …; pool-list; net-list` (virsh
 *    runs `;`-separated commands on one connection);
 *  - naive: one ssh login and one virsh run per read, as `for d in $(ssh h virsh list); do ssh h
 *    virsh dumpxml $d; …` is usually first written.
 */
import { spawn } from 'node:child_process';
import { shellQuote } from '../../src/collectors/kvm/uri.ts';
import type { BenchHost } from './hosts.ts';

export interface SshLogin {
  user: string;
  keyPath: string;
}

export interface HostRead {
  domains: number;
  bytes: number;
  sshRuns: number;
}

/** Options for a non-interactive ssh run: key only, no prompts, no known_hosts file touched. */
const sshOptions = (login: SshLogin, h: BenchHost) => [
  '-i', login.keyPath, '-p', String(h.port),
  '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
  '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=30',
  `${login.user}@${h.address}`,
];

/** Runs `virsh -r -c URI <args>` on the host over ssh; resolves with its stdout. */
function sshVirsh(login: SshLogin, h: BenchHost, args: string[]): Promise<string> {
  // ssh hands the remote shell one command line: quote every word for it.
  const remote = ['virsh', '-r', '-c', h.uri, ...args].map(shellQuote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', [...sshOptions(login, h), remote], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-2000);
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString());
      else reject(new Error(`ssh ${h.address} virsh ${args[0]}… exited ${code}: ${err.trim()}`));
    });
  });
}

const count = (text: string, re: RegExp) => text.match(re)?.length ?? 0;

function check(h: BenchHost, names: string[], xml: number, blk: number): void {
  if (names.length !== h.driver.domains.length) throw new Error(`${h.address}: virsh listed ${names.length} domains, the host file has ${h.driver.domains.length}`);
  if (xml !== names.length || blk !== names.length) throw new Error(`${h.address}: ${xml} domain XMLs and ${blk} disk tables for ${names.length} domains`);
}

async function listNames(login: SshLogin, h: BenchHost): Promise<string[]> {
  return (await sshVirsh(login, h, ['list', '--all', '--name'])).split('\n').map((l) => l.trim()).filter(Boolean);
}

/** The floor: two logins per host, the second one virsh run with every read chained. */
export async function readBatched(login: SshLogin, h: BenchHost): Promise<HostRead> {
  const names = await listNames(login, h);
  const reads = names.map((d) => `dumpxml ${d}; domblkinfo ${d} --all;`).join(' ');
  const out = await sshVirsh(login, h, [`${reads} pool-list --all --details; net-list --all`]);
  check(h, names, count(out, /<domain /g), count(out, /^ Target +Capacity/gm));
  return { domains: names.length, bytes: out.length, sshRuns: 2 };
}

/** One login and one virsh run per read. */
export async function readNaive(login: SshLogin, h: BenchHost): Promise<HostRead> {
  const names = await listNames(login, h);
  let bytes = 0;
  let xml = 0;
  let blk = 0;
  for (const d of names) {
    const x = await sshVirsh(login, h, ['dumpxml', d]);
    const b = await sshVirsh(login, h, ['domblkinfo', d, '--all']);
    xml += count(x, /<domain /g);
    blk += count(b, /^ Target +Capacity/gm);
    bytes += x.length + b.length;
  }
  for (const cmd of [['pool-list', '--all', '--details'], ['net-list', '--all']]) bytes += (await sshVirsh(login, h, cmd)).length;
  check(h, names, xml, blk);
  return { domains: names.length, bytes, sshRuns: 3 + 2 * names.length };
}

/** Reads every host with `parallel` at a time (1: one after the other); resolves with the totals. */
export async function readAll(hosts: BenchHost[], parallel: number, read: (h: BenchHost) => Promise<HostRead>): Promise<HostRead> {
  const total: HostRead = { domains: 0, bytes: 0, sshRuns: 0 };
  let next = 0;
  const worker = async () => {
    while (next < hosts.length) {
      const r = await read(hosts[next++]!);
      total.domains += r.domains;
      total.bytes += r.bytes;
      total.sshRuns += r.sshRuns;
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, hosts.length) }, worker));
  return total;
}
