/** The soak's arithmetic: percentiles, a least-squares line and the "keeps growing" verdict. */

export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

export interface Fit {
  n: number;
  /** Units of y per unit of x. */
  slope: number;
  intercept: number;
  /** Standard error of the slope (NaN with fewer than 3 points or no spread in x). */
  se: number;
  /** slope / se: how many standard errors the slope is away from flat. */
  t: number;
}

/** Ordinary least squares y = intercept + slope * x. */
export function fitLine(xs: number[], ys: number[]): Fit {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i]! - mx) ** 2;
    sxy += (xs[i]! - mx) * (ys[i]! - my);
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  const intercept = my - slope * mx;
  let sse = 0;
  for (let i = 0; i < n; i++) sse += (ys[i]! - intercept - slope * xs[i]!) ** 2;
  const se = n > 2 && sxx > 0 ? Math.sqrt(sse / (n - 2) / sxx) : NaN;
  // A perfectly straight series has se 0: any slope then is as certain as it gets.
  const t = se > 0 ? slope / se : slope === 0 ? 0 : Math.sign(slope) * Infinity;
  return { n, slope, intercept, se, t };
}

/**
 * A series "keeps growing" when its fitted slope is both large (over `maxPerHour`, extrapolated
 * to an hour) and clearly not noise (at least `minT` standard errors above flat). Both are needed:
 * RSS is so smooth that a slope of a few kB an hour is "significant", and a p99 series is so
 * noisy that one bad window can tilt the line far without meaning anything.
 */
export function growing(fit: Fit, perHour: number, maxPerHour: number, minT: number): boolean {
  return perHour > maxPerHour && fit.t > minT;
}
