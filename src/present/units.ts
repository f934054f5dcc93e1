// How numbers read on screen: IEC byte units (as vnstat), rates in bytes or bits per second.

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
const BIT_UNITS = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s', 'Tbit/s'];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${BYTE_UNITS[unit]}`;
}

export function formatRate(bytesPerSecond: number, unit: 'bytes' | 'bits' = 'bytes'): string {
  if (unit === 'bytes') return `${formatBytes(bytesPerSecond)}/s`;
  let value = bytesPerSecond * 8;
  let i = 0;
  while (value >= 1000 && i < BIT_UNITS.length - 1) {
    value /= 1000;
    i++;
  }
  return `${value.toFixed(i === 0 || value >= 100 ? 0 : 1)} ${BIT_UNITS[i]}`;
}
