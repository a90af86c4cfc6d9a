// `--report FILE`: writes the build report for a build's events, as JSON when FILE ends in `.json`, otherwise as a
// self-contained HTML page. Written to a temporary name and renamed, so a reader never sees half a report.
import { rename, writeFile, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { BuildEvent } from '../../builder/index.js';
import { buildReport, type ReportBuildInfo } from './model.js';
import { renderReportHtml } from './html.js';

export type { BuildReport, ReportBuildInfo, ReportStep, ReportStage, ReportTransfer } from './model.js';
export { buildReport } from './model.js';
export { renderReportHtml } from './html.js';
export { reportBuildInfo } from './info.js';

export function reportFormat(file: string): 'json' | 'html' {
  return file.toLowerCase().endsWith('.json') ? 'json' : 'html';
}

export async function writeReport(events: BuildEvent[], file: string, info?: ReportBuildInfo): Promise<void> {
  const report = buildReport(events, info);
  const text = reportFormat(file) === 'json' ? JSON.stringify(report, null, 2) + '\n' : renderReportHtml(report);
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, text);
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
