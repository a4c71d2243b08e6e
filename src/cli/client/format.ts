/** Human output: aligned tables, sizes, times, durations and the progress bar. Pure functions. */

export type Cell = string | number | null | undefined;

export interface Column {
  title: string;
  align?: 'left' | 'right';
}

const text = (c: Cell): string => (c === null || c === undefined || c === '' ? '-' : String(c));

/** Visible width (code points; the CLI prints no escape sequences inside tables). */
const width = (s: string): number => [...s].length;

const pad = (s: string, w: number, align: 'left' | 'right') => {
  const fill = ' '.repeat(Math.max(0, w - width(s)));
  return align === 'right' ? fill + s : s + fill;
};

/** Columns separated by two spaces, headers in capitals, no trailing blanks. */
export function table(columns: (Column | string)[], rows: Cell[][]): string {
  const cols: Column[] = columns.map((c) => (typeof c === 'string' ? { title: c } : c));
  const cells = rows.map((r) => cols.map((_, i) => text(r[i])));
  const widths = cols.map((c, i) => Math.max(width(c.title), ...cells.map((r) => width(r[i] ?? ''))));
  const line = (values: string[]) =>
    values.map((v, i) => pad(v, i === values.length - 1 && cols[i]!.align !== 'right' ? 0 : widths[i]!, cols[i]!.align ?? 'left')).join('  ').trimEnd();
  return [line(cols.map((c) => c.title.toUpperCase())), ...cells.map(line)].join('\n');
}

/** `label  value` lines with the labels aligned. */
export function fields(pairs: [string, Cell][], indent = '  '): string {
  const w = Math.max(0, ...pairs.map(([k]) => width(k)));
  return pairs.map(([k, v]) => `${indent}${pad(k, w, 'left')}  ${text(v)}`).join('\n');
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** 1536 → "1.5 KiB", 734003200 → "700 MiB"; binary units, three significant digits at most. */
export function humanSize(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '-';
  let v = Math.abs(bytes);
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  const sign = bytes < 0 ? '-' : '';
  if (i === 0) return `${sign}${v} B`;
  const shown = v < 10 ? v.toFixed(1) : String(Math.round(v));
  return `${sign}${shown} ${UNITS[i]}`;
}

/** 850 → "850 ms", 3200 → "3.2 s", 125000 → "2 min 5 s", 7_380_000 → "2 h 3 min". */
export function humanDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 10_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)} s`;
  const total = Math.floor(ms / 1000);
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  if (m) return `${m} min ${s} s`;
  return `${s} s`;
}

const two = (n: number) => String(n).padStart(2, '0');

/** Local date and time, "2026-05-01 12:01:02". */
export function humanTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms <= 0) return '-';
  const d = new Date(ms);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${clockTime(ms)}`;
}

/** Local time of day, "12:01:02". */
export function clockTime(ms: number): string {
  const d = new Date(ms);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** Elapsed time as a stopwatch shows it: "0:07", "12:34", "1:02:03". */
export function stopwatch(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

export interface Progress {
  status: string;
  percent: number;
  done: number;
  total: number;
  elapsedMs: number;
}

/** "[███████░░░░░░░░░░░░░]  35%  7/20 tasks  0:12  RUNNING", fitted into `columns`. */
export function progressBar(p: Progress, columns = 80): string {
  const percent = Math.max(0, Math.min(100, Math.round(p.percent)));
  const tail = `  ${String(percent).padStart(3)}%  ${p.done}/${p.total} tasks  ${stopwatch(p.elapsedMs)}  ${p.status}`;
  const barWidth = Math.max(10, Math.min(40, columns - 1 - width(tail) - 2));
  const filled = Math.round((percent / 100) * barWidth);
  return `[${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}]${tail}`;
}

/** The plain line printed instead of the bar when stdout is not a terminal: "12:01:02 RUNNING 40% 2/5 tasks". */
export function progressLine(p: Progress, now: number): string {
  return `${clockTime(now)} ${p.status} ${Math.round(p.percent)}% ${p.done}/${p.total} tasks`;
}

/** A log entry as one line: "2026-05-01 12:01:02  INFO     Job … started …". */
export function logLine(e: { logTime?: number; type?: string; message?: string }): string {
  return `${humanTime(e.logTime)}  ${pad(String(e.type ?? ''), 7, 'left')}  ${e.message ?? ''}`;
}

/** The last path segment of an href: ".../api/identity/user/3" → "3". */
export function hrefId(href: unknown): string | undefined {
  if (typeof href !== 'string') return undefined;
  return /\/([^/?#]+)\/?(?:[?#].*)?$/.exec(href)?.[1];
}
