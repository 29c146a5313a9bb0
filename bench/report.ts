// Formatting and collecting the figures: each section holds tables of figures (side by side) and checked figures
// (value, target, ✓/✗). Printed to the console as the run goes, and written at the end as one Markdown file that the
// README's Benchmarks section is copied from.
import fs from 'node:fs';

export function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–';
}

/** Milliseconds with three significant-ish digits: 0.412, 3.18, 27.4, 312. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  if (ms < 1) return ms.toFixed(3);
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return ms.toFixed(0);
}

export const fmtRatio = (r: number) => (Number.isFinite(r) ? `${r.toFixed(2)}×` : '–');
export const fmtSeconds = (s: number) => (Number.isFinite(s) ? `${s.toFixed(s < 10 ? 2 : 1)} s` : '–');
export const fmtMB = (bytes: number) => (Number.isFinite(bytes) ? `${Math.round(bytes / 2 ** 20)} MB` : '–');

/** Figures are right-aligned; the first column (labels) and the last (free text) are left-aligned. */
export function textTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((row) => [...(row[c] ?? '')].length)));
  const last = header.length - 1;
  const pad = (cell: string, width: number, left: boolean) => {
    const fill = ' '.repeat(Math.max(0, width - [...cell].length));
    return left ? cell + fill : fill + cell;
  };
  const line = (row: string[]) =>
    '  ' + row.map((cell, c) => pad(cell ?? '', widths[c]!, c === 0 || c === last)).join('  ').trimEnd();
  return [line(header), '  ' + widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function markdownTable(header: string[], rows: string[][]): string {
  const escape = (cell: string) => cell.replace(/\|/g, '\\|');
  const line = (cells: string[]) => `| ${cells.map(escape).join(' | ')} |`;
  // Columns of figures (digits, –, ≥/≤ targets) are right-aligned, text columns left-aligned.
  const numeric = header.map((_, c) => rows.length > 0 && rows.every((row) => !row[c] || /^[-\d.,–≥≤]/.test(row[c]!)) && rows.some((row) => row[c]));
  const rule = `|${numeric.map((n) => (n ? ' ---: ' : ' --- ')).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

export interface Check {
  label: string;
  /** The figure as printed (with its spread when there is one). */
  value: string;
  /** e.g. "≥ 0.60×"; empty when the issue sets none. */
  target: string;
  /** undefined: no target. */
  ok?: boolean;
  note?: string;
}

/** A checked figure: value against `op limit`. */
export function check(label: string, value: number, shown: string, op: '≥' | '≤', limit: number, fmt: (n: number) => string, note?: string): Check {
  const ok = Number.isFinite(value) && (op === '≥' ? value >= limit : value <= limit);
  return { label, value: shown, target: `${op} ${fmt(limit)}`, ok, note };
}

export function info(label: string, shown: string, note?: string): Check {
  return { label, value: shown, target: '', note };
}

const mark = (ok: boolean | undefined) => (ok === undefined ? '' : ok ? '✓' : '✗');

export interface Section {
  title: string;
  paragraphs: string[];
  tables: Array<{ header: string[]; rows: string[][] }>;
  checks: Check[];
}

export class Report {
  private readonly sections: Section[] = [];

  section(title: string, ...paragraphs: string[]): Section {
    const section: Section = { title, paragraphs, tables: [], checks: [] };
    this.sections.push(section);
    return section;
  }

  /** Prints one section to the console. */
  print(section: Section): void {
    console.log(`\n== ${section.title}`);
    for (const paragraph of section.paragraphs) console.log(paragraph);
    for (const table of section.tables) console.log(textTable(table.header, table.rows));
    if (section.checks.length > 0) {
      console.log(
        textTable(
          ['figure', 'value', 'target', '', 'note'],
          section.checks.map((c) => [c.label, c.value, c.target, mark(c.ok), c.note ?? '']),
        ),
      );
    }
  }

  /** Every checked figure of the run, for the summary. */
  summary(): string {
    const rows = this.sections.flatMap((s) => s.checks.filter((c) => c.ok !== undefined).map((c) => [`${s.title}: ${c.label}`, c.value, c.target, mark(c.ok)]));
    const failed = rows.filter((r) => r[3] === '✗').length;
    return `${textTable(['figure', 'value', 'target', ''], rows)}\n  ${rows.length - failed} of ${rows.length} targets met.`;
  }

  markdown(heading: string, preamble: string[]): string {
    const out: string[] = [heading, '', ...preamble.flatMap((p) => [p, ''])];
    const all = this.sections.flatMap((s) => s.checks.filter((c) => c.ok !== undefined).map((c) => [s.title, c.label, c.value, c.target, mark(c.ok)]));
    if (all.length > 0) {
      out.push('Targets of the performance issue:', '', markdownTable(['Area', 'Figure', 'Measured', 'Target', ''], all), '');
    }
    for (const section of this.sections) {
      out.push(`### ${section.title}`, '');
      for (const paragraph of section.paragraphs) out.push(paragraph, '');
      for (const table of section.tables) out.push(markdownTable(table.header, table.rows), '');
      if (section.checks.length > 0) {
        out.push(markdownTable(['Figure', 'Measured', 'Target', '', 'Note'], section.checks.map((c) => [c.label, c.value, c.target || '–', mark(c.ok), c.note ?? ''])), '');
      }
    }
    return out.join('\n');
  }

  write(file: string, heading: string, preamble: string[]): void {
    fs.writeFileSync(file, this.markdown(heading, preamble));
  }
}

const README_BEGIN = '<!-- bench:begin (written by npm run bench from bench/results.md; edit there, not here) -->';
const README_END = '<!-- bench:end -->';

/**
 * Copies the head of a results file (how it was measured, and every figure against its target) into the README,
 * between its bench markers; the per-section detail stays in the results file, which the README links to.
 */
export function copyToReadme(resultsFile: string, readmeFile: string): boolean {
  const results = fs.readFileSync(resultsFile, 'utf8');
  const head = results.split(/^### /m)[0]!.replace(/^## .*\n+/, '').trim();
  const readme = fs.readFileSync(readmeFile, 'utf8');
  const begin = readme.indexOf(README_BEGIN);
  const end = readme.indexOf(README_END);
  if (begin === -1 || end < begin) return false;
  fs.writeFileSync(readmeFile, `${readme.slice(0, begin + README_BEGIN.length)}\n\n${head}\n\n${readme.slice(end)}`);
  return true;
}
