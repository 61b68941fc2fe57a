/**
 * A small line chart as a standalone SVG string: logarithmic x axis (corpus size), linear or logarithmic y axis
 * (milliseconds: a log axis keeps a 5 ms search and a 1 s rerank readable on one chart), one polyline per series,
 * optional horizontal reference lines (budgets). No dependencies, no scripts.
 */

/** One line of the chart. */
export interface ChartSeries {
  name: string;
  color: string;
  dashed?: boolean;
  points: { x: number; y: number }[];
}

/** A horizontal reference line, e.g. a latency budget. */
export interface ReferenceLine {
  label: string;
  y: number;
  color: string;
}

/** What to draw. */
export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  references?: ReferenceLine[];
  /** Default `linear`. */
  yScale?: 'linear' | 'log';
  width?: number;
  height?: number;
}

const MARGIN = { top: 40, right: 210, bottom: 50, left: 60 };

/** Round tick values covering [0, max]: steps of 1, 2 or 5 × 10^n, about five of them. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].map((factor) => factor * magnitude).find((candidate) => candidate >= raw) ?? 10 * magnitude) as number;
  const ticks: number[] = [];
  for (let value = 0; value <= max + step * 1e-9; value += step) ticks.push(Number(value.toPrecision(12)));
  if ((ticks[ticks.length - 1] as number) < max) ticks.push(Number(((ticks.length) * step).toPrecision(12)));
  return ticks;
}

/** 1-2-5 ticks from the largest such value ≤ `min` to the smallest ≥ `max` (both > 0), for a log axis. */
export function logTicks(min: number, max: number): number[] {
  const low = Math.max(min, 1e-3);
  const candidates: number[] = [];
  for (let exponent = Math.floor(Math.log10(low)) - 1; exponent <= Math.ceil(Math.log10(max)) + 1; exponent++) {
    for (const factor of [1, 2, 5]) candidates.push(Number((factor * 10 ** exponent).toPrecision(6)));
  }
  const lowest = [...candidates].reverse().find((value) => value <= low) as number;
  const highest = candidates.find((value) => value >= max) as number;
  return candidates.filter((value) => value >= lowest && value <= highest);
}

/** Escapes text for SVG content and attributes. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** "100000" → "100k". */
function formatCount(value: number): string {
  if (value >= 1_000_000) return `${value / 1_000_000}M`;
  if (value >= 1000) return `${Math.round(value / 100) / 10}k`;
  return String(value);
}

/** Renders the chart. Points with non-finite values are skipped. */
export function renderLineChart(chart: LineChart): string {
  const width = chart.width ?? 760;
  const height = chart.height ?? 420;
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = height - MARGIN.top - MARGIN.bottom;
  const points = chart.series.flatMap((series) => series.points).filter((point) => Number.isFinite(point.x) && Number.isFinite(point.y) && point.x > 0);
  const xs = [...new Set(points.map((point) => point.x))].sort((a, b) => a - b);
  const yValues = [...points.map((point) => point.y), ...(chart.references ?? []).map((line) => line.y)];
  const yMax = Math.max(1, ...yValues);
  const logY = chart.yScale === 'log';
  const yTicks = logY ? logTicks(Math.min(...yValues.filter((value) => value > 0), yMax), yMax) : niceTicks(yMax * 1.05);
  const yTop = yTicks[yTicks.length - 1] as number;
  const yBottom = logY ? (yTicks[0] as number) : 0;
  const logMin = Math.log10(xs[0] ?? 1);
  const logMax = Math.log10(xs[xs.length - 1] ?? 10);
  const xOf = (x: number) => MARGIN.left + (logMax === logMin ? plotWidth / 2 : ((Math.log10(x) - logMin) / (logMax - logMin)) * plotWidth);
  const yFraction = (y: number) =>
    logY ? (Math.log10(Math.max(y, yBottom)) - Math.log10(yBottom)) / (Math.log10(yTop) - Math.log10(yBottom) || 1) : y / yTop;
  const yOf = (y: number) => MARGIN.top + plotHeight - yFraction(y) * plotHeight;
  const fixed = (value: number) => value.toFixed(1);

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2 - MARGIN.right / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(chart.title)}</text>`,
  ];
  for (const tick of yTicks) {
    const y = fixed(yOf(tick));
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y}" y2="${y}" stroke="#e3e3e3"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${tick}</text>`);
  }
  for (const x of xs) {
    const px = fixed(xOf(x));
    parts.push(`<line x1="${px}" x2="${px}" y1="${MARGIN.top}" y2="${MARGIN.top + plotHeight}" stroke="#f0f0f0"/>`);
    parts.push(`<text x="${px}" y="${MARGIN.top + plotHeight + 18}" text-anchor="middle">${formatCount(x)}</text>`);
  }
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#888"/>`);
  parts.push(`<text x="${MARGIN.left + plotWidth / 2}" y="${height - 10}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escapeXml(chart.yLabel)}</text>`);

  for (const line of chart.references ?? []) {
    const y = fixed(yOf(line.y));
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y}" y2="${y}" stroke="${line.color}" stroke-dasharray="2 4" stroke-width="1.5"/>`);
  }
  const legend: { name: string; color: string; dash: string }[] = [];
  for (const series of chart.series) {
    const visible = series.points.filter((point) => Number.isFinite(point.y) && point.x > 0).sort((a, b) => a.x - b.x);
    const dash = series.dashed ? ' stroke-dasharray="6 4"' : '';
    legend.push({ name: series.name, color: series.color, dash });
    if (visible.length === 0) continue;
    const path = visible.map((point) => `${fixed(xOf(point.x))},${fixed(yOf(point.y))}`).join(' ');
    parts.push(`<polyline points="${path}" fill="none" stroke="${series.color}" stroke-width="2"${dash}/>`);
    for (const point of visible) {
      parts.push(`<g><title>${escapeXml(`${series.name}: ${point.y} ms at ${point.x}`)}</title><circle cx="${fixed(xOf(point.x))}" cy="${fixed(yOf(point.y))}" r="4" fill="${series.color}"/></g>`);
    }
  }
  const legendX = MARGIN.left + plotWidth + 14;
  let legendY = MARGIN.top + 6;
  for (const entry of legend) {
    parts.push(`<line x1="${legendX}" x2="${legendX + 24}" y1="${legendY}" y2="${legendY}" stroke="${entry.color}" stroke-width="2"${entry.dash}/>`);
    parts.push(`<text x="${legendX + 30}" y="${legendY}" dominant-baseline="middle">${escapeXml(entry.name)}</text>`);
    legendY += 20;
  }
  for (const line of chart.references ?? []) {
    parts.push(`<line x1="${legendX}" x2="${legendX + 24}" y1="${legendY}" y2="${legendY}" stroke="${line.color}" stroke-dasharray="2 4" stroke-width="1.5"/>`);
    parts.push(`<text x="${legendX + 30}" y="${legendY}" dominant-baseline="middle">${escapeXml(line.label)}</text>`);
    legendY += 20;
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
