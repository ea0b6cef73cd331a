// The three CT-RATE tables of one split, read strictly: every problem is a diagnostic naming the
// file and the 1-based line of the row (line 1 is the header).
//   labels:   multi_abnormality_labels/<split>_predicted_labels.csv  VolumeName + one 0/1 column per label
//   reports:  radiology_text_reports/<split'>_reports.csv            VolumeName, Findings_EN, Impressions_EN (+ others)
//   metadata: metadata/<split'>_metadata.csv                         VolumeName, RescaleSlope, RescaleIntercept,
//                                                                     XYSpacing ("[0.75, 0.75]"), ZSpacing (+ others)
// Reports and metadata may carry more columns (the real files do); labels may carry only known labels,
// so a misspelt pathology column is caught rather than silently dropped.
import { parse } from 'csv-parse/sync';
import { DiagnosticError } from '../../base/diagnostics/types.js';
import { diag, type DiagnosticCode } from '../../base/diagnostics/catalog.js';
import { fileErrorText, readRegularFile } from '../../base/files.js';

export interface Row { line: number; cells: Map<string, string> }
export interface Table { file: string; columns: string[]; rows: Row[] }

function fail(code: DiagnosticCode, message: string, file: string, line?: number, help?: string): never {
  const span = line === undefined ? { file, start: 0, end: 0 } : { file, start: 0, end: 0, line };
  throw new DiagnosticError(diag(code, message, span, help ? { help } : {}));
}

/** Parses a CSV with a header row; `shownAs` names the file in diagnostics. */
export function readCsvTable(path: string, shownAs: string): Table {
  let text: string;
  try {
    text = readRegularFile(path, 'utf8');
  } catch (e) {
    fail('E5001', `cannot read ${shownAs}: it ${fileErrorText(e)}`, shownAs);
  }
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { info: true, bom: true, skip_empty_lines: true, relax_quotes: false }) as unknown as typeof records;
  } catch (e) {
    const err = e as Error & { lines?: number };
    fail('E5010', `${shownAs} is not valid CSV: ${err.message}`, shownAs, err.lines);
  }
  if (records.length === 0) fail('E5010', `${shownAs} is empty (no header row)`, shownAs, 1);
  const columns = records[0]!.record.map((c) => c.trim());
  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c)) fail('E5012', `${shownAs} has the column \`${c}\` twice`, shownAs, records[0]!.info.lines);
    seen.add(c);
  }
  const rows: Row[] = [];
  let prevEnd = records[0]!.info.lines;
  for (const { record, info } of records.slice(1)) {
    const cells = new Map<string, string>();
    columns.forEach((c, i) => cells.set(c, record[i] ?? ''));
    rows.push({ line: prevEnd + 1, cells });
    prevEnd = info.lines;
  }
  return { file: shownAs, columns, rows };
}

function requireColumns(t: Table, required: readonly string[]): void {
  for (const c of required) {
    if (!t.columns.includes(c)) {
      fail('E5011', `${t.file} has no \`${c}\` column`, t.file, 1, `its columns are: ${t.columns.join(', ') || '(none)'}`);
    }
  }
}

/** Rows keyed by VolumeName, refusing empty names and duplicates. */
function byVolume(t: Table): Map<string, Row> {
  const out = new Map<string, Row>();
  for (const row of t.rows) {
    const name = row.cells.get('VolumeName')!.trim();
    if (!name) fail('E5013', `${t.file}:${row.line}: empty VolumeName`, t.file, row.line);
    const prev = out.get(name);
    if (prev) fail('E5014', `${t.file}:${row.line}: VolumeName \`${name}\` already appeared on line ${prev.line}`, t.file, row.line);
    out.set(name, row);
  }
  if (out.size === 0) fail('E5010', `${t.file} has a header but no rows`, t.file, 1);
  return out;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagPrev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, diagPrev + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagPrev = tmp;
    }
  }
  return d[b.length]!;
}

export function closest(word: string, options: readonly string[]): string | null {
  let best: string | null = null, bestD = Infinity;
  for (const o of options) {
    const dist = editDistance(word.toLowerCase(), o.toLowerCase());
    if (dist < bestD) { bestD = dist; best = o; }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(word.length / 4)) ? best : null;
}

export interface LabelsRow { line: number; labels: Uint8Array }
export interface LabelsTable { file: string; rows: Map<string, LabelsRow> }

/** Labels in `pathologies` order. Every pathology must be a column; other columns must be known labels. */
export function readLabels(path: string, shownAs: string, pathologies: readonly string[], knownLabels: readonly string[]): LabelsTable {
  const t = readCsvTable(path, shownAs);
  requireColumns(t, ['VolumeName']);
  const allowed = new Set([...knownLabels, ...pathologies]);
  for (const c of t.columns) {
    if (c !== 'VolumeName' && !allowed.has(c)) {
      const near = closest(c, [...allowed]);
      fail('E5012', `${t.file}: unexpected column \`${c}\``, t.file, 1,
        near ? `did you mean \`${near}\`?` : `label columns must be among: ${[...allowed].join(', ')}`);
    }
  }
  for (const p of pathologies) {
    if (!t.columns.includes(p)) {
      const near = closest(p, t.columns);
      fail('E5011', `${t.file} has no column for the pathology \`${p}\``, t.file, 1,
        near ? `the file has \`${near}\`; pathology names must match the column exactly` : undefined);
    }
  }
  const rows = new Map<string, LabelsRow>();
  for (const [name, row] of byVolume(t)) {
    const labels = new Uint8Array(pathologies.length);
    pathologies.forEach((p, i) => {
      const raw = row.cells.get(p)!.trim();
      const v = Number(raw);
      if (raw === '' || !(v === 0 || v === 1)) {
        fail('E5013', `${t.file}:${row.line}: \`${p}\` of ${name} is \`${raw}\`; labels must be 0 or 1`, t.file, row.line);
      }
      labels[i] = v;
    });
    rows.set(name, { line: row.line, labels });
  }
  return { file: t.file, rows };
}

export interface ReportRow { line: number; findings: string; impressions: string }
export interface ReportsTable { file: string; rows: Map<string, ReportRow> }

export function readReports(path: string, shownAs: string): ReportsTable {
  const t = readCsvTable(path, shownAs);
  requireColumns(t, ['VolumeName', 'Findings_EN', 'Impressions_EN']);
  const rows = new Map<string, ReportRow>();
  for (const [name, row] of byVolume(t)) {
    rows.set(name, { line: row.line, findings: row.cells.get('Findings_EN')!, impressions: row.cells.get('Impressions_EN')! });
  }
  return { file: t.file, rows };
}

/** CT-CLIP's report text: Findings then Impressions, "Not given." dropped, concatenated as-is,
 *  then `"`, `'`, `(` and `)` removed (CTReportDatasetinfer.__getitem__). */
export function reportText(r: { findings: string; impressions: string }): string {
  const part = (s: string) => (s.trim() === 'Not given.' ? '' : s);
  return (part(r.findings) + part(r.impressions)).replace(/["'()]/g, '');
}

export interface MetadataRow { line: number; slope: number; intercept: number; xySpacing: [number, number]; zSpacing: number }
export interface MetadataTable { file: string; rows: Map<string, MetadataRow> }

export function readMetadata(path: string, shownAs: string): MetadataTable {
  const t = readCsvTable(path, shownAs);
  requireColumns(t, ['VolumeName', 'RescaleSlope', 'RescaleIntercept', 'XYSpacing', 'ZSpacing']);
  const rows = new Map<string, MetadataRow>();
  for (const [name, row] of byVolume(t)) {
    const num = (col: string, positive: boolean): number => {
      const raw = row.cells.get(col)!.trim();
      const v = raw === '' ? NaN : Number(raw);
      if (!Number.isFinite(v) || (positive && v <= 0) || (col === 'RescaleSlope' && v === 0)) {
        const expected = positive ? 'a positive number' : col === 'RescaleSlope' ? 'a finite non-zero number' : 'a finite number';
        fail('E5013', `${t.file}:${row.line}: ${col} of ${name} is \`${raw}\`; expected ${expected}`, t.file, row.line);
      }
      return v;
    };
    const rawXY = row.cells.get('XYSpacing')!.trim();
    const m = /^\[?\s*([^,\]\s]+)\s*(?:,\s*([^,\]\s]+)\s*)?\]?$/.exec(rawXY);
    const xy = m ? [Number(m[1]), Number(m[2] ?? m[1])] : [NaN, NaN];
    if (!xy.every((v) => Number.isFinite(v) && v > 0)) {
      fail('E5013', `${t.file}:${row.line}: XYSpacing of ${name} is \`${rawXY}\`; expected two positive numbers like "[0.75, 0.75]"`, t.file, row.line);
    }
    rows.set(name, {
      line: row.line,
      slope: num('RescaleSlope', false),
      intercept: num('RescaleIntercept', false),
      xySpacing: xy as [number, number],
      zSpacing: num('ZSpacing', true),
    });
  }
  return { file: t.file, rows };
}
