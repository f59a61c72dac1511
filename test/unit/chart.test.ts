import { writeFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodePng, renderLatencyChart, SERIES_COLOURS, type ChartPanel } from '../../bench/lib/chart.ts';
import { seededRandom } from '../helpers/seeded-random.ts';

interface Chunk {
  type: string;
  data: Buffer;
  crc: number;
  /** Type and data, the bytes the CRC covers. */
  covered: Buffer;
}

interface Decoded {
  width: number;
  height: number;
  ihdr: Buffer;
  chunks: Chunk[];
  raw: Buffer;
  pixel(x: number, y: number): [number, number, number];
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Bit-by-bit CRC-32, independent of the table the encoder uses. */
function referenceCrc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return (c ^ 0xffffffff) >>> 0;
}

function decode(png: Buffer): Decoded {
  expect([...png.subarray(0, 8)]).toEqual(SIGNATURE);
  const chunks: Chunk[] = [];
  let at = 8;
  while (at < png.length) {
    const length = png.readUInt32BE(at);
    const covered = png.subarray(at + 4, at + 8 + length);
    chunks.push({
      type: covered.subarray(0, 4).toString('latin1'),
      data: covered.subarray(4),
      crc: png.readUInt32BE(at + 8 + length),
      covered,
    });
    at += 12 + length;
  }
  expect(at).toBe(png.length);
  const ihdr = chunks[0]!.data;
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  const raw = inflateSync(Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data)));
  const stride = 1 + width * 3;
  return {
    width,
    height,
    ihdr,
    chunks,
    raw,
    pixel(x, y) {
      const i = y * stride + 1 + x * 3;
      return [raw[i]!, raw[i + 1]!, raw[i + 2]!];
    },
  };
}

/** Deterministic log-normal-ish latencies around medianMs. */
function latencies(n: number, medianMs: number, seed: number): number[] {
  const rand = seededRandom(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const u = Math.max(1e-12, rand());
    const v = rand();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    out.push(medianMs * Math.exp(0.6 * z + (rand() < 0.01 ? 2.5 : 0)));
  }
  return out;
}

function count(png: Decoded, x0: number, x1: number, y0: number, y1: number, match: (p: [number, number, number]) => boolean) {
  let n = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (match(png.pixel(x, y))) n++;
  return n;
}

const same = (a: readonly number[]) => (p: [number, number, number]) => p[0] === a[0] && p[1] === a[1] && p[2] === a[2];

describe('encodePng', () => {
  it('writes signature, IHDR (8-bit RGB), filtered scanlines in IDAT and IEND, every CRC valid', () => {
    const width = 3;
    const height = 2;
    const rgb = new Uint8Array(width * height * 3).map((_, i) => (i * 37) & 0xff);
    const png = decode(encodePng(width, height, rgb));
    expect(png.chunks.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect([png.width, png.height]).toEqual([3, 2]);
    expect([...png.ihdr.subarray(8)]).toEqual([8, 2, 0, 0, 0]);
    for (const c of png.chunks) expect(c.crc).toBe(referenceCrc32(c.covered));
    expect(png.raw).toHaveLength(height * (1 + width * 3));
    expect(png.raw[0]).toBe(0);
    expect(png.raw[1 + width * 3]).toBe(0);
    expect([...png.raw.subarray(1, 1 + width * 3)]).toEqual([...rgb.subarray(0, width * 3)]);
  });

  it('refuses a buffer of the wrong size', () => {
    expect(() => encodePng(2, 2, new Uint8Array(11))).toThrow(RangeError);
  });
});

describe('renderLatencyChart', () => {
  const panels: ChartPanel[] = [
    {
      title: 'Refresh jobs: enqueue -> done (p50/p99, ms)',
      series: [
        { label: 'pg-boss worker, 8 concurrent', samplesMs: latencies(5000, 12, 1) },
        { label: 'in-process queue_(baseline)', samplesMs: latencies(5000, 3, 2) },
        { label: 'empty series', samplesMs: [] },
      ],
    },
    {
      title: 'tRPC connections.list: 1000 rows, x=4 clients, <= 100% CPU',
      series: [
        { label: 'keyset cursor', samplesMs: latencies(2000, 0.8, 3) },
        { label: 'offset + limit', samplesMs: latencies(2000, 4, 4) },
        { label: 'constant 7 ms', samplesMs: Array(50).fill(7) },
        { label: 'with zero and negative samples', samplesMs: [0, -1, 0.5, 1, 2, 3, 40] },
      ],
    },
    { title: 'all equal only', series: [{ label: 'A', samplesMs: [2.5, 2.5, 2.5] }] },
  ];

  it('renders a valid PNG of width x (panels x panel height), and writes a sample to /tmp', () => {
    const buf = renderLatencyChart(panels);
    writeFileSync('/tmp/chart-sample.png', buf);
    const png = decode(buf);
    expect([png.width, png.height]).toEqual([1000, 3 * 360]);
    expect(png.chunks.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect([...png.ihdr.subarray(8)]).toEqual([8, 2, 0, 0, 0]);
    for (const c of png.chunks) expect(c.crc).toBe(referenceCrc32(c.covered));
    expect(png.raw).toHaveLength(png.height * (1 + png.width * 3));
    for (let y = 0; y < png.height; y++) expect(png.raw[y * (1 + png.width * 3)]).toBe(0);
    expect(png.pixel(0, 0)).toEqual([255, 255, 255]);
  });

  it('honours width and panelHeight', () => {
    const png = decode(renderLatencyChart(panels.slice(0, 2), { width: 720, panelHeight: 300 }));
    expect([png.width, png.height]).toEqual([720, 600]);
  });

  it('draws each series in its own colour, and legend text', () => {
    const png = decode(renderLatencyChart([panels[0]!]));
    // The plot is the left ~70%; the legend the right ~27%.
    const plotRight = Math.floor(png.width * 0.68);
    const legendLeft = Math.floor(png.width * 0.72);
    const [first, second, third] = SERIES_COLOURS;
    expect(count(png, 0, plotRight, 0, png.height, same(first!))).toBeGreaterThan(200);
    expect(count(png, 0, plotRight, 0, png.height, same(second!))).toBeGreaterThan(200);
    // The empty series is only in the legend (its swatch), never plotted.
    expect(count(png, 0, plotRight, 0, png.height, same(third!))).toBe(0);
    expect(count(png, legendLeft, png.width, 0, png.height, same(third!))).toBeGreaterThan(0);
    const colours = SERIES_COLOURS.map((c) => same(c));
    const text = count(png, legendLeft, png.width, 0, png.height, (p) => !same([255, 255, 255])(p) && !colours.some((m) => m(p)));
    // Three entries of two lines, a few hundred pixels each.
    expect(text).toBeGreaterThan(600);
  });

  it('copes with empty, all-equal, non-positive and non-finite samples, and with no panels', () => {
    expect(() => renderLatencyChart([{ title: 'empty', series: [{ label: 'none', samplesMs: [] }] }])).not.toThrow();
    expect(() => renderLatencyChart([{ title: 'no series', series: [] }])).not.toThrow();
    expect(() => renderLatencyChart([{ title: 'same', series: [{ label: 's', samplesMs: [4, 4, 4, 4] }] }])).not.toThrow();
    expect(() => renderLatencyChart([{ title: 'one', series: [{ label: 's', samplesMs: [4] }] }])).not.toThrow();
    expect(() => renderLatencyChart([{ title: 'zeros', series: [{ label: 's', samplesMs: [0, 0, -3] }] }])).not.toThrow();
    expect(() => renderLatencyChart([{ title: 'nan', series: [{ label: 's', samplesMs: [NaN, Infinity, 1] }] }])).not.toThrow();
    expect(decode(renderLatencyChart([])).height).toBe(360);
  });

  it('draws all-equal samples as a vertical step', () => {
    const png = decode(renderLatencyChart([{ title: 'same', series: [{ label: 's', samplesMs: [4, 4, 4, 4] }] }]));
    const blue = same(SERIES_COLOURS[0]!);
    const plotRight = Math.floor(png.width * 0.68);
    const columns = new Map<number, number>();
    for (let y = 0; y < png.height; y++) {
      for (let x = 0; x < plotRight; x++) if (blue(png.pixel(x, y))) columns.set(x, (columns.get(x) ?? 0) + 1);
    }
    // A 2 px wide line over (nearly) the whole plot height.
    expect(columns.size).toBe(2);
    for (const n of columns.values()) expect(n).toBeGreaterThan(200);
  });

  it('leaves the caller arrays in their order', () => {
    const samples = [5, 1, 4, 2, 3, 0, -1, 100];
    const before = [...samples];
    renderLatencyChart([{ title: 't', series: [{ label: 's', samplesMs: samples }] }]);
    expect(samples).toEqual(before);
  });

  it('renders a 200,000-sample series quickly', () => {
    const big = latencies(200_000, 10, 5);
    const before = big.slice(0, 10);
    const started = performance.now();
    const png = decode(renderLatencyChart([{ title: 'big', series: [{ label: '200k', samplesMs: big }] }]));
    const elapsed = performance.now() - started;
    expect(png.width).toBe(1000);
    expect(big.slice(0, 10)).toEqual(before);
    expect(elapsed).toBeLessThan(3000);
  });
});
