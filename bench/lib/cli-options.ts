/** Bounds of a whole-number flag; both inclusive. */
export interface IntegerBounds {
  min?: number;
  max?: number;
}

function rangeText(min: number, max: number): string {
  return max === Number.MAX_SAFE_INTEGER ? `a whole number ≥ ${min}` : `a whole number from ${min} to ${max}`;
}

/** Parses `--name` as one whole number within the bounds (default ≥ 1); `fallback` when absent. Throws naming the flag. */
export function integerOption(raw: string | undefined, name: string, fallback: number, bounds: IntegerBounds = {}): number {
  return integerListOption(raw, name, [fallback], bounds, 'one')[0] as number;
}

/** Parses `--name` as comma-separated whole numbers within the bounds (default ≥ 1); `fallback` when absent. */
export function integerListOption(raw: string | undefined, name: string, fallback: number[], bounds: IntegerBounds = {}, count: 'one' | 'many' = 'many'): number[] {
  if (raw === undefined) return fallback;
  const min = bounds.min ?? 1;
  const max = bounds.max ?? Number.MAX_SAFE_INTEGER;
  const parts = raw.split(',').map((part) => part.trim());
  const numbers = parts.map((part) => (/^-?\d+$/.test(part) ? Number(part) : Number.NaN));
  const valid = numbers.every((value) => Number.isSafeInteger(value) && value >= min && value <= max);
  if (!valid || (count === 'one' && numbers.length !== 1)) {
    const expected = count === 'one' ? rangeText(min, max) : `${rangeText(min, max).replace('a whole number', 'whole numbers')} separated by commas`;
    throw new Error(`--${name} takes ${expected}, got '${raw}'`);
  }
  return numbers;
}
