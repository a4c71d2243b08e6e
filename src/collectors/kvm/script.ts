/**
 * The one command a KVM collection runs on the host: a POSIX sh script (sent on stdin to `sh -s`)
 * that asks virsh for everything in two read-only virsh runs, not one per object: the host facts
 * and the lists of domains, pools and networks first, then every per-object read (dumpxml,
 * domstate, domblkinfo, pool-dumpxml, pool-info, net-dumpxml) as `;`-separated virsh commands in
 * batches. virsh's own `echo` prints a marker line before each read, and stderr is merged into
 * stdout, so each answer (or its "error: ..." line) stays under its marker.
 */

import { shellQuote } from './uri.ts';

/** Every marker line starts with this; virsh never prints it by itself. */
export const MARKER = '@@census:';
/** Objects per virsh run in the second phase: keeps each argument far below Linux's 128 KiB per-argument limit. */
const BATCH = 40;

/** The first-phase reads: section name and virsh command. */
const PHASE1: readonly [string, string][] = [
  ['version', 'version --daemon'],
  ['hostname', 'hostname'],
  ['nodeinfo', 'nodeinfo'],
  ['domains', 'list --all --uuid'],
  ['domains-autostart', 'list --all --uuid --autostart'],
  ['domains-persistent', 'list --all --uuid --persistent'],
  ['pools', 'pool-list --all --uuid'],
  ['pools-autostart', 'pool-list --all --uuid --autostart'],
  ['pools-persistent', 'pool-list --all --uuid --persistent'],
  ['networks', 'net-list --all --uuid'],
  ['networks-autostart', 'net-list --all --uuid --autostart'],
  ['networks-persistent', 'net-list --all --uuid --persistent'],
  ['networks-active', 'net-list --uuid'],
];

/**
 * The script for `uri` (already checked by libvirtUriProblem). It prints `@@census:script 1`
 * first and `@@census:done` last, so a shell that never ran it, or output cut short, shows.
 */
export function kvmScript(uri: string): string {
  const phase1 = [...PHASE1.map(([section, cmd]) => `echo ${MARKER}${section}; ${cmd}`), `echo ${MARKER}phase1-end`].join('; ');
  return `set -f
LC_ALL=C; LANG=C; export LC_ALL LANG
U=${shellQuote(uri)}
echo '${MARKER}script 1'
if ! command -v virsh >/dev/null 2>&1; then
  echo '${MARKER}no-virsh'
  exit 0
fi
# -r: a read-only connection, which libvirt grants more widely than a read-write one.
P1=$(virsh -r -c "$U" "${phase1}" 2>&1)
rc=$?
printf '%s\\n' "$P1"
if [ "$rc" -ne 0 ]; then
  echo "${MARKER}virsh-exit $rc"
  exit 0
fi
CMDS=''
N=0
flush() {
  if [ "$N" -gt 0 ]; then
    virsh -r -c "$U" "$CMDS echo ${MARKER}batch-end" 2>&1
    echo "${MARKER}batch-exit $?"
  fi
  CMDS=''
  N=0
}
add() {
  CMDS="$CMDS$1 "
  N=$((N + 1))
  if [ "$N" -ge ${BATCH} ]; then flush; fi
}
printf '%s\\n' "$P1" | {
  S=''
  while IFS= read -r line; do
    case $line in
      ${MARKER}*) S=\${line#${MARKER}}; continue ;;
    esac
    set -- $line
    [ "$#" -eq 1 ] || continue
    u=$1
    case $u in *[!0-9a-fA-F-]*) continue ;; esac
    case $S in
      domains) add "echo ${MARKER}dom-xml $u; dumpxml $u; echo ${MARKER}dom-state $u; domstate $u; echo ${MARKER}dom-blk $u; domblkinfo $u --all;" ;;
      pools) add "echo ${MARKER}pool-xml $u; pool-dumpxml $u; echo ${MARKER}pool-info $u; pool-info $u;" ;;
      networks) add "echo ${MARKER}net-xml $u; net-dumpxml $u;" ;;
    esac
  done
  flush
}
echo '${MARKER}done'
`;
}

export interface Section {
  /** e.g. "version", "dom-xml". */
  kind: string;
  /** The object's UUID for per-object sections, "" otherwise. */
  key: string;
  /** The lines under the marker (virsh's answer, or its error lines). */
  lines: string[];
}

export interface ScriptOutput {
  /** The script started (its first marker is there). */
  started: boolean;
  /** virsh is not on the host's PATH. */
  noVirsh: boolean;
  /** virsh's exit status when the first run failed (no connection), else null. */
  virshExit: number | null;
  /** What virsh printed before that failure: its error lines. */
  preamble: string[];
  sections: Section[];
  /** The script printed its last marker. */
  complete: boolean;
}

/** Splits the script's output at its marker lines. */
export function splitOutput(stdout: string): ScriptOutput {
  const out: ScriptOutput = { started: false, noVirsh: false, virshExit: null, preamble: [], sections: [], complete: false };
  let current: Section | null = null;
  for (const raw of stdout.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (!line.startsWith(MARKER)) {
      if (current) current.lines.push(line);
      else if (out.started) out.preamble.push(line);
      continue;
    }
    const [kind = '', key = '', ...rest] = line.slice(MARKER.length).split(' ');
    if (rest.length) continue; // not one of ours
    current = null;
    switch (kind) {
      case 'script':
        out.started = true;
        break;
      case 'no-virsh':
        out.noVirsh = true;
        break;
      case 'virsh-exit':
        out.virshExit = Number(key);
        break;
      case 'done':
        out.complete = true;
        break;
      case 'phase1-end':
      case 'batch-end':
      case 'batch-exit':
        break;
      default:
        current = { kind, key, lines: [] };
        out.sections.push(current);
    }
  }
  return out;
}

/** The "error: ..." lines of a section (virsh's stderr), without the prefix. */
export function errorLines(lines: readonly string[]): string[] {
  return lines.filter((l) => l.startsWith('error: ')).map((l) => l.slice('error: '.length));
}
