import { describe, expect, it } from 'vitest';
import { escapeXml, logTicks, niceTicks, renderLineChart } from './lib/svg-chart.js';

describe('niceTicks', () => {
  it('uses 1/2/5 steps from zero past the maximum', () => {
    expect(niceTicks(23)).toEqual([0, 5, 10, 15, 20, 25]);
    expect(niceTicks(100)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(0.7)).toEqual([0, 0.2, 0.4, 0.6, 0.8]);
  });
});

describe('renderLineChart', () => {
  it('draws one polyline per non-empty series, a legend entry per series and escapes text', () => {
    const svg = renderLineChart({
      title: 'p50 & p95 <ms>',
      xLabel: 'chunks',
      yLabel: 'ms',
      series: [
        { name: 'hybrid p50', color: '#111', points: [{ x: 1000, y: 5 }, { x: 100_000, y: 12 }] },
        { name: 'empty', color: '#222', dashed: true, points: [] },
      ],
      references: [{ label: 'target 20 ms', y: 20, color: '#333' }],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(1);
    expect(svg).toContain('p50 &amp; p95 &lt;ms&gt;');
    expect(svg).toContain('>100k<');
    expect(svg).toContain('>empty<');
    expect(svg).toContain('>target 20 ms<');
    expect(escapeXml('"a"')).toBe('&quot;a&quot;');
  });
});

describe('logTicks', () => {
  it('spans the data with 1-2-5 steps', () => {
    expect(logTicks(3.4, 2150)).toEqual([2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]);
    expect(logTicks(10, 100)).toEqual([10, 20, 50, 100]);
  });

  it('puts log-scaled points at proportional heights', () => {
    const svg = renderLineChart({ title: 't', xLabel: 'x', yLabel: 'y', yScale: 'log', series: [{ name: 's', color: '#000', points: [{ x: 10, y: 10 }, { x: 100, y: 100 }] }] });
    expect(svg).toContain('>10<');
    expect(svg).toContain('>100<');
  });
});
