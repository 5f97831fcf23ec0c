/**
 * Plain formatting shared by every layer (the cli and the sync reporter).
 * @module
 */

/** A byte count as `512 B`, `1.5 KiB`, `3.2 MiB`, `1.25 GiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
